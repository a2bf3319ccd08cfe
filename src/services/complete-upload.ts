// POST /v1/uploads/:id/complete (and the storage-event / sweeper paths): verify the object against the declaration
// and move the file out of `pending` — through `transition`, so concurrent or repeated calls make one change and all
// get the same answer.
import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import type { Deps } from './deps.ts';
import type { HeadResult } from '../storage/port.ts';
import { errors } from '../errors/index.ts';
import { extendPendingExpiry, getFile, restorePendingExpiry, type FileRow } from '../db/files.ts';
import { essenceOf } from '../domain/content-types.ts';
import { storedContentDisposition } from '../domain/disposition.ts';
import { isUuid } from '../domain/keys.ts';
import { claimedPartsProblem, type ClaimedPart } from '../domain/part-plan.ts';
import { evaluateSniff, SNIFF_BYTES } from '../domain/sniff-policy.ts';
import { transition } from './transition.ts';
import { toFileView } from './views.ts';
import { measureUndeclared, sizeUndeclared } from './undeclared-size.ts';

export type RejectReason =
  | 'size_mismatch'
  | 'content_type_mismatch'
  | 'checksum_mismatch'
  | 'disposition_mismatch'
  | 'active_content'
  | 'executable_content';

export type Verification =
  | { ok: true; etag: string | undefined }
  | { ok: false; reason: RejectReason; message: string }
  | { ok: 'absent' };

/** Checks the stored object against the row: size, content type, checksum, and the first bytes. No state change. */
export async function verifyObject(deps: Deps, row: FileRow): Promise<Verification> {
  // Without a declared checksum, one ranged GET gives both the metadata and the bytes to sniff; a declared checksum
  // needs HeadObject (stores report the whole-object checksum only there), then the bytes.
  const probe = row.checksumSha256 === null
    ? await deps.storage.sample(row.objectKey, SNIFF_BYTES)
    : await headThenSample(deps, row.objectKey);
  if (!probe) return { ok: 'absent' };
  const { head, bytes: sample } = probe;
  if (head.size !== row.size) {
    return { ok: false, reason: 'size_mismatch', message: `Stored size ${head.size} differs from declared ${row.size}` };
  }
  if (essenceOf(head.contentType ?? '') !== essenceOf(row.contentType)) {
    return {
      ok: false,
      reason: 'content_type_mismatch',
      message: `Stored content type ${head.contentType ?? '(none)'} differs from declared ${row.contentType}`,
    };
  }
  // cloudfront serves the stored Content-Disposition: an object without the expected one (e.g. created before the
  // deployment switched to cloudfront, or by a store that ignored the signed header) would be served inline.
  const disposition = storedContentDisposition(deps.config.downloads?.strategy, row);
  if (disposition !== null && head.contentDisposition !== disposition) {
    return {
      ok: false,
      reason: 'disposition_mismatch',
      message: `Stored Content-Disposition ${head.contentDisposition ?? '(none)'} differs from the expected ${disposition}`,
    };
  }
  if (row.checksumSha256) {
    let actual: string | undefined;
    if (head.checksumSha256 && (head.checksumType ?? 'FULL_OBJECT') === 'FULL_OBJECT') actual = head.checksumSha256;
    else actual = await hashObject(deps, row.objectKey);
    if (actual !== row.checksumSha256) {
      return { ok: false, reason: 'checksum_mismatch', message: 'Stored content does not match the declared SHA-256' };
    }
  }
  const detected = await fileTypeFromBuffer(sample).catch(() => undefined);
  const verdict = evaluateSniff({ declared: row.contentType, head: sample, detected });
  if (!verdict.ok) return { ok: false, reason: verdict.reason, message: verdict.message };
  return { ok: true, etag: head.etag };
}

