// One cleanup pass: every worker duty once, in the order that lets each feed the next — storage events first (they
// may complete uploads the sweeper would otherwise examine), then expired uploads (which fill the outbox) with the
// deletion outbox draining alongside (the sweep is mostly Postgres work, the outbox mostly storage work, so running
// them together overlaps the two), then orphan multipart uploads. `stowage cleanup --once` prints its result; the worker runner
// repeats it.
import type { Deps } from './deps.ts';
import { processStorageEventInbox, type InboxResult } from './handle-storage-event.ts';
import { processDeletions, type ProcessDeletionsResult } from './process-deletions.ts';
import { sweepExpired, type SweepExpiredResult } from './sweep-expired.ts';
import { sweepOrphanMultipart, type SweepMultipartResult } from './sweep-multipart.ts';

export interface CleanupOptions {
  /** Rows per expiry-sweep claim (default WORKER_BATCH_SIZE, 1000); the outbox keeps its own batching. */
  batchSize?: number;
  /** Include the ListMultipartUploads sweep (default true). */
  multipart?: boolean;
  multipartGraceSeconds?: number;
  multipartTtlSeconds?: number;
  /** Only this workspace's uploads, deletions and multipart uploads (default: everything). */
  workspaceId?: string;
}

export interface CleanupResult {
  events: InboxResult;
  expired: SweepExpiredResult;
  deletions: ProcessDeletionsResult;
  multipart: SweepMultipartResult | null;
  /** Duties that threw (the others still ran). */
  errors: { duty: string; error: string }[];
}

export async function runCleanupOnce(deps: Deps, opts: CleanupOptions = {}): Promise<CleanupResult> {
  const batchSize = opts.batchSize ?? deps.config.workers?.batchSize ?? 1000;
  const errors: CleanupResult['errors'] = [];
  const attempt = async <T>(duty: string, fn: () => Promise<T>, empty: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      deps.log.error({ err, duty }, 'cleanup duty failed');
      errors.push({ duty, error: String((err as Error)?.message ?? err) });
      return empty;
    }
  };
  const scope = opts.workspaceId;
  const prefix = scope === undefined ? undefined : `workspaces/${scope}/`;
  const events = await attempt('events', () => processStorageEventInbox(deps), { processed: 0, failed: 0, outcomes: {} });
  let sweeping = true;
  // The outbox drains while the sweep runs: woken by each committed sweep batch (no polling), until the sweep ends.
  let wake: () => void = () => {};
  let committed = 0;
  const expiredRun = attempt('expired', () => sweepExpired(deps, {
    batchSize,
    workspaceId: scope,
    onBatchCommitted: () => {
      committed += 1;
      wake();
    },
  }), {
    batches: 0, expired: 0, completed: 0, rejected: 0, listCalls: 0, headCalls: 0,
  }).finally(() => {
    sweeping = false;
    wake();
  });
  const deletions: ProcessDeletionsResult = { batches: 0, deleted: 0, abortedUploads: 0, failed: 0 };
  const drain = () => attempt('deletions', () => processDeletions(deps, { keyPrefix: prefix }), { batches: 0, deleted: 0, abortedUploads: 0, failed: 0 });
  const add = (r: ProcessDeletionsResult) => {
    deletions.batches += r.batches;
    deletions.deleted += r.deleted;
    deletions.abortedUploads += r.abortedUploads;
    deletions.failed += r.failed;
    return r;
  };
  const drainWhileSweeping = async () => {
    let seen = 0;
    while (sweeping) {
      if (committed === seen) await new Promise<void>((res) => (wake = res));
      seen = committed;
      if (sweeping) add(await drain());
    }
  };
  const [expired] = await Promise.all([expiredRun, drainWhileSweeping()]);
  add(await drain()); // what the sweep's last batches enqueued
  const multipart = opts.multipart === false
    ? null
    : await attempt('multipart', () => sweepOrphanMultipart(deps, { graceSeconds: opts.multipartGraceSeconds, ttlSeconds: opts.multipartTtlSeconds, prefix }), null);
  return { events, expired, deletions, multipart, errors };
}

export function formatCleanupResult(r: CleanupResult): string {
  const lines = [
    `storage events   processed ${r.events.processed}, failed ${r.events.failed}` +
      (Object.keys(r.events.outcomes).length ? ` (${Object.entries(r.events.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''),
    `expired uploads  expired ${r.expired.expired}, completed ${r.expired.completed}, rejected ${r.expired.rejected}` +
      ` (${r.expired.batches} batches, ${r.expired.listCalls} list + ${r.expired.headCalls} head calls)`,
    `object deletions deleted ${r.deletions.deleted}, multipart aborted ${r.deletions.abortedUploads}, failed ${r.deletions.failed}` +
      ` (${r.deletions.batches} batches)`,
    r.multipart
      ? `multipart        listed ${r.multipart.listed}, aborted ${r.multipart.aborted} (unknown ${r.multipart.abortedUnknown}, settled ${r.multipart.abortedSettled}, past TTL ${r.multipart.abortedExpired}), failed ${r.multipart.failed}`
      : 'multipart        skipped',
  ];
  for (const e of r.errors) lines.push(`ERROR ${e.duty}: ${e.error}`);
  return lines.join('\n');
}
