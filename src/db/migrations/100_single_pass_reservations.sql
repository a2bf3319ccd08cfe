-- 100_single_pass_reservations: the same reserve-and-insert as 090 (same admission rule, same lock order, same
-- answer), with the batch parsed twice instead of once per workspace plus twice. 090 read the whole JSON batch again
-- for every workspace in it, so a batch of n rows over n workspaces parsed n² rows; under load (64 concurrent
-- creates over 64 workspaces) that was the largest part of Postgres's CPU per request. Here one pass over the rows,
-- ordered by (workspace, arrival), locks each workspace when its first row comes up (workspace id order, so concurrent
-- batches still cannot deadlock), admits rows in order on top of those admitted before them, and writes the
-- workspace's totals when its last row has been seen.
CREATE OR REPLACE FUNCTION stowage_insert_reserved_files(batch jsonb) RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
  ws text := NULL;
  ws_found boolean := false;
  w workspaces;
  r record;
  add_bytes bigint := 0;
  add_files integer := 0;
  admitted integer[] := '{}';
BEGIN
  FOR r IN
    SELECT x.ord, x.workspace_id, x.size FROM jsonb_to_recordset(batch) AS x(ord integer, workspace_id text, size bigint)
    ORDER BY x.workspace_id, x.ord
  LOOP
    IF ws IS DISTINCT FROM r.workspace_id THEN
      IF add_files > 0 THEN
        UPDATE workspaces SET reserved_bytes = reserved_bytes + add_bytes, pending_count = pending_count + add_files,
          updated_at = now()
        WHERE id = ws;
      END IF;
      ws := r.workspace_id;
      add_bytes := 0;
      add_files := 0;
      SELECT * INTO w FROM workspaces WHERE id = ws FOR UPDATE;
      ws_found := FOUND;
    END IF;
    CONTINUE WHEN NOT ws_found;
    IF w.used_bytes + w.reserved_bytes + add_bytes + r.size <= w.quota_bytes
       AND w.file_count + w.pending_count + add_files + 1 <= w.max_files
       AND w.pending_count + add_files + 1 <= w.max_pending THEN
      add_bytes := add_bytes + r.size;
      add_files := add_files + 1;
      admitted := admitted || r.ord;
    END IF;
  END LOOP;
  IF add_files > 0 THEN
    UPDATE workspaces SET reserved_bytes = reserved_bytes + add_bytes, pending_count = pending_count + add_files,
      updated_at = now()
    WHERE id = ws;
  END IF;
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
