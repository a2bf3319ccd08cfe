-- 110_outbox_recheck: when a deletion must be repeated — the end of its file's upload window (expires_at + 60 s):
-- until then a still-valid upload URL could write the object again. Written with the outbox row, so that the worker's
-- claim reads it without joining files for every row.
ALTER TABLE object_deletions ADD COLUMN recheck_at timestamptz;
