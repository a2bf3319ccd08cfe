-- 020_events: inbox of storage event notifications, and indexes for the workers.

-- Storage events received over HTTP (POST /v1/events/s3) are written here before the request is answered, then
-- processed in the background (right away by the receiving process, or later by any worker). A row is deleted once
-- processed, so the table only holds work still to do. Events for keys outside Stowage's key layout are never stored.
CREATE TABLE storage_events (
  id              bigserial PRIMARY KEY,
  event_type      text NOT NULL CHECK (event_type IN ('created', 'removed')),
  event_name      text NOT NULL,
  bucket          text NOT NULL,
  object_key      text NOT NULL,
  size            bigint,
  etag            text,
  sequencer       text,
  event_time      text,
  source          text NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_events_due_idx ON storage_events (next_attempt_at, id);

-- The expiry sweeper claims expired pending rows in object-key order, so that one storage listing (ListObjectsV2
-- from the batch's first key) reconciles a whole batch instead of one HEAD per row. S3 lists keys in byte order,
-- hence COLLATE "C".
CREATE INDEX files_pending_key_idx ON files ((object_key COLLATE "C")) WHERE status = 'pending';

-- The outbox is claimed in (next_attempt_at, id) order.
CREATE INDEX object_deletions_due_id_idx ON object_deletions (next_attempt_at, id);
