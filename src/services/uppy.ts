// Companion-compatible S3 signing for the official @uppy/aws-s3 plugin (v5 `endpoint`, v6 `companionEndpoint`).
// Uppy authenticates with a short-lived upload token in the URL path (Uppy 6 sends no custom headers) and never says
// the file size, so limits are enforced by the POST policy (content-length-range), by part signing (refusing parts
// that could only belong to a file over the limit) and at completion (measured size checked and reserved atomically;
// too large or over quota → rejected and deleted). Every key and uploadId is checked against the token's workspace.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { ensureWorkspace, getWorkspace, type WorkspaceRow } from '../db/workspaces.ts';
import { getFile, insertReservedFile, type FileRow, type UploadMethod } from '../db/files.ts';
import { findUploadToken, insertUploadToken } from '../db/upload-tokens.ts';
import { isUuid, objectKey, workspacePrefix } from '../domain/keys.ts';
import { contentTypeAllowed, remainingBytes, reservationRefusal } from '../domain/limits.ts';
import { extensionFor, normalizeContentType } from '../domain/content-types.ts';
import { sanitizeFilename } from '../domain/filename.ts';
import { storedContentDisposition } from '../domain/disposition.ts';
import { MAX_PARTS, MIN_PART_SIZE, inferPlan } from '../domain/part-plan.ts';
import { completeUpload } from './complete-upload.ts';
import { abortUpload } from './delete-file.ts';
import { partsError, storedParts } from './multipart.ts';
import { declareMeasuredSize } from './undeclared-size.ts';
import { createUpload, metadataProblem } from './create-upload.ts';

export const UPPY_TOKEN_TTL_SECONDS = 3600;
export const UPPY_TOKEN_MAX_TTL_SECONDS = 24 * 3600;

export interface UppyAuth {
  workspaceId: string;
  subject: string | null;
}

// ---- tokens ----------------------------------------------------------------------------------------------------------

export async function mintUppyToken(
  deps: Deps,
  input: { workspaceId: string; subject: string | null; ttlSeconds?: number },
): Promise<{ token: string; expiresAt: Date }> {
  const ttl = input.ttlSeconds ?? UPPY_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > UPPY_TOKEN_MAX_TTL_SECONDS) {
    throw errors.invalidRequest(`ttlSeconds must be between 60 and ${UPPY_TOKEN_MAX_TTL_SECONDS}`);
  }
  await ensureWorkspace(deps.db, input.workspaceId, deps.config.workspaceDefaults);
  const token = 'upt_' + randomBytes(24).toString('base64url');
  const expiresAt = new Date(deps.now().getTime() + ttl * 1000);
  await insertUploadToken(deps.db, { token, workspaceId: input.workspaceId, subject: input.subject, expiresAt });
  return { token, expiresAt };
}

export async function resolveUppyToken(deps: Deps, token: string): Promise<UppyAuth> {
  if (!/^upt_[A-Za-z0-9_-]{32}$/.test(token)) throw errors.unauthorized('Invalid upload token');
  const row = await findUploadToken(deps.db, token, deps.now());
  if (!row) throw errors.unauthorized('Invalid or expired upload token');
  return { workspaceId: row.workspaceId, subject: row.subject };
}

// ---- creation --------------------------------------------------------------------------------------------------------

export interface UppyFileInput {
  filename: unknown;
  type: unknown;
  metadata?: unknown;
}

/** The most bytes a new upload of this workspace may hold right now (max file size, remaining quota). */
function byteLimit(ws: WorkspaceRow): number {
  return Math.min(ws.maxFileSize, remainingBytes(ws, ws));
}

