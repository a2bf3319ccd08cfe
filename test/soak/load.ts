// The load soak: N simulated users uploading (create → PUT → complete) and downloading (download URL → GET) for a
// fixed time against one `stowage serve` process, one worker, one Postgres and the embedded store. Records p50/p99
// per operation, errors (must be 0), the API's RSS every second (must stay flat), and a noisy tenant hammering
// creates to show the per-workspace rate limit (429 + Retry-After) while the other tenants are unaffected.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startObjectStore } from '../../src/objectstore/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { mintToken } from '../../src/http/auth.ts';
import { makeS3Client } from '../helpers/s3-targets.ts';
import { freePort, stowageProcess } from '../helpers/stowage-process.ts';
import { checkInvariants } from '../helpers/invariants.ts';

export interface LoadOptions {
  seconds: number;
  users: number;
  noisyConnections: number;
  /** RATE_LIMIT_CREATE for the run (per workspace per window). */
  createLimit: number;
  windowSeconds: number;
  log: (m: string) => void;
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

export async function runLoad(o: LoadOptions) {
  const tmp = await mkdtemp(path.join(tmpdir(), 'stowage-soak-'));
  const credentials = { accessKeyId: 'AKIASOAK0001', secretAccessKey: randomBytes(20).toString('hex') };
  const store = await startObjectStore({ dir: path.join(tmp, 's3'), credentials: [credentials] });
  const s3 = makeS3Client(store.endpoint, 'us-east-1', credentials);
  const bucket = `stowage-soak-${randomBytes(3).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const secret = randomBytes(32).toString('hex');
  const env = {
    DATABASE_URL: process.env.DATABASE_URL!,
    S3_ENDPOINT: store.endpoint,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AUTH_JWT_SECRET: secret,
    DOWNLOAD_STRATEGY: 's3',
    RATE_LIMIT_CREATE: String(o.createLimit),
    RATE_LIMIT_WINDOW_SECONDS: String(o.windowSeconds),
    DEFAULT_QUOTA_BYTES: String(100 * 1024 ** 3),
    DEFAULT_MAX_PENDING: '10000',
  };
  const api = stowageProcess('soak-api', 'serve', { ...env, PORT: String(await freePort()) });
  const worker = stowageProcess('soak-worker', 'worker', env, ['--interval', '5']);
  await Promise.all([api.start(), worker.start()]);
  const db = createPool(process.env.DATABASE_URL!, { max: 2 });

  const lat: Record<string, number[]> = { create: [], put: [], complete: [], downloadUrl: [], get: [], delete: [] };
  const errors: string[] = [];
  let ops = 0;
  const workspaces = Array.from({ length: o.users }, (_, i) => `soak-${i}-${randomBytes(3).toString('hex')}`);
  const tokens = await Promise.all(workspaces.map((w) => mintToken({ secret, workspaceId: w, ttlSeconds: 24 * 3600 })));
  const deadline = Date.now() + o.seconds * 1000;
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      lat[name]!.push(performance.now() - t0);
      ops++;
    }
  };
  const json = async (r: Response) => {
    const t = await r.text();
    return t ? JSON.parse(t) : null;
  };

  async function user(i: number): Promise<void> {
    const auth = { authorization: `Bearer ${tokens[i]}` };
    const mine: string[] = [];
    while (Date.now() < deadline) {
      // A well-behaved user: at most one upload cycle per 250 ms (≤ 40 creates per 10 s), far below the limit.
      const cycle = sleepUntil(Date.now() + 250);
      try {
        const body = randomBytes(1024 + Math.floor(Math.random() * 255 * 1024));
        const c = await timed('create', () => fetch(`${api.url}/v1/uploads`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'f.bin', contentType: 'application/octet-stream', size: body.length }) }));
        const cb = await json(c);
        if (c.status !== 201) throw new Error(`create ${c.status} ${JSON.stringify(cb)}`);
        const p = await timed('put', () => fetch(cb.upload.url, { method: 'PUT', headers: cb.upload.headers, body }));
        await p.arrayBuffer();
        if (p.status !== 200) throw new Error(`PUT ${p.status}`);
        const d = await timed('complete', () => fetch(`${api.url}/v1/uploads/${cb.file.id}/complete`, { method: 'POST', headers: auth }));
        const db_ = await json(d);
        if (d.status !== 200 || db_.file.status !== 'available') throw new Error(`complete ${d.status} ${JSON.stringify(db_)}`);
        mine.push(cb.file.id);
        const pick = mine[Math.floor(Math.random() * mine.length)]!;
        const u = await timed('downloadUrl', () => fetch(`${api.url}/v1/files/${pick}/download`, { headers: auth }));
        const ub = await json(u);
        if (u.status !== 200) throw new Error(`download URL ${u.status} ${JSON.stringify(ub)}`);
        const g = await timed('get', () => fetch(ub.url));
        await g.arrayBuffer();
        if (g.status !== 200) throw new Error(`GET ${g.status}`);
        if (mine.length > 20) {
          const victim = mine.shift()!;
          const del = await timed('delete', () => fetch(`${api.url}/v1/files/${victim}`, { method: 'DELETE', headers: auth }));
          await del.arrayBuffer();
          if (del.status !== 204) throw new Error(`delete ${del.status}`);
        }
      } catch (err) {
        errors.push(String((err as Error).message).slice(0, 300));
      }
      await cycle;
    }
  }

  // The noisy tenant: creates in a tight loop from several connections, honouring nothing.
  const noisy = { ws: `soak-noisy-${randomBytes(3).toString('hex')}`, created: 0, limited: 0, retryAfter: new Set<string>(), other: 0 };
  const noisyToken = await mintToken({ secret, workspaceId: noisy.ws, ttlSeconds: 24 * 3600 });
  async function noisyLoop(): Promise<void> {
    while (Date.now() < deadline) {
      const r = await fetch(`${api.url}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${noisyToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'n.bin', contentType: 'application/octet-stream', size: 10 }) });
      await r.arrayBuffer();
      if (r.status === 201) noisy.created++;
      else if (r.status === 429) {
        noisy.limited++;
        noisy.retryAfter.add(r.headers.get('retry-after') ?? 'missing');
      } else noisy.other++;
    }
  }

  const rss: number[] = [];
  const sampler = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${api.pid}/status`, 'utf8'));
      if (m) rss.push(Number(m[1]) / 1024);
    } catch {
      /* process gone */
    }
  }, 1000);
  o.log(`load: ${o.users} users + a noisy tenant (${o.noisyConnections} connections) for ${o.seconds} s; create limit ${o.createLimit}/${o.windowSeconds} s per workspace`);
  const t0 = Date.now();
  await Promise.all([...Array.from({ length: o.users }, (_, i) => user(i)), ...Array.from({ length: o.noisyConnections }, () => noisyLoop())]);
  clearInterval(sampler);
  const elapsed = (Date.now() - t0) / 1000;

  // Memory: after a warm-up fifth, the last quarter's median RSS within 1.5× of the first quarter's (and +64 MiB).
  const warm = rss.slice(Math.floor(rss.length / 5));
  const q = Math.max(1, Math.floor(warm.length / 4));
  const early = pct(warm.slice(0, q), 50);
  const late = pct(warm.slice(-q), 50);
  const violations: string[] = [];
  if (errors.length > 0) violations.push(`${errors.length} errors for well-behaved users, first: ${errors[0]}`);
  if (late > early * 1.5 && late - early > 64) violations.push(`API memory grew from ${early} MiB to ${late} MiB`);
  if (o.noisyConnections > 0 && noisy.limited === 0) violations.push('the noisy tenant was never rate limited');
  if (noisy.retryAfter.has('missing')) violations.push('a 429 without Retry-After');
  if (noisy.other > 0) violations.push(`the noisy tenant got ${noisy.other} answers other than 201/429`);

  await worker.stop();
  const inv = await checkInvariants({ db, s3, bucket, workspaceIds: [...workspaces, noisy.ws], graceSeconds: 120 });
  violations.push(...inv.violations);
  await api.stop();
  await db.end();
  s3.destroy();
  await store.close();
  await rm(tmp, { recursive: true, force: true });

  const latency = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, { count: v.length, p50Ms: pct(v, 50), p99Ms: pct(v, 99), maxMs: pct(v, 100) }]));
  return {
    seconds: Math.round(elapsed),
    users: o.users,
    operations: ops,
    opsPerSecond: Math.round(ops / elapsed),
    uploadsCompleted: lat.complete!.length,
    errors: errors.length,
    latency,
    rssMiB: { samples: rss.length, min: Math.round(Math.min(...rss)), max: Math.round(Math.max(...rss)), earlyMedian: early, lateMedian: late },
    rateLimit: { limit: o.createLimit, windowSeconds: o.windowSeconds, noisyCreated: noisy.created, noisyLimited: noisy.limited, retryAfterValues: [...noisy.retryAfter].slice(0, 10) },
    invariantChecks: inv.checks,
    violations,
  };
}
