// POST /v1/uploads: validate, reserve quota atomically, presign, record the pending row.
import { randomUUID } from 'node:crypto';
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { ensureWorkspace, getWorkspace } from '../db/workspaces.ts';
import { insertReservedFile, type FileRow, type UploadMethod } from '../db/files.ts';
import { objectKey } from '../domain/keys.ts';
import { contentTypeAllowed, reservationRefusal } from '../domain/limits.ts';
import { extensionFor, normalizeContentType } from '../domain/content-types.ts';
import { sanitizeFilename } from '../domain/filename.ts';
import { storedContentDisposition } from '../domain/disposition.ts';
import { toFileView, type FileView } from './views.ts';
import type { SignedPartView } from './multipart.ts';

/** S3's limit for a single PutObject / POST upload. */
export const MAX_SINGLE_UPLOAD_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_METADATA_BYTES = 4096;
export const MAX_METADATA_DEPTH = 16;

/** True when a JSON value nests deeper than `max` levels (iterative: safe on hostile input). */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    // Width is bounded by the byte limit checked next; stop walking huge values early.
    if (++visited > 100_000) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/** Why a metadata value cannot be stored (shared by every route that takes metadata), or null. */
export function metadataProblem(metadata: unknown): string | null {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return 'must be a JSON object';
  // Measured without recursion first: JSON.stringify of a deeply nested value overflows the stack (a 500).
  if (jsonDepthExceeds(metadata, MAX_METADATA_DEPTH)) return `must be nested at most ${MAX_METADATA_DEPTH} levels deep`;
  const json = JSON.stringify(metadata);
  // Postgres text and jsonb cannot hold NUL: refuse it here (a 400 naming the field) rather than fail at INSERT.
  if (/(?<!\\)(?:\\\\)*\\u0000/.test(json)) return 'must not contain NUL characters';
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) return `must be at most ${MAX_METADATA_BYTES} bytes of JSON`;
  return null;
}

const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

export interface CreateUploadInput {
  workspaceId: string;
  uploader: string | null;
  filename: string;
  contentType: string;
  size: number;
  checksumSha256?: string | null;
  metadata?: Record<string, unknown> | null;
  method?: UploadMethod;
  fingerprint?: string | null;
  /** Multipart only: the parts will carry x-amz-checksum-sha256 (the upload is created with ChecksumAlgorithm SHA256). */
  partChecksums?: boolean;
}

export type UploadInstructions =
  | { method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: string }
  | { method: 'POST'; url: string; fields: Record<string, string>; expiresAt: string }
  | {
      method: 'MULTIPART';
      uploadId: string;
      partSize: number;
      partCount: number;
      expiresAt: string;
      /** URLs for the first parts (up to MULTIPART_PARTS_SIGNED_AT_CREATE); the rest from POST /v1/uploads/:id/parts. */
      parts?: SignedPartView[];
      /** When those URLs expire. */
      partsExpireAt?: string;
    };

/**
 * Hook for the multipart flow (another module): given the reserved key, starts the multipart upload and returns
 * the extra columns and instructions. Until one is registered, `method: "multipart"` is refused.
 */
export interface MultipartStarter {
  start(
    deps: Deps,
    input: {
      fileId: string;
      key: string;
      contentType: string;
      size: number;
      checksumSha256: string | null;
      partChecksums: boolean;
      /** Content-Disposition to store on the completed object (cloudfront downloads), or null. */
      contentDisposition?: string | null;
      expiresAt: Date;
    },
  ): Promise<{
    multipartUploadId: string;
    partSize: number;
    partCount: number;
    instructions: UploadInstructions;
  }>;
  /** Called when the reservation is refused after `start` succeeded. */
  abort?(deps: Deps, input: { key: string; multipartUploadId: string }): Promise<void>;
}
let multipartStarter: MultipartStarter | null = null;
export function registerMultipartStarter(s: MultipartStarter | null): void {
  multipartStarter = s;
}

export interface ValidatedUpload {
  filename: string;
  contentType: string;
  size: number;
  checksumSha256: string | null;
  metadata: Record<string, unknown>;
  method: UploadMethod;
  fingerprint: string | null;
}

/** Input checks that do not depend on the workspace's limits. */
export function validateUploadInput(input: CreateUploadInput): ValidatedUpload {
  const problems: Record<string, string> = {};
  if (!Number.isSafeInteger(input.size) || input.size <= 0) problems.size = 'must be a positive whole number of bytes';
  const contentType = normalizeContentType(input.contentType);
  if (!contentType) problems.contentType = 'must be a valid media type such as image/png';
  if (typeof input.filename !== 'string' || input.filename.length === 0) problems.filename = 'is required';
  else if (input.filename.length > 65_536) problems.filename = 'must be at most 65536 characters';
  const checksum = input.checksumSha256 ?? null;
  if (checksum !== null && (typeof checksum !== 'string' || !SHA256_BASE64.test(checksum))) {
    problems.checksumSha256 = 'must be the base64 SHA-256 of the content (44 characters)';
  }
  const metadata = input.metadata ?? {};
  const metadataIssue = metadataProblem(metadata);
  if (metadataIssue) problems.metadata = metadataIssue;
  const method = input.method ?? 'put';
  if (!['put', 'post', 'multipart'].includes(method)) problems.method = 'must be put, post or multipart';
  const fingerprint = input.fingerprint ?? null;
  if (fingerprint !== null && (typeof fingerprint !== 'string' || fingerprint.length === 0 || fingerprint.length > 256 || fingerprint.includes('\0'))) {
    problems.fingerprint = 'must be a string of 1 to 256 characters';
  }
  if (Object.keys(problems).length > 0) {
    throw errors.invalidRequest('Invalid upload request: ' + Object.keys(problems).join(', '), { fields: problems });
  }
  return {
    filename: sanitizeFilename(input.filename),
    contentType: contentType!,
    size: input.size,
    checksumSha256: checksum,
    metadata: metadata as Record<string, unknown>,
    method,
    fingerprint,
  };
}

