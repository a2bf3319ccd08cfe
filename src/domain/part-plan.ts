// Multipart part planning. Pure: no I/O, no clock.
//
// S3 rules: every part but the last is at least 5 MiB, a part is at most 5 GiB, an upload has at most 10,000 parts and
// an object is at most 5 TiB. Stowage plans equal-sized parts (the last one may be smaller) so that the size of part n
// follows from (partSize, n, total) alone and the server can verify what storage holds without trusting the client.

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * GiB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT_SIZE = 5 * TiB;
/** The part size Stowage prefers when the object is small enough to allow it. */
export const DEFAULT_PART_SIZE = 16 * MiB;

export interface PartPlan {
  /** Size of every part but the last. */
  partSize: number;
  partCount: number;
  /** Declared total size of the object. */
  totalSize: number;
}

export class PartPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartPlanError';
  }
}

/**
 * Chooses the part size and count for an object of `totalSize` bytes. `preferredPartSize` is honoured when it keeps the
 * part count ≤ 10,000; otherwise the part size grows (to a whole MiB) until it does.
 */
export function planParts(totalSize: number, preferredPartSize: number = DEFAULT_PART_SIZE): PartPlan {
  if (!Number.isSafeInteger(totalSize) || totalSize < 0) throw new PartPlanError('size must be a non-negative integer');
  if (totalSize > MAX_OBJECT_SIZE) throw new PartPlanError(`size ${totalSize} exceeds the 5 TiB multipart limit`);
  if (!Number.isSafeInteger(preferredPartSize) || preferredPartSize <= 0) {
    throw new PartPlanError('preferred part size must be a positive integer');
  }
  let partSize = Math.min(Math.max(preferredPartSize, MIN_PART_SIZE), MAX_PART_SIZE);
  const minimumForCount = Math.ceil(totalSize / MAX_PARTS);
  if (partSize < minimumForCount) partSize = Math.ceil(minimumForCount / MiB) * MiB;
  const partCount = Math.max(1, Math.ceil(totalSize / partSize));
  return { partSize, partCount, totalSize };
}

/** Size in bytes of part `partNumber` (1-based) of the plan. */
export function partSizeOf(plan: PartPlan, partNumber: number): number {
  assertPartNumber(plan, partNumber);
  if (partNumber < plan.partCount) return plan.partSize;
  return plan.totalSize - plan.partSize * (plan.partCount - 1);
}

/** Byte range [start, end) of part `partNumber` in the object. */
export function partRange(plan: PartPlan, partNumber: number): { start: number; end: number } {
  const start = (partNumber - 1) * plan.partSize;
  return { start, end: start + partSizeOf(plan, partNumber) };
}

export function isValidPartNumber(plan: PartPlan, partNumber: number): boolean {
  return Number.isInteger(partNumber) && partNumber >= 1 && partNumber <= plan.partCount;
}

function assertPartNumber(plan: PartPlan, partNumber: number): void {
  if (!isValidPartNumber(plan, partNumber)) {
    throw new PartPlanError(`part number ${partNumber} is outside 1..${plan.partCount}`);
  }
}

export interface ListedPart {
  partNumber: number;
  size: number;
  etag?: string;
}

export interface WrongSizePart {
  partNumber: number;
  expected: number;
  actual: number;
}

export interface PartCheck {
  ok: boolean;
  /** Part numbers of the plan that storage does not hold. */
  missing: number[];
  /** Parts whose size is not the planned one. */
  wrongSize: WrongSizePart[];
  /** Part numbers storage holds that are outside the plan. */
  unexpected: number[];
  /** Sum of the sizes of the listed parts that belong to the plan. */
  totalListed: number;
}

/** Compares what storage holds (ListParts) with the plan: every part present, each with its planned size. */
export function checkParts(plan: PartPlan, listed: readonly ListedPart[]): PartCheck {
  const byNumber = new Map<number, ListedPart>();
  const unexpected: number[] = [];
  for (const part of listed) {
    if (isValidPartNumber(plan, part.partNumber)) byNumber.set(part.partNumber, part);
    else unexpected.push(part.partNumber);
  }
  const missing: number[] = [];
  const wrongSize: WrongSizePart[] = [];
  let totalListed = 0;
  for (let n = 1; n <= plan.partCount; n++) {
    const part = byNumber.get(n);
    if (!part) {
      missing.push(n);
      continue;
    }
    totalListed += part.size;
    const expected = partSizeOf(plan, n);
    if (part.size !== expected) wrongSize.push({ partNumber: n, expected, actual: part.size });
  }
  unexpected.sort((a, b) => a - b);
  return {
    ok: missing.length === 0 && wrongSize.length === 0 && unexpected.length === 0 && totalListed === plan.totalSize,
    missing,
    wrongSize,
    unexpected,
    totalListed,
  };
}

