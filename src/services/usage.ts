// GET /v1/usage
import type { Deps } from './deps.ts';
import { ensureWorkspace } from '../db/workspaces.ts';

export interface UsageView {
  usedBytes: number;
  reservedBytes: number;
  quotaBytes: number;
  fileCount: number;
  maxFiles: number;
  pendingCount: number;
  maxPending: number;
  maxFileSize: number;
  allowedContentTypes: string[];
}

export async function getUsage(deps: Deps, workspaceId: string): Promise<UsageView> {
  const w = await ensureWorkspace(deps.db, workspaceId, deps.config.workspaceDefaults);
  return {
    usedBytes: w.usedBytes,
    reservedBytes: w.reservedBytes,
    quotaBytes: w.quotaBytes,
    fileCount: w.fileCount,
    maxFiles: w.maxFiles,
    pendingCount: w.pendingCount,
    maxPending: w.maxPending,
    maxFileSize: w.maxFileSize,
    allowedContentTypes: w.allowedContentTypes,
  };
}
