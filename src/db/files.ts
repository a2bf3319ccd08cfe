import pg from 'pg';
import type { Queryable } from './pool.ts';
import { Coalescer, coalescerFor } from './coalescer.ts';
import { UPLOAD_WINDOW_SLACK_SECONDS, type CounterRates, type FileStatus } from '../domain/upload-state.ts';

export type UploadMethod = 'put' | 'post' | 'multipart';

export interface FileRow {
  id: string;
  workspaceId: string;
  objectKey: string;
  status: FileStatus;
  filename: string;
  contentType: string;
  size: number;
  checksumSha256: string | null;
  metadata: Record<string, unknown>;
  uploader: string | null;
  uploadMethod: UploadMethod;
  multipartUploadId: string | null;
  partSize: number | null;
  partCount: number | null;
  fingerprint: string | null;
  rejectReason: string | null;
  etag: string | null;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
  deletedAt: Date | null;
}

export const FILE_COLUMNS = `id, workspace_id, object_key, status, filename, content_type, size, checksum_sha256,
  metadata, uploader, upload_method, multipart_upload_id, part_size, part_count, fingerprint, reject_reason, etag,
  created_at, expires_at, completed_at, deleted_at`;

export function toFileRow(r: Record<string, unknown>): FileRow {
  return {
    id: r.id as string,
    workspaceId: r.workspace_id as string,
    objectKey: r.object_key as string,
    status: r.status as FileStatus,
    filename: r.filename as string,
    contentType: r.content_type as string,
    size: Number(r.size),
    checksumSha256: (r.checksum_sha256 as string | null) ?? null,
    metadata: (r.metadata as Record<string, unknown> | null) ?? {},
    uploader: (r.uploader as string | null) ?? null,
    uploadMethod: r.upload_method as UploadMethod,
    multipartUploadId: (r.multipart_upload_id as string | null) ?? null,
    partSize: r.part_size == null ? null : Number(r.part_size),
    partCount: r.part_count == null ? null : Number(r.part_count),
    fingerprint: (r.fingerprint as string | null) ?? null,
    rejectReason: (r.reject_reason as string | null) ?? null,
    etag: (r.etag as string | null) ?? null,
    createdAt: r.created_at as Date,
    expiresAt: r.expires_at as Date,
    completedAt: (r.completed_at as Date | null) ?? null,
    deletedAt: (r.deleted_at as Date | null) ?? null,
  };
}

