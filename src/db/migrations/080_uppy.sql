-- 080_uppy: short-lived upload tokens for Uppy (the token rides in the URL path, Uppy 6 sends no headers), and files
-- whose size is not declared at creation (Uppy never sends it): size 0 = "not declared yet", set (and reserved) when
-- the object is measured at completion.

CREATE TABLE upload_tokens (
  token_hash   text PRIMARY KEY,           -- SHA-256 (hex) of the token; the token itself is never stored
  workspace_id text NOT NULL REFERENCES workspaces(id),
  subject      text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX upload_tokens_expires_idx ON upload_tokens (expires_at);

ALTER TABLE files DROP CONSTRAINT IF EXISTS files_size_check;
ALTER TABLE files ADD CONSTRAINT files_size_check CHECK (size >= 0);
-- A file with a size not declared yet may only be pending (or end without ever having been measured).
ALTER TABLE files ADD CONSTRAINT files_size_declared_check CHECK (size > 0 OR status <> 'available');
