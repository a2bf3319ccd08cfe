// Queries for the workers: set-based versions of the per-row ones in files.ts / object-deletions.ts, so a batch of
// 1,000 rows costs a handful of statements instead of thousands.
import type { Queryable } from './pool.ts';
import { FILE_COLUMNS, toFileRow, type FileRow, type TransitionFields } from './files.ts';
import { UPLOAD_WINDOW_SLACK_SECONDS, type FileStatus } from '../domain/upload-state.ts';
import { workspacePrefix } from '../domain/keys.ts';

/** What the sweeper needs of a claimed row (the full row is read only for the few whose object arrived). */
export interface ExpiredClaim {
  id: string;
  workspaceId: string;
  objectKey: string;
  size: number;
  uploadMethod: FileRow['uploadMethod'];
}

/**
 * Expired pending uploads (expires_at ≤ now), locked for the caller's transaction, in object-key byte order so that
 * one storage listing covers the batch. SKIP LOCKED: concurrent workers get disjoint batches.
 *
 * Scoped to a workspace, the claim also bounds the key range to the workspace's prefix: the partial key index
 * (files_pending_key_idx) then serves the filter and the order, whatever the statistics say. Without the bound, a
 * freshly loaded workspace (statistics not yet analyzed) got the (workspace, status) index, which reads and sorts
 * every pending row of the workspace for each batch — 169 ms per claim at 100,000 rows, vs ~2 ms (EXPLAIN ANALYZE).
 */
export async function claimExpiredPending(
  q: Queryable,
  now: Date,
  limit: number,
  excludeIds: string[] = [],
  workspaceId: string | null = null,
): Promise<ExpiredClaim[]> {
  const params: unknown[] = [now, limit, excludeIds];
  let scope = '';
  if (workspaceId !== null) {
    const prefix = workspacePrefix(workspaceId); // ends with '/'; '0' is the next byte
    params.push(workspaceId, prefix, prefix.slice(0, -1) + '0');
    scope = `AND workspace_id = $4 AND object_key COLLATE "C" >= $5 AND object_key COLLATE "C" < $6`;
  }
  const r = await q.query(
    `SELECT id, workspace_id, object_key, size, upload_method FROM files
      WHERE status = 'pending' AND expires_at <= $1 AND NOT (id = ANY($3::uuid[])) ${scope}
      ORDER BY object_key COLLATE "C"
      LIMIT $2
        FOR UPDATE SKIP LOCKED`,
    params,
  );
  return r.rows.map((row: Record<string, unknown>) => ({
    id: row.id as string,
    workspaceId: row.workspace_id as string,
    objectKey: row.object_key as string,
    size: Number(row.size),
    uploadMethod: row.upload_method as FileRow['uploadMethod'],
  }));
}

/** Full rows by id (no lock beyond what the caller holds). */
export async function getFilesByIds(q: Queryable, ids: string[]): Promise<FileRow[]> {
  if (ids.length === 0) return [];
  const r = await q.query(`SELECT ${FILE_COLUMNS} FROM files WHERE id = ANY($1::uuid[])`, [ids]);
  return r.rows.map(toFileRow);
}

export interface MovedFile {
  id: string;
  workspaceId: string;
  size: number;
  previous: FileStatus;
}

/**
 * Set-based transitionFile: moves every listed file whose status is in `from` to `to` (row locks held) and, in the
 * same statement, queues an outbox row for each moved file whose previous status is not in `alreadyQueued` (when
 * `enqueue` is given). Returns only what the counters need. With a single `from` status the previous status is known,
 * so the UPDATE filters on it directly (no locking pre-read of the rows' status).
 */
