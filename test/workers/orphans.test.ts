// Orphan multipart sweeper, reconciliation, the worker runner with the SQS consumer, and `stowage cleanup --once`,
// against real Postgres and the embedded object store over the S3 API.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileWorkspace } from '../../src/services/reconcile.ts';
import { sweepOrphanMultipart } from '../../src/services/sweep-multipart.ts';
import { startWorkers } from '../../src/workers/runner.ts';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { s3Event, TINY_PNG, waitFor } from '../helpers/events.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { seedExpiredUploads } from '../helpers/seed-expired.ts';
import { startSqsFixture } from '../helpers/sqs-fixture.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/stowage.mjs', import.meta.url));

describe('orphans, reconciliation, runner, cleanup command', () => {
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

  const bucket = () => t.config.s3.bucket;

  async function uploadAndComplete(ws: string) {
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'a.png', contentType: 'image/png', size: TINY_PNG.length } });
    const { file, upload } = (await res.json()) as { file: { id: string }; upload: { url: string; headers: Record<string, string> } };
    expect((await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: Uint8Array.from(TINY_PNG) })).status).toBe(200);
    const key = (await t.deps.db.query('SELECT object_key FROM files WHERE id = $1', [file.id])).rows[0].object_key as string;
    return { id: file.id, key };
  }

  const uploadsUnder = async (prefix: string) =>
    ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket(), Prefix: prefix }))).Uploads ?? []).map((u) => u.UploadId);

  it('aborts multipart uploads no row knows (after the grace period) and those past the TTL; keeps live ones', async () => {
    const ws = randomWorkspaceId('mpo');
    const prefix = `workspaces/${ws}/`;
    const orphan = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket(), Key: `${prefix}files/${randomUUID()}.bin` }));
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'big.bin', contentType: 'application/octet-stream', size: 12 * 1024 * 1024, method: 'multipart' } });
    expect(res.status).toBe(201);
    const live = (await t.deps.db.query('SELECT multipart_upload_id FROM files WHERE workspace_id = $1', [ws])).rows[0].multipart_upload_id as string;
    expect((await uploadsUnder(prefix)).sort()).toEqual([orphan.UploadId, live].sort());

    // Within the grace period nothing is touched (an upload may be created just before its row).
    expect(await sweepOrphanMultipart(t.deps, { prefix, graceSeconds: 3600 })).toMatchObject({ listed: 2, aborted: 0 });
    const r = await sweepOrphanMultipart(t.deps, { prefix, graceSeconds: 0 });
    expect(r).toMatchObject({ listed: 2, aborted: 1, abortedUnknown: 1 });
    expect(await uploadsUnder(prefix)).toEqual([live]);
    // Past the TTL even a known upload goes.
    expect(await sweepOrphanMultipart(t.deps, { prefix, graceSeconds: 0, ttlSeconds: 0 })).toMatchObject({ aborted: 1, abortedExpired: 1 });
    expect(await uploadsUnder(prefix)).toEqual([]);
  });

  it('reconcile reports objects without a row and rows whose object is gone; optionally fixes both', async () => {
    const ws = randomWorkspaceId('rec');
    const kept = await uploadAndComplete(ws);
    expect((await t.api(ws, `/v1/uploads/${kept.id}/complete`, { method: 'POST' })).status).toBe(200);
    const gone = await uploadAndComplete(ws);
    expect((await t.api(ws, `/v1/uploads/${gone.id}/complete`, { method: 'POST' })).status).toBe(200);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: gone.key }));
    const orphanKey = `workspaces/${ws}/files/${randomUUID()}.png`;
    await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: orphanKey, Body: TINY_PNG }));

    const report = await reconcileWorkspace(t.deps, ws);
    expect(report).toMatchObject({ objectsListed: 2, orphanCount: 1, orphansDeleted: 0, missingCount: 1, markedMissing: 0 });
    expect(report.orphanObjects.map((o) => o.key)).toEqual([orphanKey]);
    expect(report.missingObjects).toEqual([{ fileId: gone.id, key: gone.key }]);
    // Young orphans survive the default grace period even with deleteOrphans.
    expect((await reconcileWorkspace(t.deps, ws, { deleteOrphans: true })).orphansDeleted).toBe(0);

    const fixed = await reconcileWorkspace(t.deps, ws, { deleteOrphans: true, graceSeconds: 0, markMissing: true });
    expect(fixed).toMatchObject({ orphansDeleted: 1, markedMissing: 1 });
    expect(await t.deps.storage.head(orphanKey)).toBeNull();
    expect(await t.deps.storage.head(kept.key)).not.toBeNull();
    const status = (await t.deps.db.query('SELECT status FROM files WHERE id = $1', [gone.id])).rows[0].status;
    expect(status).toBe('missing');
    expect(await reconcileWorkspace(t.deps, ws)).toMatchObject({ orphanCount: 0, missingCount: 0 });
  });

  it('the worker runner consumes S3 events from SQS (fixture) and completes uploads nobody confirmed', async () => {
    const sqs = await startSqsFixture();
    const client = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials: sqs.credentials });
    const queueUrl = sqs.createQueue('stowage-events');
    const ws = randomWorkspaceId('sqs');
    const workers = startWorkers(t.deps, { intervalMs: 60_000, multipart: false, workspaceId: ws, sqs: { queueUrl, client, waitTimeSeconds: 1 } });
    try {
      const { id, key } = await uploadAndComplete(ws); // uploaded, not confirmed
      // As S3 → SNS → SQS delivers it: an SNS envelope around the S3 records.
      sqs.send(queueUrl, JSON.stringify({ Type: 'Notification', Message: JSON.stringify(s3Event(bucket(), key, 'ObjectCreated:Put', TINY_PNG.length)) }));
      sqs.send(queueUrl, JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: bucket() }));
      sqs.send(queueUrl, '{"garbage": true}');
      const status = await waitFor(async () => (await t.deps.db.query('SELECT status FROM files WHERE id = $1', [id])).rows[0].status as string, (s) => s === 'available');
      expect(status).toBe('available');
      const drained = await waitFor(async () => sqs.depth(queueUrl), (d) => d.visible + d.inFlight === 0);
      expect(drained).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await workers.stop();
      client.destroy();
      await sqs.close();
    }
  });

  it('`stowage cleanup --once` runs one pass and prints what it did', async () => {
    const ws = randomWorkspaceId('cli');
    await seedExpiredUploads(t.deps.db, s3, bucket(), { workspaceId: ws, count: 25, size: 100, objectFor: (i) => (i < 5 ? TINY_PNG : null) });
    const c = t.config;
    const env = { ...process.env, DATABASE_URL: c.databaseUrl!, S3_ENDPOINT: c.s3.endpoint!, S3_BUCKET: c.s3.bucket, S3_REGION: c.s3.region,
      S3_ACCESS_KEY_ID: c.s3.accessKeyId!, S3_SECRET_ACCESS_KEY: c.s3.secretAccessKey!, LOG_LEVEL: 'silent' };
    const { stdout } = await run(process.execPath, [BIN, 'cleanup', '--once', '--workspace', ws, '--reconcile', ws], { env });
    expect(stdout).toMatch(/expired uploads\s+expired 2\d/);
    expect(stdout).toMatch(/object deletions deleted \d+/);
    expect(stdout).toMatch(new RegExp(`reconcile ${ws}: 0 objects listed`));
    const w = (await t.deps.db.query('SELECT reserved_bytes, pending_count FROM workspaces WHERE id = $1', [ws])).rows[0];
    expect(w).toEqual({ reserved_bytes: 0, pending_count: 0 });
  });
});
