-- 001_init: workspaces with limits and counters, files, and the object deletion outbox.

CREATE TABLE workspaces (
  id                    text PRIMARY KEY,
  max_file_size         bigint NOT NULL CHECK (max_file_size > 0),
  allowed_content_types text[] NOT NULL,
  quota_bytes           bigint NOT NULL CHECK (quota_bytes >= 0),
  max_files             integer NOT NULL CHECK (max_files >= 0),
  max_pending           integer NOT NULL CHECK (max_pending >= 0),
  used_bytes            bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
  reserved_bytes        bigint NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0),
  file_count            integer NOT NULL DEFAULT 0 CHECK (file_count >= 0),
  pending_count         integer NOT NULL DEFAULT 0 CHECK (pending_count >= 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE files (
  id                  uuid PRIMARY KEY,
  workspace_id        text NOT NULL REFERENCES workspaces(id),
  object_key          text NOT NULL UNIQUE,
  status              text NOT NULL
                        CHECK (status IN ('pending', 'available', 'rejected', 'expired', 'deleted', 'missing')),
  filename            text NOT NULL,
  content_type        text NOT NULL,
  size                bigint NOT NULL CHECK (size > 0),
  checksum_sha256     text,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  uploader            text,
  upload_method       text NOT NULL CHECK (upload_method IN ('put', 'post', 'multipart')),
  multipart_upload_id text,
  part_size           bigint,
  part_count          integer,
  fingerprint         text,
  reject_reason       text,
  etag                text,
  created_at          timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  expires_at          timestamptz NOT NULL,
  completed_at        timestamptz,
  deleted_at          timestamptz
);

-- Listing newest first within a workspace (cursor = (created_at, id)).
CREATE INDEX files_workspace_created_idx ON files (workspace_id, created_at DESC, id DESC);
CREATE INDEX files_workspace_status_created_idx ON files (workspace_id, status, created_at DESC, id DESC);
-- The expiry sweeper scans pending rows by expiry.
CREATE INDEX files_pending_expires_idx ON files (expires_at) WHERE status = 'pending';
-- Resumable uploads look pending uploads up by fingerprint.
CREATE INDEX files_pending_fingerprint_idx ON files (workspace_id, fingerprint) WHERE status = 'pending' AND fingerprint IS NOT NULL;

-- Outbox of objects to remove from storage. A row is written in the same transaction as the state change that
-- makes the object unwanted; a worker (or the request itself, right after commit) performs the delete.
CREATE TABLE object_deletions (
  id              bigserial PRIMARY KEY,
  object_key      text NOT NULL,
  file_id         uuid,
  reason          text NOT NULL,
  multipart_upload_id text,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX object_deletions_due_idx ON object_deletions (next_attempt_at);