export interface NewFile {
  id: string;
  workspaceId: string;
  objectKey: string;
  filename: string;
  contentType: string;
  size: number;
  checksumSha256: string | null;
  metadata: Record<string, unknown>;
  uploader: string | null;
  uploadMethod: UploadMethod;
  multipartUploadId?: string | null;
  partSize?: number | null;
  partCount?: number | null;
  fingerprint?: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * Reserves the file's size, one file and one pending slot on its workspace and inserts the pending row, in ONE
 * statement (so one round trip and one commit): the conditional UPDATE makes concurrent reservations unable to
 * overshoot any limit, and the INSERT runs only when the reservation fitted. Returns null when it did not fit
 * (nothing changed).
 */
export async function insertReservedFile(q: Queryable, f: NewFile): Promise<FileRow | null> {
  // Through the pool (request handlers), concurrent inserts share one statement; a client (a transaction) runs alone.
  if (q instanceof pg.Pool) return coalescerFor(reservedInserts, q, () => new Coalescer((batch) => insertReservedFiles(q, batch), BATCHING)).call(f);
  return insertReservedFileAlone(q, f);
}

const BATCHING = { maxBatch: 64, maxInFlight: 4 };
const reservedInserts = new WeakMap<object, Coalescer<NewFile, FileRow | null>>();

async function insertReservedFileAlone(q: Queryable, f: NewFile): Promise<FileRow | null> {
  const r = await q.query(
    `WITH reserved AS (
       UPDATE workspaces SET
         reserved_bytes = reserved_bytes + $6,
         pending_count = pending_count + 1,
         updated_at = now()
       WHERE id = $2
         AND used_bytes + reserved_bytes + $6 <= quota_bytes
         AND file_count + pending_count + 1 <= max_files
         AND pending_count + 1 <= max_pending
       RETURNING id)
     INSERT INTO files (id, workspace_id, object_key, status, filename, content_type, size, checksum_sha256, metadata,
       uploader, upload_method, multipart_upload_id, part_size, part_count, fingerprint, created_at, expires_at)
     SELECT $1, reserved.id, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 FROM reserved
     RETURNING ${FILE_COLUMNS}`,
    [
      f.id, f.workspaceId, f.objectKey, f.filename, f.contentType, f.size, f.checksumSha256, JSON.stringify(f.metadata),
      f.uploader, f.uploadMethod, f.multipartUploadId ?? null, f.partSize ?? null, f.partCount ?? null,
      f.fingerprint ?? null, f.createdAt, f.expiresAt,
    ],
  );
  return r.rows[0] ? toFileRow(r.rows[0]) : null;
}

/**
 * Many reservations in one statement (migration 090): the same per-row conditional reservation, one round trip and
 * one commit for the lot. If the statement fails it changed nothing, and each row is retried alone so that an error
 * reaches only the request it belongs to.
 */
async function insertReservedFiles(q: pg.Pool, batch: NewFile[]): Promise<(FileRow | null | Promise<FileRow | null>)[]> {
  if (batch.length === 1) return [insertReservedFileAlone(q, batch[0]!)];
  const rows = batch.map((f, ord) => ({
    ord, id: f.id, workspace_id: f.workspaceId, object_key: f.objectKey, filename: f.filename,
    content_type: f.contentType, size: f.size, checksum_sha256: f.checksumSha256, metadata: f.metadata,
    uploader: f.uploader, upload_method: f.uploadMethod, multipart_upload_id: f.multipartUploadId ?? null,
    part_size: f.partSize ?? null, part_count: f.partCount ?? null, fingerprint: f.fingerprint ?? null,
    created_at: f.createdAt, expires_at: f.expiresAt,
  }));
  let inserted: pg.QueryResult;
  try {
    // Only which rows were admitted comes back: the rows themselves are what was sent (parsing them back was a
    // visible share of the API's CPU per request).
    inserted = await q.query(`SELECT id FROM stowage_insert_reserved_files($1::jsonb)`, [JSON.stringify(rows)]);
  } catch (err) {
    // A connection lost mid-statement may have committed: retrying would fail the rows a second time, not help.
    if (!isStatementError(err)) throw err;
    return batch.map((f) => insertReservedFileAlone(q, f));
  }
  const admitted = new Set(inserted.rows.map((r) => r.id as string));
  return batch.map((f) => (admitted.has(f.id) ? pendingRow(f) : null));
}

/** The row a reservation inserts, as stored: the new file, pending, nothing settled yet. */
function pendingRow(f: NewFile): FileRow {
  return {
    id: f.id,
    workspaceId: f.workspaceId,
    objectKey: f.objectKey,
    status: 'pending',
    filename: f.filename,
    contentType: f.contentType,
    size: f.size,
    checksumSha256: f.checksumSha256,
    metadata: f.metadata,
    uploader: f.uploader,
    uploadMethod: f.uploadMethod,
    multipartUploadId: f.multipartUploadId ?? null,
    partSize: f.partSize ?? null,
    partCount: f.partCount ?? null,
    fingerprint: f.fingerprint ?? null,
    rejectReason: null,
    etag: null,
    createdAt: f.createdAt,
    expiresAt: f.expiresAt,
    completedAt: null,
    deletedAt: null,
  };
}

/** An error Postgres raised for the statement (it rolled back), as opposed to a lost connection. */
function isStatementError(err: unknown): boolean {
  return err instanceof pg.DatabaseError;
}

/** A file in a workspace; null for ids that do not exist or belong to another workspace. */
/**
 * Pushes a pending file's expiry to at least `until` (a lease for a completion in progress: the expiry sweeper claims
 * only rows past expires_at, so it cannot expire the upload under the completion). Returns the row and the expiry it
 * replaced (to give back), or null when the file is no longer pending (a sweeper holding the row commits first; this
 * then sees its result).
 */
export async function extendPendingExpiry(q: Queryable, id: string, until: Date): Promise<{ row: FileRow; replaced: Date } | null> {
  const r = await q.query(
    `WITH old AS (SELECT id, expires_at FROM files WHERE id = $1 AND status = 'pending' FOR UPDATE)
     UPDATE files f SET expires_at = greatest(f.expires_at, $2::timestamptz) FROM old WHERE f.id = old.id
     RETURNING ${FILE_COLUMNS.split(',').map((c) => 'f.' + c.trim()).join(', ')}, old.expires_at AS replaced_expires_at`,
    [id, until],
  );
  return r.rows[0] ? { row: toFileRow(r.rows[0]), replaced: r.rows[0].replaced_expires_at as Date } : null;
}

/**
 * Gives a lease back: the expiry it replaced, if the file is still pending under that lease (a concurrent completion's
 * later lease is left alone, and it gives back the value it replaced: this lease's).
 */
export async function restorePendingExpiry(q: Queryable, id: string, expiresAt: Date, leasedUntil: Date): Promise<void> {
  await q.query(`UPDATE files SET expires_at = $2 WHERE id = $1 AND status = 'pending' AND expires_at = $3`, [id, expiresAt, leasedUntil]);
}

export async function getFile(q: Queryable, workspaceId: string, id: string): Promise<FileRow | null> {
  const r = await q.query(`SELECT ${FILE_COLUMNS} FROM files WHERE id = $1 AND workspace_id = $2`, [id, workspaceId]);
  return r.rows[0] ? toFileRow(r.rows[0]) : null;
}

export async function getFileByKey(q: Queryable, objectKey: string): Promise<FileRow | null> {
  const r = await q.query(`SELECT ${FILE_COLUMNS} FROM files WHERE object_key = $1`, [objectKey]);
  return r.rows[0] ? toFileRow(r.rows[0]) : null;
}

export interface ListCursor {
  createdAt: Date;
  id: string;
}

export async function listFiles(
  q: Queryable,
  workspaceId: string,
  opts: { statuses?: FileStatus[]; cursor?: ListCursor; limit: number; fingerprint?: string; uploadMethod?: UploadMethod },
): Promise<FileRow[]> {
  const where = ['workspace_id = $1'];
  const params: unknown[] = [workspaceId];
  if (opts.statuses && opts.statuses.length > 0) {
    params.push(opts.statuses);
    where.push(`status = ANY($${params.length}::text[])`);
  }
  if (opts.fingerprint !== undefined) {
    params.push(opts.fingerprint);
    where.push(`fingerprint = $${params.length}`);
  }
  if (opts.uploadMethod !== undefined) {
    params.push(opts.uploadMethod);
    where.push(`upload_method = $${params.length}`);
  }
  if (opts.cursor) {
    params.push(opts.cursor.createdAt, opts.cursor.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length}::uuid)`);
  }
  params.push(opts.limit);
  const r = await q.query(
    `SELECT ${FILE_COLUMNS} FROM files WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return r.rows.map(toFileRow);
}

export interface TransitionFields {
  rejectReason?: string | null;
  etag?: string | null;
  completedAt?: Date | null;
  deletedAt?: Date | null;
}

export interface FileTransition {
  /** True when this statement made the change. */
  won: boolean;
  /** The row after the statement (unchanged when not won); null when there is no such file. */
  row: FileRow | null;
  previous: FileStatus | null;
  /** The outbox row queued for the file's object, when the transition made it unwanted. */
  deletionId: number | null;
}

/**
 * Moves a file to `to` only if its current status is one of `from` (conditional UPDATE under the row lock), so that
 * exactly one concurrent caller wins; in the SAME statement — one round trip, one implicit transaction — applies the
 * workspace counter changes for the status it left and queues the object for deletion when `enqueue` says so.
 */
export async function transitionFile(
  q: Queryable,
  id: string,
  rates: CounterRates,
  to: FileStatus,
  fields: TransitionFields = {},
  enqueue: { reason: string; alreadyQueued: readonly FileStatus[] } | null = null,
): Promise<FileTransition> {
  const cols = FILE_COLUMNS.split(',').map((c) => c.trim());
  const r = await q.query(
    // FOR UPDATE returns the newest committed version once the lock is granted, so `cur` is also the answer when
    // another caller won meanwhile (a plain read of files here would see this statement's older snapshot).
    `WITH cur AS (SELECT ${FILE_COLUMNS}, status AS previous FROM files WHERE id = $1 FOR UPDATE),
     moved AS (
       UPDATE files f SET
         status = $3,
         reject_reason = CASE WHEN $4::boolean THEN $5 ELSE f.reject_reason END,
         etag = CASE WHEN $6::boolean THEN $7 ELSE f.etag END,
         completed_at = CASE WHEN $8::boolean THEN $9::timestamptz ELSE f.completed_at END,
         deleted_at = CASE WHEN $10::boolean THEN $11::timestamptz ELSE f.deleted_at END
       FROM cur
       WHERE f.id = cur.id AND cur.previous = ANY($2::text[])
       RETURNING ${cols.map((c) => 'f.' + c).join(', ')}, cur.previous, array_position($2::text[], cur.previous) AS i
     ),
     counted AS (
       UPDATE workspaces w SET
         used_bytes = used_bytes + ($12::bigint[])[m.i] * m.size,
         reserved_bytes = reserved_bytes + ($13::bigint[])[m.i] * m.size,
         file_count = file_count + ($14::int[])[m.i],
         pending_count = pending_count + ($15::int[])[m.i],
         updated_at = now()
       FROM moved m
       WHERE w.id = m.workspace_id
         AND (($12::bigint[])[m.i] <> 0 OR ($13::bigint[])[m.i] <> 0 OR ($14::int[])[m.i] <> 0 OR ($15::int[])[m.i] <> 0)
       RETURNING w.id
     ),
     queued AS (
       INSERT INTO object_deletions (object_key, file_id, reason, multipart_upload_id, next_attempt_at, recheck_at)
       SELECT object_key, id, $16, multipart_upload_id, now(), expires_at + make_interval(secs => $19) FROM moved
        WHERE $17::boolean AND NOT (previous = ANY($18::text[]))
       RETURNING id
     )
     SELECT ${cols.map((c) => 'm.' + c).join(', ')}, m.previous, true AS won, (SELECT id FROM queued) AS deletion_id
       FROM moved m
     UNION ALL
     SELECT ${cols.map((c) => 'c.' + c).join(', ')}, c.previous, false, NULL
       FROM cur c
      WHERE NOT EXISTS (SELECT 1 FROM moved)`,
    [
      id,
      rates.from,
      to,
      'rejectReason' in fields, fields.rejectReason ?? null,
      'etag' in fields, fields.etag ?? null,
      'completedAt' in fields, fields.completedAt ?? null,
      'deletedAt' in fields, fields.deletedAt ?? null,
      rates.usedPerByte, rates.reservedPerByte, rates.fileCount, rates.pendingCount,
      enqueue?.reason ?? null, enqueue !== null, enqueue?.alreadyQueued ?? [],
      UPLOAD_WINDOW_SLACK_SECONDS,
    ],
  );
  const row = r.rows[0];
  if (!row) return { won: false, row: null, previous: null, deletionId: null };
  return {
    won: row.won === true,
    row: toFileRow(row),
    previous: row.previous as FileStatus,
    deletionId: row.deletion_id === null ? null : Number(row.deletion_id),
  };
}
