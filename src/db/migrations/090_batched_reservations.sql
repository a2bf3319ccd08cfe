-- 090_batched_reservations: reserve-and-insert for many pending uploads in one statement (one round trip, one
-- commit). Per workspace of the batch: lock its row once, admit the batch's rows in order by the same rule as the
-- single-row statement in db/files.ts (each row must fit on top of the rows admitted before it), add the admitted
-- rows' totals in one UPDATE, then insert the admitted rows together. Workspaces are locked in id order, so
-- concurrent batches cannot deadlock on each other. Returns the inserted files; a row whose reservation did not fit
-- is simply absent (nothing changed for it).
CREATE OR REPLACE FUNCTION stowage_insert_reserved_files(batch jsonb) RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
  ws text;
  w workspaces;
  r record;
  add_bytes bigint;
  add_files integer;
  admitted integer[] := '{}';
BEGIN
  FOR ws IN SELECT DISTINCT x.workspace_id FROM jsonb_to_recordset(batch) AS x(workspace_id text) ORDER BY 1 LOOP
    SELECT * INTO w FROM workspaces WHERE id = ws FOR UPDATE;
    CONTINUE WHEN NOT FOUND;
    add_bytes := 0;
    add_files := 0;
    FOR r IN
      SELECT x.ord, x.size FROM jsonb_to_recordset(batch) AS x(ord integer, workspace_id text, size bigint)
      WHERE x.workspace_id = ws ORDER BY x.ord
    LOOP
      IF w.used_bytes + w.reserved_bytes + add_bytes + r.size <= w.quota_bytes
         AND w.file_count + w.pending_count + add_files + 1 <= w.max_files
         AND w.pending_count + add_files + 1 <= w.max_pending THEN
        add_bytes := add_bytes + r.size;
        add_files := add_files + 1;
        admitted := admitted || r.ord;
      END IF;
    END LOOP;
    IF add_files > 0 THEN
      UPDATE workspaces SET
        reserved_bytes = reserved_bytes + add_bytes,
        pending_count = pending_count + add_files,
        updated_at = now()
      WHERE id = ws;
    END IF;
  END LOOP;
  RETURN QUERY
    INSERT INTO files (id, workspace_id, object_key, status, filename, content_type, size, checksum_sha256, metadata,
      uploader, upload_method, multipart_upload_id, part_size, part_count, fingerprint, created_at, expires_at)
    SELECT x.id, x.workspace_id, x.object_key, 'pending', x.filename, x.content_type, x.size, x.checksum_sha256,
      x.metadata, x.uploader, x.upload_method, x.multipart_upload_id, x.part_size, x.part_count, x.fingerprint,
      x.created_at, x.expires_at
    FROM jsonb_to_recordset(batch) AS x(
      ord integer, id uuid, workspace_id text, object_key text, filename text, content_type text, size bigint,
      checksum_sha256 text, metadata jsonb, uploader text, upload_method text, multipart_upload_id text,
      part_size bigint, part_count integer, fingerprint text, created_at timestamptz, expires_at timestamptz)
    WHERE x.ord = ANY(admitted)
    ORDER BY x.ord
    RETURNING *;
END
$$;
