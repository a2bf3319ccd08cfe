// DELETE /v1/uploads/:id — abandons an unfinished upload: the reservation is released and the multipart upload
// aborted (through the one transition function; the outbox retries if storage is unreachable). Idempotent.
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { getFile } from '../db/files.ts';
import { isUuid } from '../domain/keys.ts';
import { transition } from './transition.ts';

export async function abortUpload(deps: Deps, workspaceId: string, fileId: string): Promise<void> {
  if (!isUuid(fileId)) throw errors.notFound('Upload');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('Upload');
  if (row.status === 'available' || row.status === 'missing') {
    throw errors.invalidState('The upload is complete; delete the file with DELETE /v1/files/:id', { status: row.status });
  }
  if (row.status === 'pending') {
    const t = await transition(deps, {
      fileId: row.id,
      from: ['pending'],
      to: 'deleted',
      fields: { deletedAt: deps.now() },
      reason: 'aborted',
    });
    if (!t.won && t.row && (t.row.status === 'available' || t.row.status === 'missing')) {
      throw errors.invalidState('The upload was completed meanwhile', { status: t.row.status });
    }
  }
  // Abort now rather than waiting for the outbox (which also does it, and retries on failure).
  if (row.multipartUploadId) {
    await deps.storage.abortMultipart(row.objectKey, row.multipartUploadId).catch((err) => {
      deps.log.warn({ err, fileId: row.id }, 'AbortMultipartUpload failed; the deletion outbox will retry');
    });
  }
}
