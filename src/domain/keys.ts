// Object key layout. The workspace comes only from credentials; the extension only from a safe mapping.

const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EXT = /^(\.[a-z0-9]{1,10})?$/;

/** Workspace ids become part of object keys, so they are restricted to a safe alphabet. */
export function isValidWorkspaceId(id: unknown): id is string {
  return typeof id === 'string' && WORKSPACE_ID.test(id);
}

export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

export function workspacePrefix(workspaceId: string): string {
  if (!isValidWorkspaceId(workspaceId)) throw new Error(`invalid workspace id: ${JSON.stringify(workspaceId)}`);
  return `workspaces/${workspaceId}/`;
}

/** `workspaces/{workspaceId}/files/{fileId}{.ext}` */
export function objectKey(workspaceId: string, fileId: string, ext: string): string {
  if (!isUuid(fileId)) throw new Error(`invalid file id: ${JSON.stringify(fileId)}`);
  if (!EXT.test(ext)) throw new Error(`invalid extension: ${JSON.stringify(ext)}`);
  return `${workspacePrefix(workspaceId)}files/${fileId}${ext}`;
}

/** Inverse of objectKey; null for keys outside the layout. */
export function parseObjectKey(key: string): { workspaceId: string; fileId: string; ext: string } | null {
  const m = /^workspaces\/([^/]+)\/files\/([0-9a-f-]{36})((?:\.[a-z0-9]{1,10})?)$/.exec(key);
  if (!m) return null;
  const [, workspaceId, fileId, ext] = m;
  if (!isValidWorkspaceId(workspaceId) || !isUuid(fileId)) return null;
  return { workspaceId, fileId, ext: ext ?? '' };
}
