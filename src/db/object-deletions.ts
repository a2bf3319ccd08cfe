import type { Queryable } from './pool.ts';

export interface ObjectDeletionRow {
  id: number;
  objectKey: string;
  fileId: string | null;
  reason: string;
  multipartUploadId: string | null;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
}

function toRow(r: Record<string, unknown>): ObjectDeletionRow {
  return {
    id: Number(r.id),
    objectKey: r.object_key as string,
    fileId: (r.file_id as string | null) ?? null,
    reason: r.reason as string,
    multipartUploadId: (r.multipart_upload_id as string | null) ?? null,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at as Date,
    lastError: (r.last_error as string | null) ?? null,
  };
}

export async function enqueueDeletion(
  q: Queryable,
  d: { objectKey: string; fileId?: string | null; reason: string; multipartUploadId?: string | null; notBefore?: Date; recheckAt?: Date | null },
): Promise<ObjectDeletionRow> {
  const r = await q.query(
    `INSERT INTO object_deletions (object_key, file_id, reason, multipart_upload_id, next_attempt_at, recheck_at)
     VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6) RETURNING *`,
    [d.objectKey, d.fileId ?? null, d.reason, d.multipartUploadId ?? null, d.notBefore ?? null, d.recheckAt ?? null],
  );
  return toRow(r.rows[0]);
}

export async function removeDeletion(q: Queryable, id: number): Promise<void> {
  await q.query('DELETE FROM object_deletions WHERE id = $1', [id]);
}

/** Records an attempt (failed, or done but to be repeated later) and when to try next. */
export async function rescheduleDeletion(
  q: Queryable,
  id: number,
  nextAttemptAt: Date,
  error: string | null,
): Promise<void> {
  await q.query(
    `UPDATE object_deletions SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1`,
    [id, nextAttemptAt, error],
  );
}
