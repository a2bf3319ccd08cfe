// Expiry sweeper: pending uploads past expires_at.
//
// Reconcile first: an upload whose object did arrive (the client uploaded but never confirmed, and no event reached
// us) is handed to the completion function — the same one confirm and storage events call — which verifies it and
// makes it available (or rejects it). Everything else — nothing arrived, a multipart upload never completed, an
// object of the wrong size — is marked expired through the batch transition (reservation released, counters and the
// deletion outbox updated in the same transaction); the outbox then aborts the multipart upload / deletes the object
// with batched DeleteObjects.
//
// Claims: ≤ batchSize rows per transaction with FOR UPDATE SKIP LOCKED, in object-key order. Because keys are claimed
// in byte order, ONE ListObjectsV2 page starting at the batch's first key usually tells which of the batch's objects
// exist (and their sizes); when the workspace has many other objects between the batch's keys, the listing stops
// early and the rest of the batch is probed with HEAD. A crash before COMMIT leaves the rows pending: the next run
// reclaims them; a crash after COMMIT has done everything (the outbox rows are durable).
import { withTransaction } from '../db/pool.ts';
import { claimExpiredPending, getFilesByIds, type ExpiredClaim } from '../db/sweeper.ts';
import { settleUpload } from './complete-upload.ts';
import type { Deps } from './deps.ts';
import { forEachLimit } from './process-deletions.ts';
import { transitionMany } from './transition.ts';

export interface SweepExpiredOptions {
  batchSize?: number;
  maxBatches?: number;
  headConcurrency?: number;
  /** Batches in flight at once (each its own transaction; default 2). */
  parallel?: number;
  /** Only this workspace's uploads (default: all). */
  workspaceId?: string;
  /** Called after each batch commits (its outbox rows are then visible): lets a drainer start at once. */
  onBatchCommitted?: () => void;
}

export interface SweepExpiredResult {
  batches: number;
  expired: number;
  /** Expired uploads whose object had arrived and verified: completed instead. */
  completed: number;
  /** Expired uploads whose object had arrived but failed verification. */
  rejected: number;
  listCalls: number;
  headCalls: number;
}

const FIRST_PAGE = 200;

interface Probe {
  found: Map<string, { size: number }>;
  listCalls: number;
  headCalls: number;
}

export async function sweepExpired(deps: Deps, opts: SweepExpiredOptions = {}): Promise<SweepExpiredResult> {
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 1000, 5000));
  const out: SweepExpiredResult = { batches: 0, expired: 0, completed: 0, rejected: 0, listCalls: 0, headCalls: 0 };
  // Rows handed to the completion function in this run are not claimed again by it (if completion fails, e.g.
  // storage is down, the next run retries them).
  const handedOver: string[] = [];
  let started = 0;
  const loop = async () => {
    while (opts.maxBatches === undefined || started < opts.maxBatches) {
      started += 1;
      const now = deps.now();
      const batch = await withTransaction(deps.db, async (tx) => {
        const rows = await claimExpiredPending(tx, now, batchSize, handedOver, opts.workspaceId ?? null);
        if (rows.length === 0) return null;
        const probe = await probeStorage(deps, rows, opts.headConcurrency ?? 16);
        const arrived: ExpiredClaim[] = [];
        const expire: ExpiredClaim[] = [];
        for (const r of rows) {
          const obj = probe.found.get(r.objectKey);
          // A multipart object exists only once completed, so any size is worth verifying; a PUT/POST object of another
          // size than declared can never verify (size 0: not declared, as with Uppy — measured when settled).
          if (obj && (r.uploadMethod === 'multipart' || obj.size === r.size || r.size === 0)) arrived.push(r);
          else expire.push(r);
        }
        const won = await transitionMany(tx, {
          fileIds: expire.map((r) => r.id),
          from: ['pending'],
          to: 'expired',
          reason: 'expired',
          fields: { rejectReason: null },
        });
        // The completion function takes the full row: read it for the few whose object arrived.
        return { won: won.length, arrived: await getFilesByIds(tx, arrived.map((r) => r.id)), probe };
      });
      if (!batch) break;
      opts.onBatchCommitted?.();
      out.batches += 1;
      out.expired += batch.won;
      out.listCalls += batch.probe.listCalls;
      out.headCalls += batch.probe.headCalls;
      for (const r of batch.arrived) {
        handedOver.push(r.id);
        try {
          const res = await settleUpload(deps, r);
          if (res !== 'absent' && res.status === 'available') out.completed += 1;
          else if (res !== 'absent' && res.status === 'rejected') out.rejected += 1;
        } catch (err) {
          deps.log.warn({ err, fileId: r.id }, 'sweeper: completing an expired upload whose object arrived failed; will retry');
        }
      }
    }
  };
  // Several claim loops share the rows through SKIP LOCKED, exactly as separate workers would.
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel ?? 2) }, loop));
  if (out.expired + out.completed + out.rejected > 0) deps.log.info(out, 'sweeper: expired uploads processed');
  return out;
}

