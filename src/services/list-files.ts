// GET /v1/files and GET /v1/files/:id.
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { getFile, listFiles as queryFiles, type FileRow, type ListCursor } from '../db/files.ts';
import { isFileStatus, type FileStatus } from '../domain/upload-state.ts';
import { isUuid } from '../domain/keys.ts';
import { toFileView, type FileView } from './views.ts';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export function encodeCursor(row: Pick<FileRow, 'createdAt' | 'id'>): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): ListCursor {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const [iso, id] = text.split('|');
  const createdAt = new Date(iso ?? '');
  if (!iso || Number.isNaN(createdAt.getTime()) || !isUuid(id)) throw errors.invalidRequest('Invalid cursor');
  return { createdAt, id };
}

export function parseStatuses(raw: string | undefined): FileStatus[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const list = raw.split(',').map((s) => s.trim());
  const bad = list.filter((s) => !isFileStatus(s));
  if (bad.length > 0) throw errors.invalidRequest(`Unknown status: ${bad.join(', ')}`);
  return list as FileStatus[];
}

export async function listFiles(
  deps: Deps,
  workspaceId: string,
  q: { cursor?: string; limit?: number; status?: string; fingerprint?: string },
): Promise<{ items: FileView[]; nextCursor: string | null }> {
  const limit = q.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw errors.invalidRequest(`limit must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  const rows = await queryFiles(deps.db, workspaceId, {
    statuses: parseStatuses(q.status),
    cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
    fingerprint: q.fingerprint,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toFileView),
    nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
  };
}

export async function getFileView(deps: Deps, workspaceId: string, fileId: string): Promise<FileView> {
  if (!isUuid(fileId)) throw errors.notFound('File');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('File');
  return toFileView(row);
}
