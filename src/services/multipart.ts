// The multipart flow's storage steps, plugged into create-upload (MultipartStarter) and complete-upload
// (MultipartFinisher) so that both keep ONE create path and ONE verification path for every upload method.
import type { Deps } from './deps.ts';
import { errors } from '../errors/index.ts';
import type { FileRow } from '../db/files.ts';
import type { UploadedPart } from '../storage/port.ts';
import {
  checkParts,
  describePartProblems,
  partSizeOf,
  planParts,
  type ClaimedPart,
  type PartCheck,
  type PartPlan,
} from '../domain/part-plan.ts';
import { registerMultipartStarter, type MultipartStarter } from './create-upload.ts';
import { registerMultipartFinisher, type MultipartFinisher } from './complete-upload.ts';

export interface SignedPartView {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
  size: number;
}

/**
 * Presigned UploadPart URLs for parts of a planned upload: each signs its part's exact Content-Length (and SHA-256
 * when given), so storage refuses a part of another size.
 */
export function presignPlannedParts(
  deps: Deps,
  upload: { key: string; multipartUploadId: string; plan: PartPlan },
  partNumbers: readonly number[],
  checksumsSha256: Readonly<Record<string, string>>,
  expiresIn: number,
): Promise<SignedPartView[]> {
  return Promise.all(
    partNumbers.map(async (partNumber) => {
      const size = partSizeOf(upload.plan, partNumber);
      const signed = await deps.storage.presignPart({
        key: upload.key,
        uploadId: upload.multipartUploadId,
        partNumber,
        contentLength: size,
        checksumSha256: checksumsSha256[String(partNumber)] ?? null,
        expiresIn,
      });
      return { partNumber, url: signed.url, headers: signed.headers, size };
    }),
  );
}

export const multipartStarter: MultipartStarter = {
  async start(deps, input) {
    const plan = planParts(input.size, deps.config.uploads.multipartPartSizeBytes);
    // Per-part checksums must be announced at creation (AWS refuses a part checksum of a type the upload lacks).
    const { uploadId } = await deps.storage.createMultipart({
      key: input.key,
      contentType: input.contentType,
      checksumSha256: input.partChecksums,
      contentDisposition: input.contentDisposition ?? null,
    });
    // The first parts' URLs come with the answer, so the client can start sending without another round trip.
    // Not with part checksums: each URL must then sign its part's SHA-256, which the client gives when it asks.
    const signAhead = input.partChecksums ? 0 : Math.min(plan.partCount, deps.config.uploads.multipartPartsSignedAtCreate);
    const expiresIn = deps.config.uploads.urlTtlSeconds;
    const parts = signAhead > 0
      ? await presignPlannedParts(
          deps,
          { key: input.key, multipartUploadId: uploadId, plan },
          Array.from({ length: signAhead }, (_, i) => i + 1),
          {},
          expiresIn,
        )
      : null;
    return {
      multipartUploadId: uploadId,
      partSize: plan.partSize,
      partCount: plan.partCount,
      // uploadId in the API is the file id: storage's UploadId stays on the server.
      instructions: {
        method: 'MULTIPART',
        uploadId: input.fileId,
        partSize: plan.partSize,
        partCount: plan.partCount,
        expiresAt: input.expiresAt.toISOString(),
        ...(parts ? { parts, partsExpireAt: new Date(deps.now().getTime() + expiresIn * 1000).toISOString() } : {}),
      },
    };
  },
  async abort(deps, input) {
    await deps.storage.abortMultipart(input.key, input.multipartUploadId);
  },
};

export const multipartFinisher: MultipartFinisher = {
  async finish(deps, row, claimed) {
    await finishMultipart(deps, row, claimed);
  },
};

/** Plugs the multipart flow into create-upload and complete-upload. Idempotent. */
export function installMultipart(): void {
  registerMultipartStarter(multipartStarter);
  registerMultipartFinisher(multipartFinisher);
}