/**
 * Which of the rows' objects exist. Rows are in key byte order. Per workspace: list from the first key; stop once
 * past the last key, or when the listing is not paying for itself (more than one page per 50 rows); HEAD the rest.
 */
async function probeStorage(deps: Deps, rows: ExpiredClaim[], headConcurrency: number): Promise<Probe> {
  const probe: Probe = { found: new Map(), listCalls: 0, headCalls: 0 };
  const groups = new Map<string, ExpiredClaim[]>();
  for (const r of rows) {
    const g = groups.get(r.workspaceId);
    if (g) g.push(r);
    else groups.set(r.workspaceId, [r]);
  }
  const toHead: ExpiredClaim[] = [];
  for (const [workspaceId, group] of groups) {
    if (group.length < 4) {
      toHead.push(...group);
      continue;
    }
    const keys = group.map((r) => r.objectKey).sort(byteOrder);
    const first = keys[0]!;
    const last = keys[keys.length - 1]!;
    const wanted = new Set(keys);
    const maxPages = Math.max(1, Math.ceil(group.length / 50));
    let covered = ''; // every key ≤ covered has been seen by the listing
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await deps.storage.listObjects(`workspaces/${workspaceId}/files/`, {
        // StartAfter is exclusive: start just before the first key (a proper prefix of it sorts before it).
        ...(token ? { continuationToken: token } : { startAfter: first.slice(0, -1) }),
        // A small first page: when few of the batch's uploads have an object, the batch's key range holds few objects and
        // a 1,000-key page would mostly list keys past the batch (each costing the store and the XML parser);
        // when the range is dense, the following pages are full-size.
        maxKeys: pages === 0 ? FIRST_PAGE : 1000,
      });
      pages += 1;
      probe.listCalls += 1;
      for (const o of page.objects) if (wanted.has(o.key)) probe.found.set(o.key, { size: o.size });
      token = page.nextContinuationToken;
      covered = token === undefined ? '\uffff' : (page.objects[page.objects.length - 1]?.key ?? covered);
    } while (token !== undefined && byteOrder(covered, last) < 0 && pages < maxPages);
    for (const r of group) if (byteOrder(r.objectKey, covered) > 0) toHead.push(r);
  }
  await forEachLimit(toHead, headConcurrency, async (r) => {
    probe.headCalls += 1;
    const h = await deps.storage.head(r.objectKey);
    if (h) probe.found.set(r.objectKey, { size: h.size });
  });
  return probe;
}

/**
 * UTF-8 byte order (S3's key order) without encoding: UTF-8 byte order is code point order, which differs from UTF-16
 * code unit order only between surrogates (U+D800–DFFF, i.e. code points ≥ U+10000) and U+E000–FFFF, so those two
 * ranges are swapped before comparing. (Buffer.from per comparison was a visible share of a sweep batch's CPU.)
 */
export function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}
