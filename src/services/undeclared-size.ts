// Uploads whose size was not declared at creation (Uppy sends none): when the object (or its parts) is measured, the
// size is checked against the workspace's max file size and its bytes are reserved against the quota — atomically.
// Too large or over quota → the file is rejected (through the one transition function: object removed, slot freed).
import type { Deps } from './deps.ts';
import { withTransaction } from '../db/pool.ts';
import { getFile, type FileRow } from '../db/files.ts';
import { getWorkspace } from '../db/workspaces.ts';
import { declareFileSize, reserveBytes } from '../db/undeclared-size.ts';
import { transition } from './transition.ts';

export type UndeclaredRejection = 'file_too_large' | 'quota_exceeded' | 'empty';

/** A size of 0 on a pending file means "not declared yet" (files created through the Uppy endpoints). */
export function sizeUndeclared(row: FileRow): boolean {
  return row.status === 'pending' && row.size === 0;
}

/**
 * Records the measured size and reserves it. Returns the updated pending row, or the rejected row (with
 * rejectReason file_too_large / quota_exceeded / empty) when it may not be kept.
 */
export async function declareMeasuredSize(
  deps: Deps,
  row: FileRow,
  m: { size: number; partSize?: number | null; partCount?: number | null },
): Promise<FileRow> {
  const ws = await getWorkspace(deps.db, row.workspaceId);
  let refusal: UndeclaredRejection | null = null;
  if (m.size <= 0) refusal = 'empty';
  else if (!ws || m.size > ws.maxFileSize) refusal = 'file_too_large';
  if (!refusal) {
    const outcome = await withTransaction(deps.db, async (tx) => {
      // The file row first, then the workspace row: the lock order of every transition and of the sweeper (the other
      // order could deadlock with a sweeper batch holding this row while it probes storage).
      const updated = await declareFileSize(tx, row.id, m);
      if (!updated) throw new RaceLost();
      if (!(await reserveBytes(tx, row.workspaceId, m.size))) throw new QuotaRefused(); // rolls the size back
      return updated;
    }).catch((err) => {
      if (err instanceof RaceLost) return 'raced' as const;
      if (err instanceof QuotaRefused) return 'quota_exceeded' as const;
      throw err;
    });
    if (outcome === 'raced') return (await getFile(deps.db, row.workspaceId, row.id)) ?? row;
    if (outcome !== 'quota_exceeded') return outcome;
    refusal = 'quota_exceeded';
  }
  const t = await transition(deps, {
    fileId: row.id,
    from: ['pending'],
    to: 'rejected',
    fields: { rejectReason: refusal, completedAt: deps.now() },
    reason: `rejected:${refusal}`,
  });
  deps.log.info({ fileId: row.id, workspaceId: row.workspaceId, size: m.size, reason: refusal }, 'upload of undeclared size refused');
  return t.row ?? row;
}

/** For settleUpload: measures the stored object of a file whose size was not declared. */
export async function measureUndeclared(deps: Deps, row: FileRow): Promise<FileRow | 'absent'> {
  const head = await deps.storage.head(row.objectKey);
  if (!head) return 'absent';
  return declareMeasuredSize(deps, row, { size: head.size });
}

class RaceLost extends Error {}
class QuotaRefused extends Error {}
