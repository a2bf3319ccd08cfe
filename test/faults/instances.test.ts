// Several instances: two `stowage serve` and two `stowage worker` processes against one Postgres and one store
// (embedded, and Ceph RGW when RGW_ENDPOINT is set). The quota race, the completion race and the cleanup race hold.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { startObjectStore, type ObjectStore } from '../../src/objectstore/index.ts';
import { createPool, type Db } from '../../src/db/pool.ts';
import { mintToken } from '../../src/http/auth.ts';
import { makeS3Client, rgwEnv, RGW_SKIP_MESSAGE } from '../helpers/s3-targets.ts';
import { freePort, stowageProcess, type StowageProcess } from '../helpers/stowage-process.ts';
import { checkInvariants } from '../helpers/invariants.ts';
import { recordSoakCounts } from '../soak/counts.ts';

type Json = any;
const targets: ('embedded' | 'rgw')[] = rgwEnv() ? ['embedded', 'rgw'] : ['embedded'];
if (!rgwEnv()) console.warn(`[instances] ${RGW_SKIP_MESSAGE}`);

describe.each(targets)('two APIs + two workers on %s', (target) => {
  let store: ObjectStore | undefined;
  let tmp: string;
  let s3: S3Client;
  let db: Db;
  let bucket: string;
  const apis: StowageProcess[] = [];
  const workers: StowageProcess[] = [];
  const secret = randomBytes(32).toString('hex');
  const eventsSecret = randomBytes(16).toString('hex');
  const run = randomBytes(3).toString('hex');
  let checks = 0;
  let cases = 0;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'stowage-instances-'));
    const rgw = rgwEnv();
    const credentials = target === 'rgw' ? rgw!.credentials : { accessKeyId: `AKIAINST${run.toUpperCase()}`, secretAccessKey: randomBytes(20).toString('hex') };
    if (target === 'embedded') store = await startObjectStore({ dir: path.join(tmp, 's3'), credentials: [credentials] });
    const endpoint = target === 'rgw' ? rgw!.endpoint : store!.endpoint;
    s3 = makeS3Client(endpoint, target === 'rgw' ? rgw!.region : 'us-east-1', credentials);
    bucket = `stowage-inst-${run}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    db = createPool(process.env.DATABASE_URL!, { max: 4 });
    const env = {
      DATABASE_URL: process.env.DATABASE_URL!,
      DATABASE_POOL_MAX: '8',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: target === 'rgw' ? rgw!.region : 'us-east-1',
      S3_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AUTH_JWT_SECRET: secret,
      EVENTS_SECRET: eventsSecret,
      UPLOAD_URL_TTL_SECONDS: '10',
      UPLOAD_PENDING_TTL_SECONDS: '10',
      DOWNLOAD_STRATEGY: 's3',
      DEFAULT_QUOTA_BYTES: String(10_000),
      DEFAULT_MAX_PENDING: '100',
    };
    for (let i = 0; i < 2; i++) apis.push(stowageProcess(`i${run}-api${i}`, 'serve', { ...env, PORT: String(await freePort()) }));
    for (let i = 0; i < 2; i++) workers.push(stowageProcess(`i${run}-worker${i}`, 'worker', env, ['--interval', '1']));
    await Promise.all([...apis, ...workers].map((p) => p.start()));
  }, 240_000);
  afterAll(async () => {
    recordSoakCounts(`instances-${target}`, { cases, checks, violations: 0 });
    await Promise.all([...apis, ...workers].map((p) => p.kill()));
    await db?.end();
    s3?.destroy();
    await store?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  async function call(i: number, ws: string, method: string, p: string, json?: unknown): Promise<{ status: number; body: Json }> {
    cases++;
    const r = await fetch(apis[i % apis.length]!.url + p, {
      method,
      headers: { authorization: `Bearer ${await mintToken({ secret, workspaceId: ws })}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: json !== undefined ? JSON.stringify(json) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
  async function invariants(ws: string[], afterCleanup = false) {
    const r = await checkInvariants({ db, s3, bucket, workspaceIds: ws, graceSeconds: 30, afterCleanup });
    checks += r.checks;
    expect(r.violations).toEqual([]);
  }

  test('quota race: 40 creates of 1,000 bytes over both APIs against a 10,000-byte quota → exactly 10 win', async () => {
    const ws = `inst-${run}-quota`;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i, ws, 'POST', '/v1/uploads', { filename: 'q.bin', contentType: 'application/octet-stream', size: 1000 })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    for (const r of results.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('quota_exceeded');
    const usage = (await call(0, ws, 'GET', '/v1/usage')).body;
    expect(usage.reservedBytes + usage.usedBytes).toBe(10_000);
    await invariants([ws]);
  });

  test('completion race: confirm ×4 over both APIs + the storage event to both, for 8 uploads → one winner each', async () => {
    const ws = `inst-${run}-complete`;
    const ids: { id: string; key: string; size: number }[] = [];
    for (let i = 0; i < 8; i++) {
      const body = randomBytes(300 + i);
      const c = await call(i, ws, 'POST', '/v1/uploads', { filename: 'c.bin', contentType: 'application/octet-stream', size: body.length });
      expect(c.status).toBe(201);
      const put = await fetch(c.body.upload.url, { method: 'PUT', headers: c.body.upload.headers, body });
      expect(put.status).toBe(200);
      ids.push({ id: c.body.file.id, key: decodeURIComponent(new URL(c.body.upload.url).pathname).split('/').slice(2).join('/'), size: body.length });
    }
    const event = (key: string, size: number) => ({
      Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'us-east-1', eventTime: new Date().toISOString(), eventName: 'ObjectCreated:Put', s3: { s3SchemaVersion: '1.0', configurationId: 'x', bucket: { name: bucket }, object: { key, size, eTag: 'x', sequencer: '01' } } }],
    });
    const answers = await Promise.all(
      ids.flatMap(({ id, key, size }) => [
        ...[0, 1, 2, 3].map((i) => call(i, ws, 'POST', `/v1/uploads/${id}/complete`)),
        ...[0, 1].map((i) => fetch(`${apis[i]!.url}/v1/events/s3?secret=${eventsSecret}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event(key, size)) }).then((r) => ({ status: r.status, body: null }))),
      ]),
    );
    for (const a of answers) expect(a.status).toBe(200);
    for (const { id } of ids) expect((await call(0, ws, 'GET', `/v1/files/${id}`)).body.file.status).toBe('available');
    const usage = (await call(1, ws, 'GET', '/v1/usage')).body;
    expect(usage.fileCount).toBe(8);
    expect(usage.usedBytes).toBe(ids.reduce((a, b) => a + b.size, 0));
    expect(usage.reservedBytes).toBe(0);
    await invariants([ws]);
  });

  test('cleanup race: two workers sweep the same expired uploads → each settles exactly once', async () => {
    const ws = `inst-${run}-sweep`;
    const withObject: string[] = [];
    const without: string[] = [];
    for (let i = 0; i < 9; i++) {
      const body = randomBytes(100);
      const c = await call(i, ws, 'POST', '/v1/uploads', { filename: 's.bin', contentType: 'application/octet-stream', size: body.length });
      expect(c.status).toBe(201);
      if (i % 3 === 0) {
        expect((await fetch(c.body.upload.url, { method: 'PUT', headers: c.body.upload.headers, body })).status).toBe(200);
        withObject.push(c.body.file.id);
      } else without.push(c.body.file.id);
    }
    // Both workers run every second; wait for expiry (10 s) and a few passes.
    const until = Date.now() + 60_000;
    for (;;) {
      const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM files WHERE workspace_id = $1 AND status = 'pending'`, [ws]);
      if (r.rows[0]!.n === 0 || Date.now() > until) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    for (const id of withObject) expect((await call(0, ws, 'GET', `/v1/files/${id}`)).body.file.status).toBe('available');
    for (const id of without) expect((await call(1, ws, 'GET', `/v1/files/${id}`)).body.file.status).toBe('expired');
    const usage = (await call(0, ws, 'GET', '/v1/usage')).body;
    expect(usage).toMatchObject({ fileCount: 3, usedBytes: 300, reservedBytes: 0, pendingCount: 0 });
    await invariants([ws], true);
  }, 120_000);
});
