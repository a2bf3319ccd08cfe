// Workspace limits and quota arithmetic (pure). The database applies the same rule atomically.

export interface WorkspaceLimits {
  maxFileSize: number;
  allowedContentTypes: readonly string[];
  quotaBytes: number;
  maxFiles: number;
  maxPending: number;
}

export interface WorkspaceCounters {
  usedBytes: number;
  reservedBytes: number;
  fileCount: number;
  pendingCount: number;
}

/** `type/subtype` exact, `type/*` for a family, `*\/*` for anything. */
export function contentTypeAllowed(allowed: readonly string[], contentType: string): boolean {
  const ct = contentType.toLowerCase();
  const family = ct.split('/')[0];
  return allowed.some((p) => {
    const pat = p.toLowerCase();
    if (pat === '*/*' || pat === '*') return true;
    if (pat.endsWith('/*')) return pat.slice(0, -2) === family;
    return pat === ct;
  });
}

export type ReservationRefusal = 'quota_bytes' | 'max_files' | 'max_pending';

/** Why a reservation of `size` bytes would not fit, or null if it fits. Same rule as the SQL. */
export function reservationRefusal(
  counters: WorkspaceCounters,
  limits: Pick<WorkspaceLimits, 'quotaBytes' | 'maxFiles' | 'maxPending'>,
  size: number,
): ReservationRefusal | null {
  if (counters.usedBytes + counters.reservedBytes + size > limits.quotaBytes) return 'quota_bytes';
  if (counters.fileCount + counters.pendingCount + 1 > limits.maxFiles) return 'max_files';
  if (counters.pendingCount + 1 > limits.maxPending) return 'max_pending';
  return null;
}

export function remainingBytes(counters: WorkspaceCounters, limits: Pick<WorkspaceLimits, 'quotaBytes'>): number {
  return Math.max(0, limits.quotaBytes - counters.usedBytes - counters.reservedBytes);
}
