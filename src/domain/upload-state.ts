// The upload state machine. One table decides which transitions exist.
//   pending ──verified──▶ available ──delete──▶ deleted
//      │  └──verification fails──▶ rejected ──delete──▶ deleted
//      ├──expires──▶ expired ──delete──▶ deleted
//      └──delete/abort──▶ deleted
//   available ──object vanished──▶ missing ──delete──▶ deleted

export const FILE_STATUSES = ['pending', 'available', 'rejected', 'expired', 'deleted', 'missing'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

const TRANSITIONS: Record<FileStatus, readonly FileStatus[]> = {
  pending: ['available', 'rejected', 'expired', 'deleted'],
  available: ['deleted', 'missing'],
  rejected: ['deleted'],
  expired: ['deleted'],
  missing: ['deleted', 'available'],
  deleted: [],
};

/**
 * Until when an upload URL of a file could still (re)create its object: URLs never outlive the file's expires_at (the
 * configuration keeps the URL TTL within the pending TTL), plus a minute for clocks and requests in flight. A deletion
 * made earlier is repeated then.
 */
export const UPLOAD_WINDOW_SLACK_SECONDS = 60;

export function uploadWindowEnd(expiresAt: Date): Date {
  return new Date(expiresAt.getTime() + UPLOAD_WINDOW_SLACK_SECONDS * 1000);
}

export function isFileStatus(s: unknown): s is FileStatus {
  return typeof s === 'string' && (FILE_STATUSES as readonly string[]).includes(s);
}

export function canTransition(from: FileStatus, to: FileStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses from which `to` can be reached. */
export function sourcesOf(to: FileStatus): FileStatus[] {
  return FILE_STATUSES.filter((f) => TRANSITIONS[f].includes(to));
}

export function isTerminal(s: FileStatus): boolean {
  return TRANSITIONS[s].length === 0;
}

/** Counter deltas a transition applies to the workspace row (for a file of `size` bytes). */
export interface CounterDelta {
  usedBytes: number;
  reservedBytes: number;
  fileCount: number;
  pendingCount: number;
}

export function counterDelta(from: FileStatus, to: FileStatus, size: number): CounterDelta {
  if (!canTransition(from, to)) throw new Error(`invalid transition ${from} → ${to}`);
  const d: CounterDelta = { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 };
  // Leaving a state releases what it held…
  if (from === 'pending') {
    d.reservedBytes -= size;
    d.pendingCount -= 1;
  } else if (from === 'available' || from === 'missing') {
    d.usedBytes -= size;
    d.fileCount -= 1;
  }
  // …entering one takes what it holds.
  if (to === 'available' || to === 'missing') {
    d.usedBytes += size;
    d.fileCount += 1;
  }
  return d;
}

/** Counter changes per status a transition to one target may leave: byte deltas per byte of the file, count deltas. */
export interface CounterRates {
  from: readonly FileStatus[];
  usedPerByte: number[];
  reservedPerByte: number[];
  fileCount: number[];
  pendingCount: number[];
}

/**
 * counterDelta for each `from` status, in the form a single SQL statement applies to whichever status the row turns
 * out to have: counterDelta is linear in the size (bytes move with the file, counts do not depend on it), so a
 * 1-byte delta gives the per-byte rate.
 */
export function counterRates(from: readonly FileStatus[], to: FileStatus): CounterRates {
  const d = from.map((s) => counterDelta(s, to, 1));
  return {
    from,
    usedPerByte: d.map((x) => x.usedBytes),
    reservedPerByte: d.map((x) => x.reservedBytes),
    fileCount: d.map((x) => x.fileCount),
    pendingCount: d.map((x) => x.pendingCount),
  };
}

/** Whether the object behind a file in this status must be removed from storage when entering it. */
export function removesObject(to: FileStatus): boolean {
  return to === 'rejected' || to === 'expired' || to === 'deleted';
}
