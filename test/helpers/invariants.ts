// The invariants of ../shared/DESIGN.md as one reusable check, for fault, soak and multi-instance tests:
//  1. reserved + used ≤ quota (and file/pending counts within their limits) for every workspace checked;
//  2. the counters equal the rows: used = Σ size of available+missing, file_count = their number, reserved = Σ size of
//     pending, pending_count = their number;
//  3. no `available` row without its object (HEAD);
//  4. no object past the grace period without a live row (pending/available/missing) — objects still queued in the
//     deletion outbox are not orphans, they are on their way out;
//  5. (afterCleanup) every upload is in exactly one terminal state: no row is still pending.
// Returns the violations (empty = all hold) and how many checks ran.
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Queryable } from '../../src/db/pool.ts';

export interface InvariantOptions {
  db: Queryable;
  s3: S3Client;
  bucket: string;
  /** Workspaces to check (default: every workspace with a row in `files`). */
  workspaceIds?: string[];
  /** Objects younger than this may legitimately have no row yet (an upload in flight). Default 60 s. */
  graceSeconds?: number;
  /** After a cleanup pass over expired uploads: no row may still be pending. */
  afterCleanup?: boolean;
  now?: Date;
}

export interface InvariantReport {
  checks: number;
  violations: string[];
}

export async function checkInvariants(o: InvariantOptions): Promise<InvariantReport> {
  const violations: string[] = [];
  let checks = 0;
  const now = o.now ?? new Date();
  const graceMs = (o.graceSeconds ?? 60) * 1000;
  const ws =
    o.workspaceIds ??
    (await o.db.query<{ workspace_id: string }>('SELECT DISTINCT workspace_id FROM files')).rows.map((r) => r.workspace_id);
  if (ws.length === 0) return { checks, violations };

  // 1 + 2: counters against limits and against the rows.
  const counters = await o.db.query<{
    id: string; quota_bytes: number; max_files: number; max_pending: number;
    used_bytes: number; reserved_bytes: number; file_count: number; pending_count: number;
    sum_used: number; n_used: number; sum_pending: number; n_pending: number;
  }>(
    `SELECT w.id, w.quota_bytes, w.max_files, w.max_pending, w.used_bytes, w.reserved_bytes, w.file_count, w.pending_count,
            coalesce(sum(f.size) FILTER (WHERE f.status IN ('available','missing')), 0)::bigint AS sum_used,
            count(f.id) FILTER (WHERE f.status IN ('available','missing'))::int AS n_used,
            coalesce(sum(f.size) FILTER (WHERE f.status = 'pending'), 0)::bigint AS sum_pending,
            count(f.id) FILTER (WHERE f.status = 'pending')::int AS n_pending
       FROM workspaces w LEFT JOIN files f ON f.workspace_id = w.id
      WHERE w.id = ANY($1)
      GROUP BY w.id`,
    [ws],
  );
  for (const c of counters.rows) {
    checks += 6;
    if (c.used_bytes + c.reserved_bytes > c.quota_bytes) violations.push(`${c.id}: used ${c.used_bytes} + reserved ${c.reserved_bytes} > quota ${c.quota_bytes}`);
    if (c.file_count + c.pending_count > c.max_files) violations.push(`${c.id}: files ${c.file_count} + pending ${c.pending_count} > max ${c.max_files}`);
    if (c.used_bytes !== Number(c.sum_used)) violations.push(`${c.id}: used_bytes ${c.used_bytes} ≠ Σ available sizes ${c.sum_used}`);
    if (c.file_count !== c.n_used) violations.push(`${c.id}: file_count ${c.file_count} ≠ available rows ${c.n_used}`);
    if (c.reserved_bytes !== Number(c.sum_pending)) violations.push(`${c.id}: reserved_bytes ${c.reserved_bytes} ≠ Σ pending sizes ${c.sum_pending}`);
    if (c.pending_count !== c.n_pending) violations.push(`${c.id}: pending_count ${c.pending_count} ≠ pending rows ${c.n_pending}`);
  }

  // 3: every available row has its object (with the row's size).
  const available = await o.db.query<{ id: string; object_key: string; size: number }>(
    `SELECT id, object_key, size FROM files WHERE workspace_id = ANY($1) AND status = 'available'`,
    [ws],
  );
  await pool(available.rows, 16, async (r) => {
    checks++;
    try {
      const h = await o.s3.send(new HeadObjectCommand({ Bucket: o.bucket, Key: r.object_key }));
      if (h.ContentLength !== r.size) violations.push(`available ${r.id}: object is ${h.ContentLength} bytes, row says ${r.size}`);
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      violations.push(`available ${r.id}: HEAD ${r.object_key} failed (${status ?? (err as Error).message})`);
    }
  });

  // 4: no object past the grace period without a live row.
  const live = new Set(
    (await o.db.query<{ object_key: string }>(`SELECT object_key FROM files WHERE workspace_id = ANY($1) AND status IN ('pending','available','missing')`, [ws])).rows.map((r) => r.object_key),
  );
  const queued = new Set((await o.db.query<{ object_key: string }>('SELECT object_key FROM object_deletions')).rows.map((r) => r.object_key));
  for (const w of ws) {
    let token: string | undefined;
    do {
      const page = await o.s3.send(new ListObjectsV2Command({ Bucket: o.bucket, Prefix: `workspaces/${w}/`, ContinuationToken: token }));
      for (const obj of page.Contents ?? []) {
        checks++;
        const age = now.getTime() - (obj.LastModified?.getTime() ?? now.getTime());
        if (age > graceMs && !live.has(obj.Key!) && !queued.has(obj.Key!)) violations.push(`object ${obj.Key} (${Math.round(age / 1000)} s old) has no live row`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  // 5: after cleanup, nothing is left pending.
  if (o.afterCleanup) {
    checks++;
    const pending = await o.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM files WHERE workspace_id = ANY($1) AND status = 'pending'`, [ws]);
    if (pending.rows[0]!.n > 0) violations.push(`${pending.rows[0]!.n} uploads still pending after cleanup`);
  }
  return { checks, violations };
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}
