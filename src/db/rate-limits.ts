// Fixed-window request counters for the per-workspace rate limits (070_rate_limits.sql). Shared by every API
// instance through Postgres: one UPSERT adds a lease of tokens (domain/rate-limit.ts leaseSize) and returns the
// window's count including them.
// The UPSERT commits with synchronous_commit off (set for its own transaction only): a counter lost in a crash costs
// nothing worth an fsync per request, and waiting for the WAL flush was a large share of each limited request.
import type { Queryable } from './pool.ts';

export async function bumpRateCounter(db: Queryable, workspaceId: string, scope: string, windowStart: Date, tokens = 1): Promise<number> {
  const r = await db.query<{ count: number }>(
    `INSERT INTO rate_limit_counters (workspace_id, scope, window_start, count)
     SELECT $1, $2, $3, $4 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
     ON CONFLICT (workspace_id, scope, window_start) DO UPDATE SET count = rate_limit_counters.count + EXCLUDED.count
     RETURNING count`,
    [workspaceId, scope, windowStart, tokens],
  );
  return r.rows[0]!.count;
}

/** Deletes the counters of windows that started before `before`. */
export async function deleteRateCountersBefore(db: Queryable, before: Date): Promise<number> {
  const r = await db.query('DELETE FROM rate_limit_counters WHERE window_start < $1', [before]);
  return r.rowCount ?? 0;
}
