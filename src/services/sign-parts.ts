// POST /v1/uploads/:id/parts — presigned UploadPart URLs, signed lazily in batches (the create answer carries the
// first ones): each URL signs that part's exact Content-Length (and its SHA-256 when the client gives one).
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import { getFile } from '../db/files.ts';
import { isUuid } from '../domain/keys.ts';
import { planOf, presignPlannedParts, type SignedPartView } from './multipart.ts';

export type { SignedPartView };

export const MAX_PARTS_PER_SIGN_REQUEST = 1000;
const SHA256_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

export interface SignPartsInput {
  partNumbers: unknown;
  checksumsSha256?: unknown;
}

export async function signParts(
  deps: Deps,
  workspaceId: string,
  fileId: string,
  input: SignPartsInput,
): Promise<{ parts: SignedPartView[]; expiresAt: string }> {
  if (!isUuid(fileId)) throw errors.notFound('Upload');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row) throw errors.notFound('Upload');
  const plan = planOf(row);
  if (row.status !== 'pending') throw errors.invalidState(`The upload is ${row.status}`, { status: row.status });
  const now = deps.now();
  if (row.expiresAt <= now) throw errors.invalidState('The upload has expired', { status: 'expired' });

  const { partNumbers, checksumsSha256 } = input ?? {};
  if (!Array.isArray(partNumbers) || partNumbers.length === 0 || partNumbers.length > MAX_PARTS_PER_SIGN_REQUEST) {
    throw errors.invalidRequest(`partNumbers must be a list of 1 to ${MAX_PARTS_PER_SIGN_REQUEST} part numbers`);
  }
  const bad = partNumbers.filter((n) => !Number.isInteger(n) || n < 1 || n > plan.partCount);
  if (bad.length > 0) {
    throw errors.invalidRequest(`Part numbers outside 1..${plan.partCount}: ${bad.slice(0, 20).join(', ')}`, {
      partCount: plan.partCount,
      invalidPartNumbers: bad.slice(0, 100),
    });
  }
  const numbers = [...new Set(partNumbers as number[])];
  const sums: Record<string, string> = {};
  if (checksumsSha256 !== undefined && checksumsSha256 !== null) {
    if (typeof checksumsSha256 !== 'object' || Array.isArray(checksumsSha256)) {
      throw errors.invalidRequest('checksumsSha256 must be an object {partNumber: base64 SHA-256}');
    }
    for (const [k, v] of Object.entries(checksumsSha256 as Record<string, unknown>)) {
      if (!numbers.includes(Number(k)) || typeof v !== 'string' || !SHA256_BASE64.test(v)) {
        throw errors.invalidRequest(`checksumsSha256["${k}"] must be the base64 SHA-256 of a requested part`);
      }
      sums[String(Number(k))] = v;
    }
  }

  // URLs never outlive the upload itself.
  const untilExpiry = Math.floor((row.expiresAt.getTime() - now.getTime()) / 1000);
  const expiresIn = Math.max(1, Math.min(deps.config.uploads.urlTtlSeconds, untilExpiry));
  const parts = await presignPlannedParts(
    deps,
    { key: row.objectKey, multipartUploadId: row.multipartUploadId!, plan },
    numbers,
    sums,
    expiresIn,
  );
  return { parts, expiresAt: new Date(now.getTime() + expiresIn * 1000).toISOString() };
}