export function planOf(row: FileRow): PartPlan {
  if (row.uploadMethod !== 'multipart' || !row.multipartUploadId) {
    throw errors.invalidState('This upload is not a multipart upload', { uploadMethod: row.uploadMethod });
  }
  if (!row.partSize || !row.partCount) {
    // Created through the Uppy routes without a size: its plan is known only once storage's parts are measured.
    throw errors.invalidState('This multipart upload has no declared size: list and complete it through the Uppy routes it was created with', { uploadMethod: row.uploadMethod, sizeDeclared: false });
  }
  return { partSize: row.partSize, partCount: row.partCount, totalSize: row.size };
}

/** ListParts, where an upload that no longer exists is null (AWS: NoSuchUpload; RGW 16: NoSuchKey). */
export async function storedParts(deps: Deps, row: FileRow): Promise<UploadedPart[] | null> {
  try {
    return await deps.storage.listParts(row.objectKey, row.multipartUploadId!);
  } catch (err) {
    const e = err as { name?: string; Code?: string };
    if (e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey') return null;
    throw err;
  }
}

/** The 409 a client gets when storage does not hold exactly the planned parts; it names the parts. */
export function partsError(check: Pick<PartCheck, 'missing' | 'wrongSize'> & { unexpected?: number[] }, totalListed?: number) {
  return errors.invalidState(`The upload is incomplete: ${describePartProblems(check)}`, {
    missingParts: check.missing,
    wrongSizeParts: check.wrongSize,
    ...(check.unexpected?.length ? { unexpectedParts: check.unexpected } : {}),
    ...(totalListed !== undefined ? { bytesInStorage: totalListed } : {}),
  });
}

/**
 * Completes the multipart upload in storage once storage holds exactly the planned parts. The part list is the
 * client's when it names every part (`claimed`, checked by storage ETag by ETag: one storage call fewer), else the
 * server lists the parts itself; a claimed list storage refuses falls back to the server's own list, which then says
 * which parts are missing. With If-None-Match: * an existing object is never overwritten. When the upload is already
 * gone (completed by an earlier call, or aborted) nothing is done: verification then finds the object or reports it
 * absent.
 */
export async function finishMultipart(deps: Deps, row: FileRow, claimed?: readonly ClaimedPart[]): Promise<void> {
  const plan = planOf(row);
  if (claimed) {
    if ((await completeInStorage(deps, row, claimed)) === 'done') return;
    deps.log.info({ fileId: row.id }, 'storage refused the client\'s part list; completing from the stored parts');
  }
  const parts = await storedParts(deps, row);
  if (parts === null) return;
  const check = checkParts(plan, parts);
  if (!check.ok) throw partsError(check, check.totalListed);
  const outcome = await completeInStorage(deps, row, parts);
  if (outcome !== 'done') throw outcome.refused;
}

/** CompleteMultipartUpload with these parts: 'done' (or already completed, or gone), or storage's refusal (400). */
async function completeInStorage(
  deps: Deps,
  row: FileRow,
  parts: readonly ClaimedPart[],
): Promise<'done' | { refused: unknown }> {
  try {
    await deps.storage.completeMultipart(
      row.objectKey,
      row.multipartUploadId!,
      [...parts]
        .sort((a, b) => a.partNumber - b.partNumber)
        .map((p) => ({ partNumber: p.partNumber, etag: p.etag, ...(p.checksumSha256 ? { checksumSha256: p.checksumSha256 } : {}) })),
    );
    return 'done';
  } catch (err) {
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    const status = e?.$metadata?.httpStatusCode;
    // Completed by a concurrent call (NoSuchUpload) or the key already holds an object (412): verification decides.
    if (e?.name === 'NoSuchUpload' || e?.Code === 'NoSuchUpload' || e?.name === 'NoSuchKey' || status === 412) return 'done';
    // InvalidPart, InvalidPartOrder, EntityTooSmall, a missing part checksum…: nothing was completed.
    if (status === 400) return { refused: err };
    throw err;
  }
}