async function headThenSample(deps: Deps, key: string): Promise<{ head: HeadResult; bytes: Uint8Array } | null> {
  const head = await deps.storage.head(key, { checksum: true });
  if (!head) return null;
  const bytes = await deps.storage.rangeGet(key, 0, SNIFF_BYTES - 1);
  return bytes === null ? null : { head, bytes };
}

/** SHA-256 (base64) of a whole object, streamed in ranges — for stores whose HeadObject reports no checksum. */
async function hashObject(deps: Deps, key: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  const chunk = 8 * 1024 * 1024;
  for (let offset = 0; ; offset += chunk) {
    const bytes = await deps.storage.rangeGet(key, offset, offset + chunk - 1);
    if (bytes === null) return undefined;
    hash.update(bytes);
    if (bytes.length < chunk) break;
  }
  return hash.digest('base64');
}

/**
 * Settles a pending file: verifies the object and makes the one transition to `available` or `rejected`.
 * Returns the row after the call (the winner's result if another caller got there first), or `absent` when the
 * object is not in storage yet (the file stays pending).
 */
export function settleUpload(deps: Deps, row: FileRow): Promise<FileRow | 'absent'> {
  if (row.status !== 'pending') return Promise.resolve(row);
  // One verification per file at a time in this process: a confirm, its retries, the storage event and the sweeper
  // arriving together share it instead of each reading the object (a declared checksum reads all of it).
  let running = settling.get(deps.db);
  if (!running) settling.set(deps.db, (running = new Map()));
  const current = running.get(row.id);
  if (current) return current;
  const p = settleOnce(deps, row).finally(() => running.delete(row.id));
  running.set(row.id, p);
  return p;
}

const settling = new WeakMap<object, Map<string, Promise<FileRow | 'absent'>>>();

async function settleOnce(deps: Deps, row: FileRow): Promise<FileRow | 'absent'> {
  if (sizeUndeclared(row)) {
    // Created without a size (Uppy): measure it, check the limits and reserve it first.
    const measured = await measureUndeclared(deps, row);
    if (measured === 'absent') return 'absent';
    row = measured;
    if (row.status !== 'pending') return row;
  }
  const v = await verifyObject(deps, row);
  if (v.ok === 'absent') {
    // Someone else may have settled it (and a rejection deletes the object) meanwhile: re-read before answering.
    const again = await getFile(deps.db, row.workspaceId, row.id);
    if (again && again.status !== 'pending') return again;
    return 'absent';
  }
  const now = deps.now();
  const t =
    v.ok === true
      ? await transition(deps, {
          fileId: row.id,
          from: ['pending'],
          to: 'available',
          fields: { etag: v.etag ?? null, completedAt: now, rejectReason: null },
        })
      : await transition(deps, {
          fileId: row.id,
          from: ['pending'],
          to: 'rejected',
          fields: { rejectReason: v.reason, completedAt: now },
          reason: `rejected:${v.reason}`,
        });
  if (t.won) {
    deps.log.info(
      { fileId: row.id, workspaceId: row.workspaceId, status: t.row?.status, reason: v.ok === true ? undefined : v.reason },
      'upload settled',
    );
  }
  if (!t.row) throw errors.notFound('File');
  return t.row;
}

/** The answer for a file's state as seen by the complete endpoint: the file, or the error it stands for. */
export function completionOutcome(row: FileRow): FileRow {
  switch (row.status) {
    case 'available':
      return row;
    case 'rejected':
      throw errors.verificationFailed(row.rejectReason ?? 'unknown', rejectMessage(row.rejectReason), {
        file: toFileView(row),
      });
    case 'pending':
      throw errors.uploadNotFoundInStorage();
    default:
      throw errors.invalidState(`The upload is ${row.status} and can no longer be completed`, {
        status: row.status,
      });
  }
}

