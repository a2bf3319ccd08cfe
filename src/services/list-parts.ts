// GET /v1/uploads/:id/parts — the parts storage already holds (ListParts, every page) and the plan, so a client
// resumes by sending only what is missing.
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { getFile } from '../db/files.ts';
import { isUuid } from '../domain/keys.ts';
import { planOf, storedParts } from './multipart.ts';

export interface PartsView {
  parts: { partNumber: number; size: number; etag: string }[];
  partSize: number;
  partCount: number;
}

export async function listUploadParts(deps: Deps, workspaceId: string, fileId: string): Promise<PartsView> {
  if (!isUuid(fileId)) throw errors.notFound('Upload');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('Upload');
  const plan = planOf(row);
  if (row.status !== 'pending') throw errors.invalidState(`The upload is ${row.status}`, { status: row.status });
  const parts = await storedParts(deps, row);
  if (parts === null) throw errors.invalidState('The multipart upload no longer exists in storage', { status: row.status });
  return {
    parts: parts
      .sort((a, b) => a.partNumber - b.partNumber)
      .map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag })),
    partSize: plan.partSize,
    partCount: plan.partCount,
  };
}
