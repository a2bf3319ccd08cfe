-- 070_rate_limits: per-workspace request counters for the rate limits (fixed windows), shared by every API
-- instance. One row per (workspace, scope, window start), bumped with a single UPSERT per limited request; rows of
-- past windows are deleted lazily by the limiter.
CREATE TABLE rate_limit_counters (
  workspace_id  text NOT NULL,
  scope         text NOT NULL,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL,
  PRIMARY KEY (workspace_id, scope, window_start)
);
CREATE INDEX rate_limit_counters_window_idx ON rate_limit_counters (window_start);