export async function createUpload(
  deps: Deps,
  input: CreateUploadInput,
): Promise<{ file: FileView; upload: UploadInstructions; row: FileRow }> {
  const v = validateUploadInput(input);
  // No method asked for: multipart above the deployment's threshold (and always above S3's single-upload limit).
  if (input.method === undefined && multipartStarter) {
    if (v.size > deps.config.uploads.multipartThresholdBytes || v.size > MAX_SINGLE_UPLOAD_SIZE) v.method = 'multipart';
  }
  const ws = await ensureWorkspace(deps.db, input.workspaceId, deps.config.workspaceDefaults);
  if (v.size > ws.maxFileSize) throw errors.fileTooLarge(v.size, ws.maxFileSize);
  if (!contentTypeAllowed(ws.allowedContentTypes, v.contentType)) {
    throw errors.contentTypeNotAllowed(v.contentType, ws.allowedContentTypes);
  }
  if (v.method !== 'multipart' && v.size > MAX_SINGLE_UPLOAD_SIZE) {
    throw errors.invalidRequest(`Files over ${MAX_SINGLE_UPLOAD_SIZE} bytes must use method "multipart"`, {
      maxSingleUploadSize: MAX_SINGLE_UPLOAD_SIZE,
    });
  }
  if (v.method === 'multipart' && !multipartStarter) {
    throw errors.invalidRequest('method "multipart" is not available on this server');
  }

  const now = deps.now();
  const fileId = randomUUID();
  const key = objectKey(input.workspaceId, fileId, extensionFor(v.contentType));
  const urlTtl = deps.config.uploads.urlTtlSeconds;
  const urlExpiresAt = new Date(now.getTime() + urlTtl * 1000);
  const expiresAt = new Date(now.getTime() + deps.config.uploads.pendingTtlSeconds * 1000);

  // Presigning is local computation (no storage call), so it happens before the transaction to keep the workspace
  // row lock short. A multipart upload is created in storage first and aborted if the reservation is refused.
  let upload: UploadInstructions;
  let multipart: { multipartUploadId: string; partSize: number; partCount: number } | null = null;
  // Stored on the object only when downloads serve the stored value (cloudfront); null otherwise.
  const disposition = storedContentDisposition(deps.config.downloads?.strategy, v);
  if (v.method === 'put') {
    const p = await deps.storage.presignPut({
      key,
      contentType: v.contentType,
      contentLength: v.size,
      checksumSha256: v.checksumSha256,
      contentDisposition: disposition,
      expiresIn: urlTtl,
    });
    upload = { method: 'PUT', url: p.url, headers: p.headers, expiresAt: urlExpiresAt.toISOString() };
  } else if (v.method === 'post') {
    const p = await deps.storage.presignPost({
      key,
      contentType: v.contentType,
      contentLength: v.size,
      contentDisposition: disposition,
      expiresIn: urlTtl,
    });
    upload = { method: 'POST', url: p.url, fields: p.fields, expiresAt: urlExpiresAt.toISOString() };
  } else {
    const m = await multipartStarter!.start(deps, {
      fileId,
      key,
      contentType: v.contentType,
      size: v.size,
      checksumSha256: v.checksumSha256,
      partChecksums: input.partChecksums === true,
      contentDisposition: disposition,
      expiresAt,
    });
    multipart = m;
    upload = m.instructions;
  }

  let row: FileRow;
  try {
    const inserted = await insertReservedFile(deps.db, {
      id: fileId,
      workspaceId: input.workspaceId,
      objectKey: key,
      filename: v.filename,
      contentType: v.contentType,
      size: v.size,
      checksumSha256: v.checksumSha256,
      metadata: v.metadata,
      uploader: input.uploader,
      uploadMethod: v.method,
      multipartUploadId: multipart?.multipartUploadId ?? null,
      partSize: multipart?.partSize ?? null,
      partCount: multipart?.partCount ?? null,
      fingerprint: v.fingerprint,
      createdAt: now,
      expiresAt,
    });
    if (!inserted) {
      const current = (await getWorkspace(deps.db, input.workspaceId)) ?? ws;
      const limit = reservationRefusal(current, current, v.size) ?? 'quota_bytes';
      const messages = {
        quota_bytes: 'Storage quota exceeded',
        max_files: 'Maximum number of files reached',
        max_pending: 'Too many uploads in progress',
      } as const;
      throw errors.quotaExceeded(limit, messages[limit], {
        quotaBytes: current.quotaBytes,
        usedBytes: current.usedBytes,
        reservedBytes: current.reservedBytes,
        maxFiles: current.maxFiles,
        maxPending: current.maxPending,
      });
    }
    row = inserted;
  } catch (err) {
    if (multipart && multipartStarter?.abort) {
      await multipartStarter.abort(deps, { key, multipartUploadId: multipart.multipartUploadId }).catch((e) => {
        deps.log.warn({ err: e, key }, 'aborting the multipart upload of a refused reservation failed');
      });
    }
    throw err;
  }
  return { file: toFileView(row), upload, row };
}
