// DELETE /v1/files/:id — idempotent: frees the quota (or the reservation) and removes the object.
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { getFile } from '../db/files.ts';
import { sourcesOf } from '../domain/upload-state.ts';
import { isUuid } from '../domain/keys.ts';
import { transition } from './transition.ts';

export async function deleteFile(deps: Deps, workspaceId: string, fileId: string): Promise<void> {
  if (!isUuid(fileId)) throw errors.notFound('File');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('File');
  if (row.status === 'deleted') return;
  await transition(deps, {
    fileId: row.id,
    from: sourcesOf('deleted'),
    to: 'deleted',
    fields: { deletedAt: deps.now() },
    reason: 'deleted',
  });
}

/** DELETE /v1/uploads/:id — aborts a pending upload (releases the reservation); idempotent; never deletes a file
 * that already completed. */
export async function abortUpload(deps: Deps, workspaceId: string, fileId: string): Promise<void> {
  if (!isUuid(fileId)) throw errors.notFound('Upload');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('Upload');
  if (row.status !== 'pending') {
    if (row.status === 'available' || row.status === 'missing') {
      throw errors.invalidState('The upload has completed; delete the file instead', { status: row.status });
    }
    return;
  }
  const t = await transition(deps, {
    fileId: row.id,
    from: ['pending'],
    to: 'deleted',
    fields: { deletedAt: deps.now() },
    reason: 'aborted',
  });
  if (!t.won && (t.row?.status === 'available' || t.row?.status === 'missing')) {
    throw errors.invalidState('The upload has completed; delete the file instead', { status: t.row.status });
  }
}