export async function transitionFiles(
  q: Queryable,
  ids: string[],
  from: readonly FileStatus[],
  to: FileStatus,
  fields: TransitionFields = {},
  enqueue: { reason: string; alreadyQueued: readonly FileStatus[]; notBefore?: Date } | null = null,
): Promise<MovedFile[]> {
  if (ids.length === 0) return [];
  const single = from.length === 1;
  const moved = single
    ? `moved AS (UPDATE files f SET ${'$SET'}
        WHERE f.id = ANY($1::uuid[]) AND f.status = ANY($2::text[])
        RETURNING f.id, f.workspace_id, f.object_key, f.size, f.multipart_upload_id, f.expires_at, ($2::text[])[1] AS previous)`
    : `cur AS (SELECT id, status AS previous FROM files WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE),
       moved AS (UPDATE files f SET ${'$SET'}
        FROM cur WHERE f.id = cur.id AND cur.previous = ANY($2::text[])
        RETURNING f.id, f.workspace_id, f.object_key, f.size, f.multipart_upload_id, f.expires_at, cur.previous)`;
  const set = `status = $3,
       reject_reason = CASE WHEN $4::boolean THEN $5 ELSE f.reject_reason END,
       completed_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE f.completed_at END,
       deleted_at = CASE WHEN $8::boolean THEN $9::timestamptz ELSE f.deleted_at END`;
  const r = await q.query(
    `WITH ${moved.replace('$SET', set)},
     queued AS (
       INSERT INTO object_deletions (object_key, file_id, reason, multipart_upload_id, next_attempt_at, recheck_at)
       SELECT object_key, id, $11, multipart_upload_id, COALESCE($13::timestamptz, now()), expires_at + make_interval(secs => $14)
         FROM moved WHERE $10::boolean AND NOT (previous = ANY($12::text[]))
     )
     SELECT id, workspace_id, size, previous FROM moved`,
    [
      ids,
      from,
      to,
      'rejectReason' in fields, fields.rejectReason ?? null,
      'completedAt' in fields, fields.completedAt ?? null,
      'deletedAt' in fields, fields.deletedAt ?? null,
      enqueue !== null, enqueue?.reason ?? null, enqueue?.alreadyQueued ?? [], enqueue?.notBefore ?? null,
      UPLOAD_WINDOW_SLACK_SECONDS,
    ],
  );
  return r.rows.map((row: Record<string, unknown>) => ({
    id: row.id as string,
    workspaceId: row.workspace_id as string,
    size: Number(row.size),
    previous: row.previous as FileStatus,
  }));
}

export async function removeDeletions(q: Queryable, ids: number[]): Promise<void> {
  if (ids.length > 0) await q.query('DELETE FROM object_deletions WHERE id = ANY($1::bigint[])', [ids]);
}

/** Records a failed attempt for many rows, each with its own error and retry delay. */
export async function rescheduleDeletions(
  q: Queryable,
  items: { id: number; error: string; delaySeconds: number }[],
  now: Date,
): Promise<void> {
  if (items.length === 0) return;
  await q.query(
    `UPDATE object_deletions d
        SET attempts = d.attempts + 1,
            last_error = t.err,
            next_attempt_at = $4::timestamptz + make_interval(secs => t.delay)
       FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS t(id, err, delay)
      WHERE d.id = t.id`,
    [items.map((i) => i.id), items.map((i) => i.error.slice(0, 1000)), items.map((i) => i.delaySeconds), now],
  );
}

/** An outbox row as the deletion worker needs it. */
export interface DueDeletion {
  id: number;
  objectKey: string;
  multipartUploadId: string | null;
  attempts: number;
  /** When the deletion must be repeated (its file's upload window closes then), or null. */
  recheckAt: Date | null;
}

/**
 * Due outbox rows (optionally only keys under a prefix), locked for the caller's transaction with SKIP LOCKED (several
 * workers share the queue).
 */
export async function claimDueDeletions(q: Queryable, now: Date, limit: number, keyPrefix = ''): Promise<DueDeletion[]> {
  const r = await q.query(
    `SELECT id, object_key, multipart_upload_id, attempts, recheck_at FROM object_deletions
      WHERE next_attempt_at <= $1 AND starts_with(object_key, $3)
      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit, keyPrefix],
  );
  return r.rows.map((row: Record<string, unknown>) => ({
    id: Number(row.id),
    objectKey: row.object_key as string,
    multipartUploadId: (row.multipart_upload_id as string | null) ?? null,
    attempts: Number(row.attempts),
    recheckAt: (row.recheck_at as Date | null) ?? null,
  }));
}

/** Keeps rows whose delete succeeded for one more pass at their recheck time (attempts unchanged). */
export async function deferDeletions(q: Queryable, items: { id: number; at: Date }[]): Promise<void> {
  if (items.length === 0) return;
  await q.query(
    `UPDATE object_deletions d SET next_attempt_at = t.at, recheck_at = NULL, last_error = NULL
       FROM unnest($1::bigint[], $2::timestamptz[]) AS t(id, at)
      WHERE d.id = t.id`,
    [items.map((i) => i.id), items.map((i) => i.at)],
  );
}