function rejectMessage(reason: string | null): string {
  switch (reason) {
    case 'size_mismatch':
      return 'The uploaded object does not have the declared size';
    case 'content_type_mismatch':
      return 'The uploaded content does not match the declared content type';
    case 'checksum_mismatch':
      return 'The uploaded content does not match the declared SHA-256';
    case 'disposition_mismatch':
      return 'The uploaded object does not carry the Content-Disposition it was signed for';
    case 'active_content':
      return 'The uploaded content is HTML, SVG or script, which contradicts the declared content type';
    case 'executable_content':
      return 'The uploaded content is an executable, which contradicts the declared content type';
    case 'file_too_large':
      return 'The uploaded object is larger than the workspace allows';
    case 'quota_exceeded':
      return 'The uploaded object does not fit in the workspace quota';
    case 'empty':
      return 'The uploaded object is empty';
    default:
      return 'The upload failed verification';
  }
}

/** Hook for multipart completion (another module): run before verification while the file is pending. */
export interface MultipartFinisher {
  /** `claimed`: the client's own part list (every part, with its ETag), when it sent one. */
  finish(deps: Deps, row: FileRow, claimed?: readonly ClaimedPart[]): Promise<void>;
}
let multipartFinisher: MultipartFinisher | null = null;
export function registerMultipartFinisher(f: MultipartFinisher | null): void {
  multipartFinisher = f;
}

/**
 * How long a completion may hold its upload past the expiry (CompleteMultipartUpload of a large upload, verification)
 * before the sweeper may act; never more than one pending TTL, so a lease left by a crashed process ends soon.
 */
const COMPLETION_LEASE_MS = 10 * 60_000;

/**
 * `parts`: optionally, the client's list of every part with the ETag storage answered (multipart uploads of declared
 * size), which spares listing the parts in storage; a list that does not name each part once is a 400.
 */
export async function completeUpload(
  deps: Deps,
  workspaceId: string,
  fileId: string,
  parts?: readonly ClaimedPart[],
): Promise<FileRow> {
  if (!isUuid(fileId)) throw errors.notFound('Upload');
  let row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('Upload');
  if (row.status !== 'pending') return completionOutcome(row);
  let claimed: readonly ClaimedPart[] | undefined;
  if (parts && row.uploadMethod !== 'multipart') throw errors.invalidRequest('parts apply only to multipart uploads');
  // An upload of undeclared size (Uppy) is measured from storage's own part list: a claimed one is not needed.
  if (parts && !sizeUndeclared(row) && row.partSize && row.partCount) {
    const problem = claimedPartsProblem({ partSize: row.partSize, partCount: row.partCount, totalSize: row.size }, parts);
    if (problem) throw errors.invalidRequest(problem, { partCount: row.partCount });
    claimed = parts;
  }
  // Close to (or past) its expiry, the upload could be expired by the sweeper while storage completes it: take a lease
  // on the row, and give it back if the upload stays pending (a failure, parts missing), so that it expires on time.
  const leaseUntil = new Date(deps.now().getTime() + Math.min(COMPLETION_LEASE_MS, deps.config.uploads.pendingTtlSeconds * 1000));
  let leasedFrom: Date | null = null;
  if (row.expiresAt < leaseUntil) {
    const leased = await extendPendingExpiry(deps.db, row.id, leaseUntil);
    if (!leased) {
      const now = await getFile(deps.db, workspaceId, fileId);
      if (!now) throw errors.notFound('Upload');
      return completionOutcome(now);
    }
    // Give back what this lease replaced (a concurrent completion may have leased before us).
    leasedFrom = leased.replaced;
    row = leased.row;
  }
  try {
    if (row.uploadMethod === 'multipart' && multipartFinisher) await multipartFinisher.finish(deps, row, claimed);
    const settled = await settleUpload(deps, row);
    if (settled === 'absent') throw errors.uploadNotFoundInStorage();
    return completionOutcome(settled);
  } catch (err) {
    if (leasedFrom) await restorePendingExpiry(deps.db, row.id, leasedFrom, leaseUntil).catch(() => undefined);
    throw err;
  }
}
