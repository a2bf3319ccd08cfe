// Storage events (S3 notifications from the embedded store, Ceph RGW, MinIO, or AWS via SQS) drive the same
// transitions as the API: an ObjectCreated for a pending upload calls settleUpload — the completion path confirm and
// the sweeper use — so whichever comes first verifies and completes and the others read the result.
//
// - Events for another bucket or for keys outside Stowage's layout are logged and ignored (never stored).
// - Events for keys in the layout but without a row are logged and ignored.
// - ObjectCreated for an upload that is already expired/rejected/deleted (a late PUT): the object is unwanted, so its
//   deletion is queued in the outbox.
// - ObjectRemoved for an available file: after a HEAD confirms the object is gone, the file becomes `missing`.
//   Usage is unchanged by that: a missing file still counts in used bytes and file count until it is deleted
//   (domain/upload-state counterDelta), so deleting objects behind Stowage's back cannot free quota, and an object
//   that comes back (ObjectCreated for a missing file: the verified object — same size and ETag — while upload URLs
//   could still be in use, the same size afterwards) makes it available again with no counter change either; any
//   other object at a missing file's key is queued for deletion.
// - ObjectCreated for an available file with another object than the verified one while its upload URLs could still
//   be in use (a replayed POST form): the file becomes missing and the stray object is queued for deletion. After
//   that window only storage credentials can write the key (an operator), and such writes are left alone.
//
// HTTP deliveries go through the inbox (db/storage-events.ts): accepted events are stored before the request is
// answered, then processed by processStorageEventInbox — right away in the background by the receiving process, and
// by any worker later (rows are claimed with SKIP LOCKED and deleted once handled; failures back off and retry).
import { enqueueDeletion } from '../db/object-deletions.ts';
import { getFileByKey, type FileRow } from '../db/files.ts';
import { withTransaction } from '../db/pool.ts';
import {
  claimStorageEvents,
  deleteStorageEvents,
  insertStorageEvents,
  rescheduleStorageEvent,
} from '../db/storage-events.ts';
import { parseObjectKey } from '../domain/keys.ts';
import { uploadWindowEnd } from '../domain/upload-state.ts';
import type { StorageEvent } from '../domain/storage-events.ts';
import { settleUpload } from './complete-upload.ts';
import type { Deps } from './deps.ts';
import { forEachLimit } from './process-deletions.ts';
import { transition } from './transition.ts';

export type EventOutcome =
  | 'completed'
  | 'rejected'
  | 'already_settled'
  | 'not_in_storage'
  | 'late_object_queued_for_deletion'
  | 'marked_missing'
  | 'restored'
  | 'overwritten_marked_missing'
  | 'stray_object_queued_for_deletion'
  | 'still_present'
  | 'no_change'
  | 'unknown_key'
  | 'foreign_key'
  | 'ignored_event_type';

/** Whether an event is about an object Stowage could have issued (our bucket, our key layout). */
export function isStowageObject(deps: Pick<Deps, 'storage'>, ev: StorageEvent): boolean {
  return ev.bucket === deps.storage.bucket && (parseObjectKey(ev.key) !== null || parseObjectKey(ev.rawKey) !== null);
}

async function findRow(deps: Deps, ev: StorageEvent): Promise<FileRow | null> {
  const row = await getFileByKey(deps.db, ev.key);
  if (row || ev.rawKey === ev.key) return row;
  return getFileByKey(deps.db, ev.rawKey);
}

export async function handleStorageEvent(deps: Deps, ev: StorageEvent): Promise<EventOutcome> {
  if (ev.type === 'other') return 'ignored_event_type';
  if (!isStowageObject(deps, ev)) {
    deps.log.info({ bucket: ev.bucket, key: ev.key, event: ev.eventName }, 'storage event for an object Stowage did not issue; ignored');
    return 'foreign_key';
  }
  const row = await findRow(deps, ev);
  if (!row) {
    deps.log.info({ key: ev.key, event: ev.eventName }, 'storage event for a key with no file; ignored');
    return 'unknown_key';
  }
  return ev.type === 'created' ? onCreated(deps, row) : onRemoved(deps, row);
}