/**
 * For uploads whose size was not declared up front (Uppy): the listed parts must be numbered 1..n without gaps, every
 * part but the last of the same size ≥ 5 MiB, the last no larger. Returns the implied plan, or the problems found.
 */
export function inferPlan(
  listed: readonly ListedPart[],
): { ok: true; plan: PartPlan } | { ok: false; missing: number[]; wrongSize: WrongSizePart[] } {
  const sorted = [...listed].sort((a, b) => a.partNumber - b.partNumber);
  if (sorted.length === 0) return { ok: false, missing: [1], wrongSize: [] };
  const partCount = sorted[sorted.length - 1].partNumber;
  const present = new Set(sorted.map((p) => p.partNumber));
  const missing: number[] = [];
  for (let n = 1; n <= partCount; n++) if (!present.has(n)) missing.push(n);
  const partSize = sorted[0].size;
  const wrongSize: WrongSizePart[] = [];
  let totalSize = 0;
  for (const part of sorted) {
    totalSize += part.size;
    const isLast = part.partNumber === partCount;
    if (!isLast && (part.size !== partSize || part.size < MIN_PART_SIZE)) {
      wrongSize.push({ partNumber: part.partNumber, expected: Math.max(partSize, MIN_PART_SIZE), actual: part.size });
    } else if (isLast && part.size > partSize) {
      wrongSize.push({ partNumber: part.partNumber, expected: partSize, actual: part.size });
    }
  }
  if (missing.length || wrongSize.length) return { ok: false, missing, wrongSize };
  return { ok: true, plan: { partSize, partCount, totalSize } };
}

/** Largest object a multipart upload with parts of `partSize` can reach. */
export function maxObjectSizeFor(partSize: number): number {
  return Math.min(partSize * MAX_PARTS, MAX_OBJECT_SIZE);
}

/** Describes a failed check for an error message, naming the parts. */
export function describePartProblems(check: {
  missing: number[];
  wrongSize: WrongSizePart[];
  unexpected?: number[];
}): string {
  const problems: string[] = [];
  if (check.missing.length) problems.push(`missing part${check.missing.length > 1 ? 's' : ''} ${listNumbers(check.missing)}`);
  for (const w of check.wrongSize.slice(0, 10)) {
    problems.push(`part ${w.partNumber} is ${w.actual} bytes, expected ${w.expected}`);
  }
  if (check.wrongSize.length > 10) problems.push(`${check.wrongSize.length - 10} more parts of the wrong size`);
  if (check.unexpected?.length) problems.push(`unexpected part${check.unexpected.length > 1 ? 's' : ''} ${listNumbers(check.unexpected)}`);
  return problems.join('; ');
}

function listNumbers(numbers: number[]): string {
  const shown = numbers.slice(0, 20).join(', ');
  return numbers.length > 20 ? `${shown} … (${numbers.length} in all)` : shown;
}

/** A part as the client reports it at completion: the ETag storage answered to its PUT. */
export interface ClaimedPart {
  partNumber: number;
  etag: string;
  checksumSha256?: string;
}

/**
 * What is wrong with a client's part list for completion, or null: it must name every part of the plan exactly once.
 * (Storage checks each ETag. Part sizes are not checked one by one on this path, but the whole object is verified
 * afterwards, so a list can never admit an object of another size.)
 */
export function claimedPartsProblem(plan: PartPlan, claimed: readonly ClaimedPart[]): string | null {
  if (claimed.length !== plan.partCount) {
    return `parts must list all ${plan.partCount} parts of the upload (got ${claimed.length})`;
  }
  const seen = new Set<number>();
  for (const p of claimed) {
    if (!isValidPartNumber(plan, p.partNumber)) return `part number ${p.partNumber} is outside 1..${plan.partCount}`;
    if (seen.has(p.partNumber)) return `part ${p.partNumber} is listed twice`;
    seen.add(p.partNumber);
  }
  return null;
}
