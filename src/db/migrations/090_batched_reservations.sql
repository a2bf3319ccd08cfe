-- 090_batched_reservations: reserve-and-insert for many pending uploads in one statement (one round trip, one
-- commit). Each row runs the same conditional reservation as the single-row statement in db/files.ts, in turn, so
-- rows of one workspace see each other's reservations and no limit can be overshot. Rows are taken in workspace
-- order so that concurrent batches lock workspace rows in the same order (no deadlock between batches).
-- Returns the inserted files; a row whose reservation did not fit is simply absent (nothing changed for it).
CREATE FUNCTION stowage_insert_reserved_files(batch jsonb) RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  inserted files;
BEGIN
  FOR r IN
    SELECT * FROM jsonb_to_recordset(batch) AS x(
      ord integer, id uuid, workspace_id text, object_key text, filename text, content_type text, size bigint,
      checksum_sha256 text, metadata jsonb, uploader text, upload_method text, multipart_upload_id text,
      part_size bigint, part_count integer, fingerprint text, created_at timestamptz, expires_at timestamptz)
    ORDER BY workspace_id, ord
  LOOP
    UPDATE workspaces SET
      reserved_bytes = reserved_bytes + r.size,
      pending_count = pending_count + 1,
      updated_at = now()
    WHERE id = r.workspace_id
      AND used_bytes + reserved_bytes + r.size <= quota_bytes
      AND file_count + pending_count + 1 <= max_files
      AND pending_count + 1 <= max_pending;
    IF FOUND THEN
      INSERT INTO files (id, workspace_id, object_key, status, filename, content_type, size, checksum_sha256, metadata,
        uploader, upload_method, multipart_upload_id, part_size, part_count, fingerprint, created_at, expires_at)
      VALUES (r.id, r.workspace_id, r.object_key, 'pending', r.filename, r.content_type, r.size, r.checksum_sha256,
        r.metadata, r.uploader, r.upload_method, r.multipart_upload_id, r.part_size, r.part_count, r.fingerprint,
        r.created_at, r.expires_at)
      RETURNING * INTO inserted;
      RETURN NEXT inserted;
    END IF;
  END LOOP;
END
$$;