async function onCreated(deps: Deps, row: FileRow): Promise<EventOutcome> {
  switch (row.status) {
    case 'pending': {
      const settled = await settleUpload(deps, row);
      if (settled === 'absent') return 'not_in_storage';
      if (settled.status === 'available') return row.status === 'pending' ? 'completed' : 'already_settled';
      if (settled.status === 'rejected') return 'rejected';
      return 'already_settled';
    }
    case 'available': {
      // A write after verification: a presigned POST form cannot forbid overwriting (S3 has no conditional POST), so
      // it can be replayed until it expires. Believe storage, not the event: only an object other than the verified
      // one (another ETag) counts. Its bytes were never verified and the verified ones are gone: the file becomes
      // missing and the stray object is deleted (a missing file keeps its usage, so nothing is gained by it).
      // After the upload window only storage credentials can write the key (an operator's doing): left alone.
      if (!uploadWindowOpen(deps, row)) return 'already_settled';
      const head = await deps.storage.head(row.objectKey);
      if (!head || sameObject(row, head)) return 'already_settled';
      const t = await transition(deps, { fileId: row.id, from: ['available'], to: 'missing' });
      if (!t.won) return 'no_change';
      await enqueueDeletion(deps.db, { objectKey: row.objectKey, fileId: row.id, reason: 'overwritten_after_verification', recheckAt: uploadWindowEnd(row.expiresAt) });
      deps.log.warn({ fileId: row.id, key: row.objectKey }, 'object of an available file was replaced after verification; file marked missing, stray object queued for deletion');
      return 'overwritten_marked_missing';
    }
    case 'missing': {
      const head = await deps.storage.head(row.objectKey);
      if (!head) return 'no_change';
      // While an upload URL could still write the key, only the verified object itself may come back; afterwards only
      // storage credentials can (an operator restoring it, whose copy of a multipart object has another ETag): the
      // size must match, as before.
      const restorable = uploadWindowOpen(deps, row) ? sameObject(row, head) : head.size === row.size;
      if (!restorable) {
        await enqueueDeletion(deps.db, { objectKey: row.objectKey, fileId: row.id, reason: 'stray_object_for_missing_file', recheckAt: uploadWindowEnd(row.expiresAt) });
        return 'stray_object_queued_for_deletion';
      }
      const t = await transition(deps, { fileId: row.id, from: ['missing'], to: 'available' });
      return t.won ? 'restored' : 'no_change';
    }
    default: {
      // expired / rejected / deleted: a late upload recreated an object nobody wants.
      await enqueueDeletion(deps.db, { objectKey: row.objectKey, fileId: row.id, reason: `late_object:${row.status}`, recheckAt: uploadWindowEnd(row.expiresAt) });
      deps.log.info({ fileId: row.id, key: row.objectKey, status: row.status }, 'object created for a settled file; deletion queued');
      return 'late_object_queued_for_deletion';
    }
  }
}

/** Whether an upload URL of the file could still write its key (see uploadWindowEnd). */
function uploadWindowOpen(deps: Deps, row: FileRow): boolean {
  return uploadWindowEnd(row.expiresAt) > deps.now();
}

/** The stored object is the one verified: same size, and the same ETag when the row recorded one. */
function sameObject(row: FileRow, head: { size: number; etag?: string }): boolean {
  return head.size === row.size && (row.etag === null || head.etag === row.etag);
}

async function onRemoved(deps: Deps, row: FileRow): Promise<EventOutcome> {
  if (row.status !== 'available') return 'no_change';
  // Notifications may be late or repeated: believe storage, not the event.
  if (await deps.storage.head(row.objectKey)) return 'still_present';
  const t = await transition(deps, { fileId: row.id, from: ['available'], to: 'missing' });
  if (t.won) deps.log.warn({ fileId: row.id, key: row.objectKey }, 'object of an available file was removed from storage; file marked missing');
  return t.won ? 'marked_missing' : 'no_change';
}