/** A pending file whose size is not declared (0): takes a pending slot, reserves no bytes until measured. */
async function createUndeclared(
  deps: Deps,
  auth: UppyAuth,
  input: UppyFileInput,
  method: UploadMethod,
  startMultipart?: (key: string, contentType: string) => Promise<string>,
): Promise<{ row: FileRow; ws: WorkspaceRow }> {
  if (typeof input.filename !== 'string' || input.filename.length === 0 || input.filename.length > 10_000) {
    throw errors.invalidRequest('filename is required');
  }
  const contentType = normalizeContentType(typeof input.type === 'string' && input.type ? input.type : 'application/octet-stream');
  if (!contentType) throw errors.invalidRequest('type must be a valid media type');
  const metadata = input.metadata && typeof input.metadata === 'object' && !Array.isArray(input.metadata) ? input.metadata : {};
  const metadataIssue = metadataProblem(metadata);
  if (metadataIssue) throw errors.invalidRequest(`metadata ${metadataIssue}`);
  const ws = await ensureWorkspace(deps.db, auth.workspaceId, deps.config.workspaceDefaults);
  if (!contentTypeAllowed(ws.allowedContentTypes, contentType)) throw errors.contentTypeNotAllowed(contentType, ws.allowedContentTypes);
  if (byteLimit(ws) < 1) throw errors.quotaExceeded('quota_bytes', 'Storage quota exceeded', { quotaBytes: ws.quotaBytes });

  const now = deps.now();
  const fileId = randomUUID();
  const key = objectKey(auth.workspaceId, fileId, extensionFor(contentType));
  const multipartUploadId = startMultipart ? await startMultipart(key, contentType) : null;
  try {
    const row = await insertReservedFile(deps.db, {
      id: fileId,
      workspaceId: auth.workspaceId,
      objectKey: key,
      filename: sanitizeFilename(input.filename as string),
      contentType,
      size: 0,
      checksumSha256: null,
      metadata: metadata as Record<string, unknown>,
      uploader: auth.subject,
      uploadMethod: method,
      multipartUploadId,
      fingerprint: null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.uploads.pendingTtlSeconds * 1000),
    });
    if (!row) {
      const current = (await getWorkspace(deps.db, auth.workspaceId)) ?? ws;
      const limit = reservationRefusal(current, current, 0) ?? 'max_pending';
      throw errors.quotaExceeded(limit, limit === 'max_files' ? 'Maximum number of files reached' : 'Too many uploads in progress');
    }
    return { row, ws };
  } catch (err) {
    if (multipartUploadId) await deps.storage.abortMultipart(key, multipartUploadId).catch(() => undefined);
    throw err;
  }
}

/**
 * GET /s3/params: a presigned POST form (Uppy 6 always posts), or a presigned PUT when asked (`method=PUT`, for stores
 * without POST forms such as R2). A PUT URL cannot carry a size range, so it needs the size (`size=`): the upload is
 * then declared, reserved and signed with that exact Content-Length like any POST /v1/uploads.
 */
export async function uppyParams(
  deps: Deps,
  auth: UppyAuth,
  input: UppyFileInput & { method?: string; size?: unknown },
): Promise<
  | { method: 'POST'; url: string; fields: Record<string, string>; headers: Record<string, string>; expires: number }
  | { method: 'PUT'; url: string; headers: Record<string, string>; expires: number }
> {
  const expiresIn = deps.config.uploads.urlTtlSeconds;
  if (typeof input.method === 'string' && input.method.toUpperCase() === 'PUT') {
    const size = typeof input.size === 'string' && /^\d{1,16}$/.test(input.size) ? Number(input.size) : NaN;
    if (!Number.isSafeInteger(size) || size < 1) {
      throw errors.invalidRequest('method=PUT needs the file size (size=<bytes>): a PUT URL is signed for one exact size');
    }
    const { upload } = await createUpload(deps, {
      workspaceId: auth.workspaceId,
      uploader: auth.subject,
      filename: input.filename as string,
      contentType: typeof input.type === 'string' && input.type ? input.type : 'application/octet-stream',
      size,
      metadata: (input.metadata ?? {}) as Record<string, unknown>,
      method: 'put',
    });
    if (upload.method !== 'PUT') throw new Error(`expected PUT instructions, got ${upload.method}`);
    return { method: 'PUT', url: upload.url, headers: upload.headers, expires: expiresIn };
  }
  const { row, ws } = await createUndeclared(deps, auth, input, 'post');
  // cloudfront downloads: the object carries its Content-Disposition (a field the policy pins); Uppy sends every
  // form field as given.
  const contentDisposition = storedContentDisposition(deps.config.downloads?.strategy, row);
  const p = await deps.storage.presignPost({
    key: row.objectKey,
    contentType: row.contentType,
    contentLength: { min: 1, max: byteLimit(ws) },
    contentDisposition,
    expiresIn,
  });
  return { method: 'POST', url: p.url, fields: p.fields, headers: {}, expires: expiresIn };
}

