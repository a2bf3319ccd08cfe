// Files whose size was not declared at creation (Uppy): size 0 until measured. Declaring the measured size and
// reserving its bytes happen in one transaction, with the same conditional UPDATE rule as every reservation.
import type { Queryable } from './pool.ts';
import { FILE_COLUMNS, toFileRow, type FileRow } from './files.ts';

/** Adds `size` reserved bytes if they fit in the quota (the pending slot was taken at creation). */
export async function reserveBytes(q: Queryable, workspaceId: string, size: number): Promise<boolean> {
  const r = await q.query(
    `UPDATE workspaces SET reserved_bytes = reserved_bytes + $2, updated_at = now()
     WHERE id = $1 AND used_bytes + reserved_bytes + $2 <= quota_bytes`,
    [workspaceId, size],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Sets the measured size (and the part plan found in storage) of a pending file whose size was not declared. */
export async function declareFileSize(
  q: Queryable,
  id: string,
  m: { size: number; partSize?: number | null; partCount?: number | null },
): Promise<FileRow | null> {
  const r = await q.query(
    `UPDATE files SET size = $2, part_size = COALESCE($3, part_size), part_count = COALESCE($4, part_count)
     WHERE id = $1 AND status = 'pending' AND size = 0
     RETURNING ${FILE_COLUMNS}`,
    [id, m.size, m.partSize ?? null, m.partCount ?? null],
  );
  return r.rows[0] ? toFileRow(r.rows[0]) : null;
}
