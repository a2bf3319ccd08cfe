// Orphan multipart sweeper: ListMultipartUploads under the workspaces/ prefix, and abort every upload that
//  - no file row knows (after a grace period, so an upload being created right now is not touched), or
//  - belongs to a row that is no longer pending (completed, expired, rejected, deleted: parts nobody will use), or
//  - outlived the multipart TTL (config MULTIPART_TTL_SECONDS), whatever its row says.
// Aborting is idempotent (an absent upload counts as aborted), so concurrent sweepers are harmless. Rows are not
// changed here: a pending row whose upload was aborted is expired by the expiry sweeper when its time comes.
import type { Deps } from './deps.ts';
import { forEachLimit } from './process-deletions.ts';

export interface SweepMultipartOptions {
  /** Uploads unknown to the database younger than this are left alone (default 1 hour). */
  graceSeconds?: number;
  /** Uploads older than this are aborted even when a pending row knows them (default config or 7 days). */
  ttlSeconds?: number;
  prefix?: string;
  concurrency?: number;
}

export interface SweepMultipartResult {
  listed: number;
  aborted: number;
  abortedUnknown: number;
  abortedSettled: number;
  abortedExpired: number;
  failed: number;
}

export async function sweepOrphanMultipart(deps: Deps, opts: SweepMultipartOptions = {}): Promise<SweepMultipartResult> {
  const now = deps.now().getTime();
  const grace = (opts.graceSeconds ?? 3600) * 1000;
  const ttl = (opts.ttlSeconds ?? deps.config.workers?.multipartTtlSeconds ?? 7 * 24 * 3600) * 1000;
  const out: SweepMultipartResult = { listed: 0, aborted: 0, abortedUnknown: 0, abortedSettled: 0, abortedExpired: 0, failed: 0 };
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await deps.storage.listMultipartUploads(opts.prefix ?? 'workspaces/', { keyMarker, uploadIdMarker });
    out.listed += page.uploads.length;
    const ids = page.uploads.map((u) => u.uploadId);
    const known = new Map<string, string>();
    if (ids.length > 0) {
      const r = await deps.db.query<{ multipart_upload_id: string; status: string }>(
        'SELECT multipart_upload_id, status FROM files WHERE multipart_upload_id = ANY($1::text[])',
        [ids],
      );
      for (const row of r.rows) known.set(row.multipart_upload_id, row.status);
    }
    const doomed: { key: string; uploadId: string; why: 'unknown' | 'settled' | 'expired' }[] = [];
    for (const u of page.uploads) {
      const age = u.initiated ? now - u.initiated.getTime() : Infinity;
      const status = known.get(u.uploadId);
      if (status === undefined) {
        if (age >= grace) doomed.push({ key: u.key, uploadId: u.uploadId, why: 'unknown' });
      } else if (status !== 'pending') doomed.push({ key: u.key, uploadId: u.uploadId, why: 'settled' });
      else if (age >= ttl) doomed.push({ key: u.key, uploadId: u.uploadId, why: 'expired' });
    }
    await forEachLimit(doomed, opts.concurrency ?? 8, async (d) => {
      try {
        await deps.storage.abortMultipart(d.key, d.uploadId);
        out.aborted += 1;
        if (d.why === 'unknown') out.abortedUnknown += 1;
        else if (d.why === 'settled') out.abortedSettled += 1;
        else out.abortedExpired += 1;
      } catch (err) {
        out.failed += 1;
        deps.log.warn({ err, key: d.key, uploadId: d.uploadId }, 'multipart sweeper: abort failed; next run retries');
      }
    });
    keyMarker = page.nextKeyMarker;
    uploadIdMarker = page.nextUploadIdMarker;
  } while (keyMarker !== undefined);
  if (out.aborted > 0) deps.log.info(out, 'multipart sweeper: aborted orphan uploads');
  return out;
}