/** Handles events directly (the SQS consumer: the queue itself is the durable inbox). Throws if any event failed. */
export async function handleStorageEvents(deps: Deps, events: StorageEvent[], concurrency = 8): Promise<EventOutcome[]> {
  const outcomes: EventOutcome[] = new Array(events.length);
  const indexed = events.map((ev, i) => ({ ev, i }));
  let firstError: unknown = null;
  await forEachLimit(indexed, concurrency, async ({ ev, i }) => {
    try {
      outcomes[i] = await handleStorageEvent(deps, ev);
    } catch (err) {
      firstError ??= err;
    }
  });
  if (firstError) throw firstError;
  return outcomes;
}

/**
 * Stores the events worth processing in the inbox (durable before the caller answers). Events about objects
 * Stowage did not issue are logged and dropped here.
 */
export async function acceptStorageEvents(
  deps: Deps,
  events: StorageEvent[],
  source: string,
): Promise<{ accepted: number; ignored: number }> {
  const wanted = events.filter((ev) => ev.type !== 'other' && isStowageObject(deps, ev));
  const ignored = events.length - wanted.length;
  if (ignored > 0) {
    deps.log.info(
      { ignored, sample: events.filter((e) => !wanted.includes(e)).slice(0, 3).map((e) => ({ bucket: e.bucket, key: e.key, event: e.eventName })) },
      'storage events for objects Stowage did not issue; ignored',
    );
  }
  await insertStorageEvents(deps.db, wanted, source);
  return { accepted: wanted.length, ignored };
}

export interface InboxResult {
  processed: number;
  failed: number;
  outcomes: Partial<Record<EventOutcome, number>>;
}

/** Processes due inbox rows in batches (FOR UPDATE SKIP LOCKED); a row is deleted once handled. */
export async function processStorageEventInbox(
  deps: Deps,
  opts: { batchSize?: number; maxBatches?: number; concurrency?: number } = {},
): Promise<InboxResult> {
  const out: InboxResult = { processed: 0, failed: 0, outcomes: {} };
  for (let batches = 0; opts.maxBatches === undefined || batches < opts.maxBatches; batches++) {
    const r = await withTransaction(deps.db, async (tx) => {
      const rows = await claimStorageEvents(tx, deps.now(), opts.batchSize ?? 100, deps.storage.bucket);
      const done: number[] = [];
      let failed = 0;
      await forEachLimit(rows, opts.concurrency ?? 8, async (row) => {
        try {
          const o = await handleStorageEvent(deps, row.event);
          out.outcomes[o] = (out.outcomes[o] ?? 0) + 1;
          done.push(row.id);
        } catch (err) {
          failed += 1;
          const delay = Math.min(3600, 5 * 2 ** Math.min(row.attempts, 10)) * 1000;
          deps.log.warn({ err, key: row.event.key, attempts: row.attempts + 1 }, 'storage event handling failed; will retry');
          await rescheduleStorageEvent(tx, row.id, new Date(deps.now().getTime() + delay), String(err));
        }
      });
      await deleteStorageEvents(tx, done);
      return { claimed: rows.length, done: done.length, failed };
    });
    out.processed += r.done;
    out.failed += r.failed;
    if (r.claimed === 0 || r.done === 0) break;
  }
  return out;
}

const running = new WeakMap<object, { again: boolean; promise: Promise<void> }>();

/**
 * Starts processing the inbox in the background (one drain at a time per Deps; a kick during a drain makes it go
 * round once more). Errors are logged: the rows stay in the inbox for the workers.
 */
export function kickStorageEventInbox(deps: Deps): Promise<void> {
  const cur = running.get(deps);
  if (cur) {
    cur.again = true;
    return cur.promise;
  }
  const state = { again: false, promise: Promise.resolve() };
  state.promise = (async () => {
    try {
      do {
        state.again = false;
        await processStorageEventInbox(deps);
      } while (state.again);
    } catch (err) {
      deps.log.warn({ err }, 'storage event inbox drain failed; workers will retry');
    } finally {
      running.delete(deps);
    }
  })();
  running.set(deps, state);
  return state.promise;
}
