// Queries for the workers: set-based versions of the per-row ones in files.ts / object-deletions.ts, so a batch of
// 1,000 rows costs a handful of statements instead of thousands.
import type { Queryable } from './pool.ts';
import { FILE_COLUMNS, toFileRow, type FileRow, type TransitionFields } from './files.ts';
import type { FileStatus } from '../domain/upload-state.ts';

/**
 * Expired pending uploads (expires_at ≤ now), locked for the caller's transaction, in object-key byte order so that
 * one storage listing covers the batch. SKIP LOCKED: concurrent workers get disjoint batches.
 */
export async function claimExpiredPending(
  q: Queryable,
  now: Date,
  limit: number,
  excludeIds: string[] = [],
  workspaceId: string | null = null,
): Promise<FileRow[]> {
  const r = await q.query(
    `SELECT ${FILE_COLUMNS} FROM files
      WHERE status = 'pending' AND expires_at <= $1 AND NOT (id = ANY($3::uuid[]))
        AND ($4::text IS NULL OR workspace_id = $4)
      ORDER BY object_key COLLATE "C"
      LIMIT $2
        FOR UPDATE SKIP LOCKED`,
    [now, limit, excludeIds, workspaceId],
  );
  return r.rows.map(toFileRow);
}

/** Set-based transitionFile: moves every listed file whose status is in `from` to `to` (row locks held). */
export async function transitionFiles(
  q: Queryable,
  ids: string[],
  from: readonly FileStatus[],
  to: FileStatus,
  fields: TransitionFields = {},
): Promise<{ row: FileRow; previous: FileStatus }[]> {
  if (ids.length === 0) return [];
  const r = await q.query(
    `WITH cur AS (SELECT id, status AS previous FROM files WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
     UPDATE files f SET
       status = $3,
       reject_reason = CASE WHEN $4::boolean THEN $5 ELSE f.reject_reason END,
       completed_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE f.completed_at END,
       deleted_at = CASE WHEN $8::boolean THEN $9::timestamptz ELSE f.deleted_at END
     FROM cur
     WHERE f.id = cur.id AND cur.previous = ANY($2::text[])
     RETURNING ${FILE_COLUMNS.split(',').map((c) => 'f.' + c.trim()).join(', ')}, cur.previous`,
    [
      ids,
      from,
      to,
      'rejectReason' in fields, fields.rejectReason ?? null,
      'completedAt' in fields, fields.completedAt ?? null,
      'deletedAt' in fields, fields.deletedAt ?? null,
    ],
  );
  return r.rows.map((row: Record<string, unknown>) => ({ row: toFileRow(row), previous: row.previous as FileStatus }));
}

/** Enqueues many object deletions in one statement. */
export async function enqueueDeletions(
  q: Queryable,
  items: { objectKey: string; fileId: string | null; reason: string; multipartUploadId: string | null }[],
  notBefore?: Date,
): Promise<void> {
  if (items.length === 0) return;
  await q.query(
    `INSERT INTO object_deletions (object_key, file_id, reason, multipart_upload_id, next_attempt_at)
     SELECT k, f, r, m, COALESCE($5::timestamptz, now())
       FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) AS t(k, f, r, m)`,
    [items.map((i) => i.objectKey), items.map((i) => i.fileId), items.map((i) => i.reason), items.map((i) => i.multipartUploadId), notBefore ?? null],
  );
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

/** Due outbox rows (optionally only keys under a prefix), locked for the caller's transaction with SKIP LOCKED. */
export async function claimDueDeletionsUnder(q: Queryable, now: Date, limit: number, keyPrefix: string) {
  const r = await q.query(
    `SELECT * FROM object_deletions
      WHERE next_attempt_at <= $1 AND starts_with(object_key, $3)
      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [now, limit, keyPrefix],
  );
  return r.rows.map((row: Record<string, unknown>) => ({
    id: Number(row.id),
    objectKey: row.object_key as string,
    multipartUploadId: (row.multipart_upload_id as string | null) ?? null,
    attempts: Number(row.attempts),
  }));
}
