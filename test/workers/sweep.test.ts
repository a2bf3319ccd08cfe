// The expiry sweeper and the deletion outbox under concurrency, against real Postgres and the embedded object store
// over the real S3 API: two workers (separate pools and S3 clients) race over 10,000 expired uploads.
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/services/deps.ts';
import { processDeletions } from '../../src/services/process-deletions.ts';
import { sweepExpired } from '../../src/services/sweep-expired.ts';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { TINY_PNG, waitFor } from '../helpers/events.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { seedExpiredUploads } from '../helpers/seed-expired.ts';
import { countObjects, secondWorkerDeps } from '../helpers/workers.ts';

describe('expiry sweeper + deletion outbox', () => {
  let target: EmbeddedS3Target;
  let t: TestApp;
  let s3: S3Client;
  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    t = await startTestApp({ s3Target: { endpoint: target.endpoint, ...target.credentials } });
    s3 = target.client();
  });
  afterAll(async () => {
    await t?.close();
    s3?.destroy();
    await target?.stop();
  });

  it('two workers racing over 10,000 expired uploads: each cleaned exactly once, reservations released, no object left', async () => {
    const ws = randomWorkspaceId('race');
    const N = 10_000;
    const VALID = 10; // rows whose object arrived intact: reconciled (completed), not expired
    const size = TINY_PNG.length;
    const rows = await seedExpiredUploads(t.deps.db, s3, t.config.s3.bucket, {
      workspaceId: ws, count: N, size,
      // the first VALID rows: a complete, valid object; every 20th row: a partial object; the rest: nothing arrived
      // (the embedded store writes ~100 objects/s on this disk, so objects are kept to a few hundred)
      objectFor: (i) => (i < VALID ? TINY_PNG : i % 20 === 0 ? TINY_PNG.subarray(0, 10) : null),
    });
    const withObject = rows.filter((r) => r.hasObject).length;
    expect(withObject).toBe(VALID + N / 20 - 1);

    const w2 = secondWorkerDeps(t);
    try {
      const work = (deps: Deps) => async () => {
        // Scoped to this workspace: other test files run workers on the same database concurrently.
        const s = await sweepExpired(deps, { batchSize: 500, workspaceId: ws });
        const d = await processDeletions(deps, { batchSize: 500, keyPrefix: `workspaces/${ws}/` });
        return { s, d };
      };
      const [a, b] = await Promise.all([work(t.deps)(), work(w2)()]);
      // Both did part of the work (SKIP LOCKED shares it), and together exactly all of it.
      expect(a.s.batches).toBeGreaterThan(0);
      expect(b.s.batches).toBeGreaterThan(0);
      expect(a.s.expired + b.s.expired).toBe(N - VALID);
      // Rows whose object arrived are handed to the completion function; both workers may hand over the same row
      // (settleUpload is idempotent: one transition wins), so the state below is what proves "exactly once".
      expect(a.s.completed + b.s.completed).toBeGreaterThanOrEqual(VALID);
      expect(a.d.deleted + b.d.deleted).toBe(N - VALID);
      // Reconciliation listed instead of probing each object.
      expect(a.s.headCalls + b.s.headCalls).toBeLessThan(N / 10);
    } finally {
      await w2.close();
    }

    const statuses = await t.deps.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM files WHERE workspace_id = $1 GROUP BY status ORDER BY status', [ws]);
    expect(statuses.rows).toEqual([{ status: 'available', n: VALID }, { status: 'expired', n: N - VALID }]);
    const w = await t.deps.db.query('SELECT used_bytes, reserved_bytes, file_count, pending_count FROM workspaces WHERE id = $1', [ws]);
    expect(w.rows[0]).toEqual({ used_bytes: VALID * size, reserved_bytes: 0, file_count: VALID, pending_count: 0 });
    const outbox = await t.deps.db.query(`SELECT count(*)::int AS n FROM object_deletions WHERE object_key LIKE 'workspaces/' || $1 || '/%'`, [ws]);
    expect(outbox.rows[0].n).toBe(0);
    expect(await countObjects(s3, t.config.s3.bucket, `workspaces/${ws}/`)).toBe(VALID);

    // A second pass finds nothing to do.
    const again = await sweepExpired(t.deps, { workspaceId: ws });
    expect(again).toMatchObject({ expired: 0, completed: 0, batches: 0 });
  });

  it('a multipart upload that expired is aborted through the outbox', async () => {
    const ws = randomWorkspaceId('mpu');
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'big.bin', contentType: 'application/octet-stream', size: 12 * 1024 * 1024, method: 'multipart' } });
    expect(res.status).toBe(201);
    const { file } = (await res.json()) as { file: { id: string } };
    const row = (await t.deps.db.query('SELECT object_key, multipart_upload_id FROM files WHERE id = $1', [file.id])).rows[0];
    expect(row.multipart_upload_id).toBeTruthy();
    expect(await t.deps.storage.listParts(row.object_key, row.multipart_upload_id)).not.toBeNull();
    await t.deps.db.query("UPDATE files SET expires_at = now() - interval '1 minute' WHERE id = $1", [file.id]);
    const s = await sweepExpired(t.deps, { workspaceId: ws });
    expect(s.expired).toBe(1);
    const d = await processDeletions(t.deps, { keyPrefix: `workspaces/${ws}/` });
    expect(d.abortedUploads).toBeGreaterThanOrEqual(1);
    expect(await t.deps.storage.listParts(row.object_key, row.multipart_upload_id)).toBeNull();
    const usage = (await (await t.api(ws, '/v1/usage')).json()) as { reservedBytes: number; pendingCount: number };
    expect(usage).toMatchObject({ reservedBytes: 0, pendingCount: 0 });
  });

  it('failed deletions stay in the outbox with a backoff and succeed later', async () => {
    const prefix = `workspaces/outbox-${randomBytes(4).toString('hex')}/`;
    const key = `${prefix}files/${randomBytes(4).toString('hex')}.png`;
    await t.deps.db.query("INSERT INTO object_deletions (object_key, reason) VALUES ($1, 'test')", [key]);
    const failing = { ...t.deps, storage: Object.create(t.deps.storage, {
      deleteMany: { value: async (keys: string[]) => ({ failed: keys.map((k) => ({ key: k, error: 'SlowDown: try later' })) }) },
    }) as typeof t.deps.storage };
    const r1 = await processDeletions(failing, { keyPrefix: prefix });
    expect(r1.failed).toBeGreaterThanOrEqual(1);
    const row = (await t.deps.db.query('SELECT attempts, last_error, next_attempt_at > now() AS later FROM object_deletions WHERE object_key = $1', [key])).rows[0];
    expect(row).toMatchObject({ attempts: 1, last_error: 'SlowDown: try later', later: true });
    await t.deps.db.query('UPDATE object_deletions SET next_attempt_at = now() WHERE object_key = $1', [key]);
    await processDeletions(t.deps, { keyPrefix: prefix });
    expect((await t.deps.db.query('SELECT count(*)::int AS n FROM object_deletions WHERE object_key = $1', [key])).rows[0].n).toBe(0);
  });

  it('an aborted upload whose PUT URL is still valid: the worker deletes now and again when the window closes, even if it ran first or the first delete failed', async () => {
    const ws = randomWorkspaceId('window');
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'a.png', contentType: 'image/png', size: TINY_PNG.length } });
    const { file, upload } = (await res.json()) as { file: { id: string }; upload: { url: string; headers: Record<string, string> } };
    const key = (await t.deps.db.query('SELECT object_key FROM files WHERE id = $1', [file.id])).rows[0].object_key as string;
    // The abort's own delete fails (storage down for a moment): the row is left for the worker.
    const failing = { ...t.deps, storage: Object.create(t.deps.storage, {
      delete: { value: async () => { throw new Error('SlowDown: try later'); } },
    }) as typeof t.deps.storage };
    const { abortUpload } = await import('../../src/services/delete-file.ts');
    await abortUpload(failing, ws, file.id);
    await t.deps.db.query('UPDATE object_deletions SET next_attempt_at = now() WHERE object_key = $1', [key]);
    await processDeletions(t.deps, { keyPrefix: `workspaces/${ws}/` });
    // The worker deleted, but kept the row for the end of the upload window (expires_at + 60 s). (Polled: another test
    // file's unscoped worker may have claimed the row first and not yet committed.)
    const kept = await waitFor(
      async () => (await t.deps.db.query(
        `SELECT d.next_attempt_at = f.expires_at + interval '60 seconds' AS at_window_end FROM object_deletions d JOIN files f ON f.id = d.file_id WHERE d.object_key = $1`, [key])).rows,
      (rows) => rows.length === 1 && rows[0].at_window_end === true,
    );
    expect(kept).toEqual([{ at_window_end: true }]);
    // The still-valid URL recreates the object behind the abort…
    expect((await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: Uint8Array.from(TINY_PNG) })).status).toBe(200);
    expect(await t.deps.storage.head(key)).not.toBeNull();
    // …and once the window has closed, the second pass removes it for good.
    const later = new Date(Date.now() + (t.config.uploads.pendingTtlSeconds + 120) * 1000);
    await processDeletions({ ...t.deps, now: () => later }, { keyPrefix: `workspaces/${ws}/` });
    expect(await t.deps.storage.head(key)).toBeNull();
    expect((await t.deps.db.query('SELECT count(*)::int AS n FROM object_deletions WHERE object_key = $1', [key])).rows[0].n).toBe(0);
  });
});
