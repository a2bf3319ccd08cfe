// THE transition function. Every change of a file's status — client confirm, storage event, sweeper, delete —
// goes through `transition`, which uses a conditional UPDATE under the row lock so exactly one caller wins; the
// counters and the deletion outbox change in the same transaction.
import type { Deps } from './deps.ts';
import type { DbClient } from '../db/pool.ts';
import { transitionFiles, type MovedFile } from '../db/sweeper.ts';
import { transitionFile, type FileRow, type TransitionFields } from '../db/files.ts';
import { applyCounterDelta } from '../db/workspaces.ts';
import {
  removeDeletion,
  rescheduleDeletion,
  type ObjectDeletionRow,
} from '../db/object-deletions.ts';
import { counterDelta, counterRates, removesObject, uploadWindowEnd, type CounterDelta, type FileStatus } from '../domain/upload-state.ts';

export interface TransitionResult {
  /** True when this call made the change; false when the file was not in a `from` state (someone else won). */
  won: boolean;
  /** The row after the call (the winner's result when won is false). Null only if the file does not exist. */
  row: FileRow | null;
  previous?: FileStatus;
}

export async function transition(
  deps: Deps,
  input: { fileId: string; from: readonly FileStatus[]; to: FileStatus; fields?: TransitionFields; reason?: string },
): Promise<TransitionResult> {
  const enqueue = outboxRule(input);
  // One statement: the conditional UPDATE, the counters and the outbox row commit together.
  const t = await transitionFile(deps.db, input.fileId, counterRates(input.from, input.to), input.to, input.fields, enqueue);
  if (!t.won || !t.row) return { won: false, row: t.row };
  if (t.deletionId !== null) {
    await deleteNow(deps, { id: t.deletionId, objectKey: t.row.objectKey, multipartUploadId: t.row.multipartUploadId }, t.row);
  }
  return { won: true, row: t.row, previous: t.previous ?? undefined };
}

/**
 * When the transition queues the file's object for deletion: an object becomes unwanted when leaving
 * pending/available/missing for rejected/expired/deleted (a rejected or expired file's object was already queued when
 * it entered that state).
 */
function outboxRule(input: { from: readonly FileStatus[]; to: FileStatus; reason?: string }) {
  return removesObject(input.to)
    ? { reason: input.reason ?? input.to, alreadyQueued: input.from.filter(removesObject) }
    : null;
}

/**
 * Deletes the object right after the commit. If an upload URL for the key may still be valid (a presigned PUT/POST
 * could recreate the object), the outbox row stays, due again once the upload window has closed.
 */
async function deleteNow(deps: Deps, d: Pick<ObjectDeletionRow, 'id' | 'objectKey' | 'multipartUploadId'>, row: FileRow): Promise<void> {
  const now = deps.now();
  try {
    // An aborted multipart upload frees its parts at once (its part URLs then fail with NoSuchUpload).
    if (d.multipartUploadId) await deps.storage.abortMultipart(d.objectKey, d.multipartUploadId);
    await deps.storage.delete(d.objectKey);
    const windowEnds = uploadWindowEnd(row.expiresAt);
    if (windowEnds > now) await rescheduleDeletion(deps.db, d.id, windowEnds, null);
    else await removeDeletion(deps.db, d.id);
  } catch (err) {
    deps.log.warn({ err, key: d.objectKey }, 'object delete failed; left in the outbox for retry');
    await rescheduleDeletion(deps.db, d.id, new Date(now.getTime() + 30_000), String((err as Error).message)).catch(
      () => {},
    );
  }
}

/**
 * The batch form of `transition`, for workers that move many files at once (the expiry sweeper): the same rules —
 * conditional UPDATE under the row locks, counterDelta per file (summed per workspace), the deletion outbox — applied
 * set-based inside the caller's transaction (the UPDATE and the outbox INSERT are one statement). It does not delete
 * objects right away: the outbox worker removes them in DeleteObjects batches of 1,000. Returns the files this call
 * moved (the others were no longer in a `from` state).
 */
export async function transitionMany(
  tx: DbClient,
  input: { fileIds: string[]; from: readonly FileStatus[]; to: FileStatus; fields?: TransitionFields; reason?: string },
): Promise<MovedFile[]> {
  const enqueue = outboxRule(input);
  const moved = await transitionFiles(tx, input.fileIds, input.from, input.to, input.fields, enqueue);
  if (moved.length === 0) return [];
  const perWorkspace = new Map<string, CounterDelta>();
  for (const { workspaceId, size, previous } of moved) {
    const d = counterDelta(previous, input.to, size);
    const acc = perWorkspace.get(workspaceId) ?? { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 };
    acc.usedBytes += d.usedBytes;
    acc.reservedBytes += d.reservedBytes;
    acc.fileCount += d.fileCount;
    acc.pendingCount += d.pendingCount;
    perWorkspace.set(workspaceId, acc);
  }
  for (const [workspaceId, d] of [...perWorkspace].sort(([a], [b]) => (a < b ? -1 : 1))) {
    await applyCounterDelta(tx, workspaceId, d);
  }
  return moved;
}