/** POST /s3/multipart → {key, uploadId}; the uploadId Uppy sees is the file id (storage's id stays here). */
export async function uppyCreateMultipart(deps: Deps, auth: UppyAuth, input: UppyFileInput): Promise<{ key: string; uploadId: string }> {
  const { row } = await createUndeclared(deps, auth, input, 'multipart', async (key, contentType) => {
    // The row's filename is sanitizeFilename(input.filename) (validated as a string before this runs).
    const filename = sanitizeFilename(input.filename as string);
    const contentDisposition = storedContentDisposition(deps.config.downloads?.strategy, { filename, contentType });
    return (await deps.storage.createMultipart({ key, contentType, contentDisposition })).uploadId;
  });
  return { key: row.objectKey, uploadId: row.id };
}

// ---- the multipart calls ---------------------------------------------------------------------------------------------

/** The upload named by uploadId and ?key=, in the token's workspace; anything else is a 404. */
export async function uppyUpload(deps: Deps, auth: UppyAuth, uploadId: string, key: unknown): Promise<FileRow> {
  if (!isUuid(uploadId)) throw errors.notFound('Upload');
  if (typeof key === 'string' && key !== '' && !key.startsWith(workspacePrefix(auth.workspaceId))) throw errors.notFound('Upload');
  const row = await getFile(deps.db, auth.workspaceId, uploadId);
  if (!row || (typeof key === 'string' && key !== '' && key !== row.objectKey)) throw errors.notFound('Upload');
  if (row.uploadMethod !== 'multipart' || !row.multipartUploadId) throw errors.notFound('Upload');
  return row;
}

function requirePending(row: FileRow): void {
  if (row.status !== 'pending') throw errors.invalidState(`The upload is ${row.status}`, { status: row.status });
}

/** GET /s3/multipart/:uploadId/:partNumber → {url, expires}. Refuses parts that could only make the file too big. */
export async function uppySignPart(
  deps: Deps,
  auth: UppyAuth,
  uploadId: string,
  partNumberRaw: string,
  key: unknown,
): Promise<{ url: string; expires: number }> {
  const row = await uppyUpload(deps, auth, uploadId, key);
  requirePending(row);
  const partNumber = Number(partNumberRaw);
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw errors.invalidRequest(`partNumber must be between 1 and ${MAX_PARTS}`);
  }
  const ws = await getWorkspace(deps.db, auth.workspaceId);
  if (!ws) throw errors.notFound('Upload');
  const limit = byteLimit(ws);
  // Every part before this one is at least 5 MiB: past the limit, the file cannot fit.
  if ((partNumber - 1) * MIN_PART_SIZE >= limit) refuseTooBig(ws, limit);
  const stored = (await storedParts(deps, row)) ?? [];
  const held = stored.reduce((sum, p) => (p.partNumber === partNumber ? sum : sum + p.size), 0);
  if (held >= limit) refuseTooBig(ws, limit);
  const expiresIn = deps.config.uploads.urlTtlSeconds;
  const p = await deps.storage.presignPart({
    key: row.objectKey,
    uploadId: row.multipartUploadId!,
    partNumber,
    contentLength: null,
    expiresIn,
  });
  return { url: p.url, expires: expiresIn };
}

