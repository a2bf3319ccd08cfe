import pg from 'pg';
import type { Queryable } from './pool.ts';
import { Coalescer, coalescerFor } from './coalescer.ts';
import type { WorkspaceDefaults } from '../config/index.ts';
import type { CounterDelta } from '../domain/upload-state.ts';

export interface WorkspaceRow {
  id: string;
  maxFileSize: number;
  allowedContentTypes: string[];
  quotaBytes: number;
  maxFiles: number;
  maxPending: number;
  usedBytes: number;
  reservedBytes: number;
  fileCount: number;
  pendingCount: number;
}

const COLUMNS = `id, max_file_size, allowed_content_types, quota_bytes, max_files, max_pending,
  used_bytes, reserved_bytes, file_count, pending_count`;

function toRow(r: Record<string, unknown>): WorkspaceRow {
  return {
    id: r.id as string,
    maxFileSize: Number(r.max_file_size),
    allowedContentTypes: r.allowed_content_types as string[],
    quotaBytes: Number(r.quota_bytes),
    maxFiles: Number(r.max_files),
    maxPending: Number(r.max_pending),
    usedBytes: Number(r.used_bytes),
    reservedBytes: Number(r.reserved_bytes),
    fileCount: Number(r.file_count),
    pendingCount: Number(r.pending_count),
  };
}

/** Returns the workspace, creating it with the default limits on first use (one SELECT once it exists). */
export async function ensureWorkspace(q: Queryable, id: string, defaults: WorkspaceDefaults): Promise<WorkspaceRow> {
  const existing = await getWorkspace(q, id);
  if (existing) return existing;
  const inserted = await q.query(
    `INSERT INTO workspaces (id, max_file_size, allowed_content_types, quota_bytes, max_files, max_pending)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO NOTHING
     RETURNING ${COLUMNS}`,
    [id, defaults.maxFileSize, defaults.allowedContentTypes, defaults.quotaBytes, defaults.maxFiles, defaults.maxPending],
  );
  if (inserted.rows[0]) return toRow(inserted.rows[0]);
  const raced = await getWorkspace(q, id); // created concurrently
  if (!raced) throw new Error(`workspace ${id} vanished`);
  return raced;
}

export async function getWorkspace(q: Queryable, id: string): Promise<WorkspaceRow | null> {
  // Through the pool (request handlers), concurrent lookups share one SELECT; a client (a transaction) reads alone.
  if (q instanceof pg.Pool) return coalescerFor(lookups, q, () => new Coalescer((ids) => getWorkspaces(q, ids), LOOKUP_BATCHING)).call(id);
  const r = await q.query(`SELECT ${COLUMNS} FROM workspaces WHERE id = $1`, [id]);
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

const LOOKUP_BATCHING = { maxBatch: 256, maxInFlight: 4 };
const lookups = new WeakMap<object, Coalescer<string, WorkspaceRow | null>>();

async function getWorkspaces(q: Queryable, ids: string[]): Promise<(WorkspaceRow | null)[]> {
  const r = await q.query(`SELECT ${COLUMNS} FROM workspaces WHERE id = ANY($1::text[])`, [[...new Set(ids)]]);
  const byId = new Map(r.rows.map((row) => [row.id as string, toRow(row)]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Updates a workspace's limits (admin/tests). Counters are untouched. */
export async function setWorkspaceLimits(
  q: Queryable,
  id: string,
  limits: Partial<WorkspaceDefaults>,
): Promise<WorkspaceRow | null> {
  const r = await q.query(
    `UPDATE workspaces SET
       max_file_size = COALESCE($2, max_file_size),
       allowed_content_types = COALESCE($3, allowed_content_types),
       quota_bytes = COALESCE($4, quota_bytes),
       max_files = COALESCE($5, max_files),
       max_pending = COALESCE($6, max_pending),
       updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      limits.maxFileSize ?? null,
      limits.allowedContentTypes ?? null,
      limits.quotaBytes ?? null,
      limits.maxFiles ?? null,
      limits.maxPending ?? null,
    ],
  );
  return r.rows[0] ? toRow(r.rows[0]) : null;
}

/** Applies a state transition's counter changes (see domain/upload-state counterDelta). */
export async function applyCounterDelta(q: Queryable, id: string, d: CounterDelta): Promise<void> {
  if (d.usedBytes === 0 && d.reservedBytes === 0 && d.fileCount === 0 && d.pendingCount === 0) return;
  await q.query(
    `UPDATE workspaces SET
       used_bytes = used_bytes + $2,
       reserved_bytes = reserved_bytes + $3,
       file_count = file_count + $4,
       pending_count = pending_count + $5,
       updated_at = now()
     WHERE id = $1`,
    [id, d.usedBytes, d.reservedBytes, d.fileCount, d.pendingCount],
  );
}
