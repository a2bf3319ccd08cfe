// Reconciliation of one workspace's prefix with the database:
//  - objects with no row (or whose row no longer wants them: expired/rejected/deleted), optionally deleted once older
//    than a grace period (an upload in flight has an object before its row is settled, never before its row exists);
//  - rows that should have an object (available) whose object is gone, optionally marked `missing` (through the
//    transition function, after a HEAD confirms it).
// Lists the prefix page by page (1,000 keys) and looks each page's keys up in one query. The set of listed keys is
// kept in memory to find rows without objects (≈100 bytes per object).
import { isValidWorkspaceId, workspacePrefix } from '../domain/keys.ts';
import type { Deps } from './deps.ts';
import { transition } from './transition.ts';

export interface ReconcileOptions {
  /** Delete objects without a (live) row that are older than graceSeconds. */
  deleteOrphans?: boolean;
  /** Mark available rows whose object is gone as missing. */
  markMissing?: boolean;
  /** Default 24 hours. */
  graceSeconds?: number;
  /** Cap on the items listed in the report (counts are always complete). */
  reportLimit?: number;
}

export interface ReconcileReport {
  workspaceId: string;
  objectsListed: number;
  orphanObjects: { key: string; size: number; lastModified: string | null; row: string | null }[];
  orphanCount: number;
  orphansDeleted: number;
  missingObjects: { fileId: string; key: string }[];
  missingCount: number;
  markedMissing: number;
}

const UNWANTED = new Set(['expired', 'rejected', 'deleted']);

export async function reconcileWorkspace(deps: Deps, workspaceId: string, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  if (!isValidWorkspaceId(workspaceId)) throw new Error(`invalid workspace id: ${JSON.stringify(workspaceId)}`);
  const prefix = workspacePrefix(workspaceId);
  const limit = opts.reportLimit ?? 1000;
  const cutoff = deps.now().getTime() - (opts.graceSeconds ?? 24 * 3600) * 1000;
  const report: ReconcileReport = {
    workspaceId, objectsListed: 0, orphanObjects: [], orphanCount: 0, orphansDeleted: 0, missingObjects: [], missingCount: 0, markedMissing: 0,
  };
  const listed = new Set<string>();
  let token: string | undefined;
  do {
    const page = await deps.storage.listObjects(prefix, { continuationToken: token, maxKeys: 1000 });
    token = page.nextContinuationToken;
    report.objectsListed += page.objects.length;
    const keys = page.objects.map((o) => o.key);
    for (const k of keys) listed.add(k);
    const rows = new Map<string, string>();
    if (keys.length > 0) {
      const r = await deps.db.query<{ object_key: string; status: string }>(
        'SELECT object_key, status FROM files WHERE object_key = ANY($1::text[])',
        [keys],
      );
      for (const row of r.rows) rows.set(row.object_key, row.status);
    }
    const toDelete: string[] = [];
    for (const o of page.objects) {
      const status = rows.get(o.key);
      if (status !== undefined && !UNWANTED.has(status)) continue;
      report.orphanCount += 1;
      if (report.orphanObjects.length < limit) {
        report.orphanObjects.push({ key: o.key, size: o.size, lastModified: o.lastModified?.toISOString() ?? null, row: status ?? null });
      }
      if (opts.deleteOrphans && o.lastModified && o.lastModified.getTime() < cutoff) toDelete.push(o.key);
    }
    if (toDelete.length > 0) {
      const { failed } = await deps.storage.deleteMany(toDelete);
      report.orphansDeleted += toDelete.length - failed.length;
    }
  } while (token !== undefined);

  // Rows that must have an object, streamed in key order.
  let after = '';
  for (;;) {
    const r = await deps.db.query<{ id: string; object_key: string }>(
      `SELECT id, object_key FROM files
        WHERE workspace_id = $1 AND status = 'available' AND object_key COLLATE "C" > $2
        ORDER BY object_key COLLATE "C" LIMIT 1000`,
      [workspaceId, after],
    );
    if (r.rows.length === 0) break;
    for (const row of r.rows) {
      if (listed.has(row.object_key)) continue;
      report.missingCount += 1;
      if (report.missingObjects.length < limit) report.missingObjects.push({ fileId: row.id, key: row.object_key });
      if (opts.markMissing && !(await deps.storage.head(row.object_key))) {
        const t = await transition(deps, { fileId: row.id, from: ['available'], to: 'missing' });
        if (t.won) report.markedMissing += 1;
      }
    }
    after = r.rows[r.rows.length - 1]!.object_key;
  }
  return report;
}