function refuseTooBig(ws: WorkspaceRow, limit: number): never {
  if (limit >= ws.maxFileSize) throw errors.fileTooLarge(limit + 1, ws.maxFileSize);
  throw errors.quotaExceeded('quota_bytes', 'Storage quota exceeded', { remainingBytes: limit });
}

/** GET /s3/multipart/:uploadId → the parts in storage, as Companion lists them. */
export async function uppyListParts(
  deps: Deps,
  auth: UppyAuth,
  uploadId: string,
  key: unknown,
): Promise<Array<{ PartNumber: number; Size: number; ETag: string }>> {
  const row = await uppyUpload(deps, auth, uploadId, key);
  requirePending(row);
  const parts = await storedParts(deps, row);
  if (parts === null) throw errors.invalidState('The multipart upload no longer exists in storage');
  return parts
    .sort((a, b) => a.partNumber - b.partNumber)
    .map((p) => ({ PartNumber: p.partNumber, Size: p.size, ETag: `"${p.etag}"` }));
}

/**
 * POST /s3/multipart/:uploadId/complete → {location, key}. Storage's own part list decides (the client's ETags only
 * name what it believes it sent): parts 1..n, equal sizes but the last; then the measured size is checked and
 * reserved, and the same completion + verification as every other upload runs.
 */
export async function uppyComplete(
  deps: Deps,
  auth: UppyAuth,
  uploadId: string,
  key: unknown,
  body: unknown,
): Promise<{ location: string; key: string }> {
  let row = await uppyUpload(deps, auth, uploadId, key);
  const answer = { location: objectLocation(deps, row.objectKey), key: row.objectKey };
  if (row.status === 'available') return answer; // repeated call
  requirePending(row);
  if (row.size === 0) {
    const stored = await storedParts(deps, row);
    if (stored === null) throw errors.invalidState('The multipart upload no longer exists in storage');
    const claimed = claimedParts(body);
    const inStorage = new Set(stored.map((p) => p.partNumber));
    const notStored = claimed.filter((n) => !inStorage.has(n));
    if (notStored.length) throw partsError({ missing: notStored, wrongSize: [] });
    const inferred = inferPlan(stored);
    if (!inferred.ok) throw partsError(inferred);
    row = await declareMeasuredSize(deps, row, {
      size: inferred.plan.totalSize,
      partSize: inferred.plan.partSize,
      partCount: inferred.plan.partCount,
    });
    if (row.status === 'rejected') {
      const ws = await getWorkspace(deps.db, auth.workspaceId);
      if (row.rejectReason === 'file_too_large') throw errors.fileTooLarge(inferred.plan.totalSize, ws?.maxFileSize ?? 0);
      if (row.rejectReason === 'quota_exceeded') {
        throw errors.quotaExceeded('quota_bytes', 'The upload does not fit in the storage quota; it was discarded', {
          size: inferred.plan.totalSize,
        });
      }
      throw errors.verificationFailed(row.rejectReason ?? 'unknown', 'The upload was refused');
    }
  }
  await completeUpload(deps, auth.workspaceId, row.id);
  return answer;
}

function claimedParts(body: unknown): number[] {
  const parts = (body as { parts?: unknown })?.parts;
  if (!Array.isArray(parts)) throw errors.invalidRequest('parts must be a list of {PartNumber, ETag}');
  return parts.map((p) => Number((p as { PartNumber?: unknown })?.PartNumber)).filter((n) => Number.isInteger(n));
}

/** DELETE /s3/multipart/:uploadId → {} (abort; idempotent). */
export async function uppyAbort(deps: Deps, auth: UppyAuth, uploadId: string, key: unknown): Promise<Record<string, never>> {
  const row = await uppyUpload(deps, auth, uploadId, key);
  await abortUpload(deps, auth.workspaceId, row.id);
  return {};
}

/** Where the object lives in storage (path-style), as Companion reports it. */
export function objectLocation(deps: Deps, key: string): string {
  const base = (deps.config.s3.endpoint ?? '').replace(/\/+$/, '');
  return `${base}/${deps.config.s3.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
