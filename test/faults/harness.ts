// The fault harness: the full flow (single PUT and multipart uploads, confirm and storage-event paths, deletes,
// downloads, cleanup) driven by simulated users against `stowage serve` and `stowage worker` child processes, while
// faults are injected: the object store stopped and restarted on the same port and directory, storage answering
// 500/503 SlowDown or dropping connections (fault proxy), Postgres connections cut (pg_terminate_backend) or Postgres
// unreachable for a while (TCP proxy), API and worker processes SIGKILLed and restarted. Afterwards: a cleanup pass
// (`stowage cleanup --once` with reconcile), then the invariants (test/helpers/invariants.ts).
// Used by test/faults/*.test.ts (short) and `npm run soak` (long).
import { uploadWindowEnd } from '../../src/domain/upload-state.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { startObjectStore, type ObjectStore, type S3EventRecord } from '../../src/objectstore/index.ts';
import { createPool, type Db } from '../../src/db/pool.ts';
import { mintToken } from '../../src/http/auth.ts';
import { makeS3Client, rgwEnv } from '../helpers/s3-targets.ts';
import { startS3FaultProxy, startTcpProxy, type S3FaultProxy, type TcpProxy } from '../helpers/fault-proxy.ts';
import { freePort, stowageProcess, type StowageProcess } from '../helpers/stowage-process.ts';
import { checkInvariants } from '../helpers/invariants.ts';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.ts';
import { createDeps } from '../../src/cli/api-component.ts';
import { runCleanupOnce } from '../../src/services/cleanup.ts';
import { reconcileWorkspace } from '../../src/services/reconcile.ts';

const MiB = 1024 * 1024;

export type FaultKind = 'storage-stop' | 'storage-errors' | 'storage-reset' | 'db-cut' | 'db-down' | 'kill-api' | 'kill-worker';
export const ALL_FAULTS: FaultKind[] = ['storage-stop', 'storage-errors', 'storage-reset', 'db-cut', 'db-down', 'kill-worker', 'kill-api'];

export interface FaultRunOptions {
  seconds: number;
  users: number;
  apis: number;
  workers: number;
  workspaces: number;
  faults: FaultKind[];
  /** Pause between faults. */
  faultEveryMs: number;
  /** How long an outage lasts. */
  outageMs: [number, number];
  multipartShare: number;
  /** Share of uploads left to the storage event (no confirm call). */
  eventShare: number;
  /** 'embedded' (default) or 'rgw' (RGW_ENDPOINT; storage-stop faults are skipped). */
  storage?: 'embedded' | 'rgw';
  /** Per-workspace quota (bytes); small values make quota refusals part of the run. */
  quotaBytes?: number;
  log?: (m: string) => void;
}

export interface FaultRunResult {
  storage: string;
  uploads: { created: number; uploaded: number; confirmed: number; leftToEvents: number; deleted: number; downloads: number };
  requests: number;
  statuses: Record<string, number>;
  faultsInjected: Record<string, number>;
  /** Per dependency: 503 dependency_unavailable answers seen while it was down. */
  unavailableAnswers: Record<string, number>;
  apiUnreachable: number;
  invariantChecks: number;
  violations: string[];
  final: Record<string, number>;
}

type Outage = 'storage' | 'database' | null;

export async function runFaults(o: FaultRunOptions): Promise<FaultRunResult> {
  const log = o.log ?? (() => {});
  const dbUrl = process.env.DATABASE_URL;
  if (!dbUrl) throw new Error('DATABASE_URL not set');
  const runId = randomBytes(3).toString('hex');
  const tmp = await mkdtemp(path.join(tmpdir(), 'stowage-faults-'));
  const secret = randomBytes(32).toString('hex');
  const eventsSecret = randomBytes(16).toString('hex');
  const violations: string[] = [];
  const statuses: Record<string, number> = {};
  const faultsInjected: Record<string, number> = {};
  const unavailableAnswers: Record<string, number> = { storage: 0, database: 0 };
  const uploads = { created: 0, uploaded: 0, confirmed: 0, leftToEvents: 0, deleted: 0, downloads: 0 };
  let requests = 0;
  let apiUnreachable = 0;
  let outage: Outage = null;
  /** Dependencies taken down at least once so far (a 503 naming another one would be a wrong diagnosis). */
  const outages = new Set<string>();

  // ---- storage: the embedded store on a fixed port (so it can restart in place) behind the fault proxy, or RGW ----
  const useRgw = o.storage === 'rgw';
  const rgw = rgwEnv();
  if (useRgw && !rgw) throw new Error('RGW_ENDPOINT not set');
  const credentials = useRgw ? rgw!.credentials : { accessKeyId: `AKIAFAULT${runId.toUpperCase()}`, secretAccessKey: randomBytes(20).toString('hex') };
  const storePort = await freePort();
  let store: ObjectStore | undefined;
  let unsubscribe: (() => void) | undefined;
  const storeDir = path.join(tmp, 's3');
  const startStore = async () => {
    store = await startObjectStore({ dir: storeDir, port: storePort, host: '127.0.0.1', credentials: [credentials] });
    unsubscribe = store.subscribe(forwardEvent);
  };
  const stopStore = async () => {
    unsubscribe?.();
    await store?.close();
    store = undefined;
  };
  const storeUrl = useRgw ? rgw!.endpoint : `http://127.0.0.1:${storePort}`;
  if (!useRgw) await startStore();
  const proxy: S3FaultProxy = await startS3FaultProxy(() => storeUrl);
  const bucket = `stowage-faults-${runId}`;
  const s3: S3Client = makeS3Client(storeUrl, useRgw ? rgw!.region : 'us-east-1', credentials);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  // ---- Postgres through a TCP proxy (outages), plus a direct pool for checks and pg_terminate_backend ----
  const u = new URL(dbUrl);
  const pgProxy: TcpProxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
  const proxiedDbUrl = new URL(dbUrl);
  proxiedDbUrl.hostname = '127.0.0.1';
  proxiedDbUrl.port = String(pgProxy.port);
  const db: Db = createPool(dbUrl, { max: 4 });

  // ---- processes ----
  const env: Record<string, string> = {
    DATABASE_URL: proxiedDbUrl.toString(),
    DATABASE_POOL_MAX: '6',
    S3_ENDPOINT: proxy.url,
    S3_BUCKET: bucket,
    S3_REGION: useRgw ? rgw!.region : 'us-east-1',
    S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AUTH_JWT_SECRET: secret,
    EVENTS_SECRET: eventsSecret,
    UPLOAD_URL_TTL_SECONDS: '10',
    UPLOAD_PENDING_TTL_SECONDS: '10',
    MULTIPART_PART_SIZE_BYTES: String(5 * MiB),
    MULTIPART_THRESHOLD_BYTES: String(5 * MiB),
    MULTIPART_TTL_SECONDS: '60',
    WORKER_INTERVAL_SECONDS: '1',
    DOWNLOAD_STRATEGY: 's3',
    DEFAULT_QUOTA_BYTES: String(o.quotaBytes ?? 64 * MiB),
    DEFAULT_MAX_PENDING: '50',
    SHUTDOWN_TIMEOUT_MS: '2000',
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
  };
  const apis: StowageProcess[] = [];
  for (let i = 0; i < o.apis; i++) apis.push(stowageProcess(`f${runId}-api${i}`, 'serve', { ...env, PORT: String(await freePort()) }));
  const workers: StowageProcess[] = [];
  for (let i = 0; i < o.workers; i++) workers.push(stowageProcess(`f${runId}-worker${i}`, 'worker', env, ['--interval', '1']));
  const t0 = Date.now();
  await Promise.all(apis.map((a) => a.start()));
  await Promise.all(workers.map((w) => w.start()));
  log(`processes started in ${Date.now() - t0} ms`);
  log(`faults ${runId}: ${o.apis} API + ${o.workers} worker processes, storage ${useRgw ? 'rgw' : 'embedded'} via fault proxy, Postgres via TCP proxy`);

  const workspaces = Array.from({ length: o.workspaces }, (_, i) => `faults-${runId}-w${i}`);
  const tokens = new Map<string, string>();
  for (const w of workspaces) tokens.set(w, await mintToken({ secret, workspaceId: w, ttlSeconds: 3 * 3600 }));
  // Users pick any API; a killed one answers nothing (counted as unreachable, the user backs off and retries).
  const pickApi = () => apis[Math.floor(Math.random() * apis.length)]!;

  // ---- storage events: the embedded store's notifications forwarded to a live API (lossy, like a webhook) ----
  function forwardEvent(r: S3EventRecord): void {
    if (!r.s3.object.key.startsWith('workspaces/')) return;
    const api = apis.find((a) => a.alive);
    if (!api) return;
    fetch(`${api.url}/v1/events/s3?secret=${eventsSecret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Records: [r] }),
      signal: AbortSignal.timeout(10_000),
    }).then((res) => res.arrayBuffer(), () => undefined);
  }

  // ---- one API call, classified ----
  interface Answer { status: number; body: any }
  async function call(ws: string, method: string, p: string, json?: unknown, api = pickApi()): Promise<Answer | null> {
    requests++;
    const started = Date.now();
    let res: Response;
    try {
      res = await fetch(api.url + p, {
        method,
        headers: { authorization: `Bearer ${tokens.get(ws)}`, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: json !== undefined ? JSON.stringify(json) : undefined,
        signal: AbortSignal.timeout(45_000),
      });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError') violations.push(`hang: ${method} ${p} gave no answer in ${Date.now() - started} ms`);
      else {
        if (apiUnreachable++ < 1) log(`  API unreachable: ${method} ${p}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}\n${api.tail()}`);
      }
      return null;
    }
    const text = await res.text().catch(() => '');
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* checked below */
    }
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status >= 500) {
      if (res.status === 503 && body?.error?.code === 'dependency_unavailable') {
        const dep = String(body.error.details?.dependency ?? '').toLowerCase();
        unavailableAnswers[dep] = (unavailableAnswers[dep] ?? 0) + 1;
        if (!outages.has(dep)) violations.push(`503 ${dep} unavailable although ${dep} was never taken down: ${text.slice(0, 200)}`);
      } else if (res.status === 503 && body?.error) {
        // e.g. Fastify's 503 while closing: still the documented shape
      } else {
        const cause = api.tail().split('\n').filter((l) => l.includes('"level":50')).slice(-1)[0] ?? '';
        violations.push(`${method} ${p} answered ${res.status}: ${text.slice(0, 300)} — API log: ${cause.slice(0, 1500)}`);
      }
    } else if (res.status >= 400 && !(body && body.error && typeof body.error.code === 'string')) {
      violations.push(`${method} ${p} refused without the documented shape: ${res.status} ${text.slice(0, 200)}`);
    }
    return { status: res.status, body };
  }

  async function putObject(url: string, headers: Record<string, string>, body: Buffer): Promise<boolean> {
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const r = await fetch(url, { method: 'PUT', headers, body: body as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(30_000) });
        await r.arrayBuffer();
        if (r.ok) return true;
        if (r.status === 412 || r.status === 403) return r.status === 412;
      } catch {
        /* storage down: retry */
      }
      await sleep(300 + attempt * 400);
    }
    return false;
  }

  // ---- the simulated users ----
  const deadline = Date.now() + o.seconds * 1000;
  const available: { ws: string; id: string }[] = [];
  async function user(n: number): Promise<void> {
    const ws = workspaces[n % workspaces.length]!;
    while (Date.now() < deadline) {
      const roll = Math.random();
      if (roll < 0.08 && available.length > 0) {
        const f = available.splice(Math.floor(Math.random() * available.length), 1)[0]!;
        const r = await call(f.ws, 'DELETE', `/v1/files/${f.id}`);
        if (r?.status === 204) uploads.deleted++;
        continue;
      }
      if (roll < 0.16 && available.length > 0) {
        const f = available[Math.floor(Math.random() * available.length)]!;
        const r = await call(f.ws, 'GET', `/v1/files/${f.id}/download`);
        if (r?.status === 200) {
          uploads.downloads++;
          try {
            const g = await fetch(r.body.url, { signal: AbortSignal.timeout(20_000) });
            await g.arrayBuffer();
          } catch {
            /* storage down */
          }
        }
        continue;
      }
      const multipart = Math.random() < o.multipartShare;
      const size = multipart ? 5 * MiB + 1 + Math.floor(Math.random() * MiB) : 1 + Math.floor(Math.random() * 64 * 1024);
      const c = await call(ws, 'POST', '/v1/uploads', { filename: `f-${randomUUID().slice(0, 8)}.bin`, contentType: 'application/octet-stream', size, method: multipart ? 'multipart' : 'put' });
      if (!c || c.status !== 201) {
        await sleep(c ? 100 : 250);
        continue;
      }
      uploads.created++;
      const id = c.body.file.id as string;
      const data = randomBytes(size);
      let ok = true;
      if (multipart) {
        const s = await call(ws, 'POST', `/v1/uploads/${id}/parts`, { partNumbers: Array.from({ length: c.body.upload.partCount }, (_, i) => i + 1) });
        if (!s || s.status !== 200) ok = false;
        else {
          let off = 0;
          for (const part of s.body.parts as { url: string; headers: Record<string, string>; size: number }[]) {
            ok = ok && (await putObject(part.url, part.headers, data.subarray(off, off + part.size)));
            off += part.size;
          }
        }
      } else {
        ok = await putObject(c.body.upload.url, c.body.upload.headers, data);
      }
      if (!ok) continue;
      uploads.uploaded++;
      if (!multipart && Math.random() < o.eventShare) {
        uploads.leftToEvents++;
        continue;
      }
      for (let attempt = 0; attempt < 5; attempt++) {
        const d = await call(ws, 'POST', `/v1/uploads/${id}/complete`);
        if (d && d.status === 200) {
          uploads.confirmed++;
          if (d.body.file.status === 'available') available.push({ ws, id });
          break;
        }
        if (d && d.status < 500 && d.status !== 409) break;
        await sleep(400 + attempt * 400);
      }
    }
  }

  // ---- the fault injector ----
  const outageMs = () => o.outageMs[0] + Math.random() * (o.outageMs[1] - o.outageMs[0]);
  const faults = o.faults.filter((f) => !(useRgw && f === 'storage-stop'));
  async function probe(dep: 'storage' | 'database'): Promise<void> {
    // While the dependency is down, a request that needs it must answer 503 dependency_unavailable promptly.
    const ws = workspaces[0]!;
    if (dep === 'database') {
      await call(ws, 'GET', '/v1/usage', undefined, apis.find((a) => a.alive) ?? apis[0]);
    } else {
      // complete of an upload whose object is not there: needs a HEAD.
      const c = await call(ws, 'POST', '/v1/uploads', { filename: 'probe.bin', contentType: 'application/octet-stream', size: 10 });
      if (c?.status === 201) await call(ws, 'POST', `/v1/uploads/${c.body.file.id}/complete`);
    }
  }
  async function inject(kind: FaultKind): Promise<void> {
    faultsInjected[kind] = (faultsInjected[kind] ?? 0) + 1;
    const d = outageMs();
    switch (kind) {
      case 'storage-stop': {
        // The outage starts with the stop: while in-flight requests drain (up to 10 s) the store already refuses
        // new connections, and the API may rightly answer 503 before stopStore() returns.
        outage = 'storage';
        outages.add('storage');
        await stopStore();
        probes.push(probe('storage'));
        // Long enough to outlast the SDK's retries.
        await sleep(Math.max(d, 3000));
        outage = null;
        await startStore();
        break;
      }
      case 'storage-errors':
      case 'storage-reset': {
        proxy.setMode(kind === 'storage-reset' ? 'reset' : Math.random() < 0.5 ? 'slowdown503' : 'error500');
        outage = 'storage';
        outages.add('storage');
        probes.push(probe('storage'));
        await sleep(d);
        outage = null;
        proxy.setMode('pass');
        break;
      }
      case 'db-down': {
        pgProxy.setDown(true);
        outage = 'database';
        outages.add('database');
        probes.push(probe('database'));
        await sleep(d);
        outage = null;
        pgProxy.setDown(false);
        break;
      }
      case 'db-cut': {
        outages.add('database');
        await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`, [`stowage-f${runId}-%`]);
        break;
      }
      case 'kill-api':
      case 'kill-worker': {
        const pool = kind === 'kill-api' ? apis : workers;
        const victim = pool[Math.floor(Math.random() * pool.length)];
        if (!victim) break;
        await sleep(Math.random() * 300);
        await victim.kill();
        await sleep(Math.min(d, 1500));
        victim.restarts++;
        await superviseStart(victim);
        break;
      }
    }
  }
  // Two lanes so a short run sees every kind: dependency outages, and process kills (a restart takes seconds).
  const probes: Promise<unknown>[] = [];
  const lane = async (kinds: FaultKind[], startAfterMs: number) => {
    if (kinds.length === 0) return;
    await sleep(startAfterMs);
    let i = 0;
    while (Date.now() < deadline - 1000) {
      // Every kind in turn first, then at random.
      const kind = i < kinds.length ? kinds[i]! : kinds[Math.floor(Math.random() * kinds.length)]!;
      i++;
      try {
        const t0 = Date.now();
        await inject(kind);
        log(`  fault ${kind} injected and healed in ${Date.now() - t0} ms`);
      } catch (err) {
        violations.push(`fault ${kind} could not be injected/healed: ${(err as Error).message}`);
      }
      await sleep(o.faultEveryMs);
    }
  };
  const injector = Promise.all([
    lane(faults.filter((f) => !f.startsWith('kill-')), Math.min(1500, o.faultEveryMs)),
    lane(faults.filter((f) => f.startsWith('kill-')), (o.seconds * 1000) / 5),
  ]);
  await Promise.all([...Array.from({ length: o.users }, (_, n) => user(n)), injector]);
  await Promise.all(probes);
  // Heal everything.
  proxy.setMode('pass');
  pgProxy.setDown(false);
  if (!useRgw && !store) await startStore();
  await Promise.all([...apis, ...workers].map((p) => superviseStart(p)));
  log(`faults ${runId}: workload done (${JSON.stringify(uploads)}), faults ${JSON.stringify(faultsInjected)}; settling`);

  // ---- settle: let every pending upload pass its expiry, then one cleanup pass with reconciliation ----
  const maxExp = await db.query<{ t: Date | null }>(`SELECT max(expires_at) AS t FROM files WHERE workspace_id = ANY($1) AND status = 'pending'`, [workspaces]);
  const waitMs = maxExp.rows[0]!.t ? maxExp.rows[0]!.t.getTime() - Date.now() + 1500 : 0;
  if (waitMs > 0) await sleep(waitMs);
  // A deletion is repeated once its file's upload URLs can no longer be in use (expires_at + 60 s): let every file's
  // window close, so that the final pass is the last one any deletion needs.
  const maxWindow = await db.query<{ t: Date | null }>(`SELECT max(expires_at) AS t FROM files WHERE workspace_id = ANY($1)`, [workspaces]);
  const windowMs = maxWindow.rows[0]!.t ? uploadWindowEnd(maxWindow.rows[0]!.t).getTime() - Date.now() + 1500 : 0;
  if (windowMs > 0) await sleep(windowMs);
  // The workers have been sweeping all along; stop them so the final state is quiet, then one explicit pass.
  await Promise.all(workers.map((w) => w.stop()));
  // One explicit pass in-process (the same services `stowage cleanup --once` runs), then reconcile each workspace.
  const cleanupConfig = loadConfig({ ...env, DATABASE_URL: dbUrl, S3_ENDPOINT: storeUrl, LOG_LEVEL: 'silent' }, { requireExternal: true });
  const cleanupDeps = createDeps(cleanupConfig, pino({ level: 'silent' }));
  // Deletions that failed while storage was down wait out their backoff; let that time pass.
  await db.query(`UPDATE object_deletions SET next_attempt_at = now() WHERE object_key LIKE ANY($1)`, [workspaces.map((w) => `workspaces/${w}/%`)]);
  try {
    for (let pass = 0; pass < 2; pass++) {
      const r = await runCleanupOnce(cleanupDeps, { multipartGraceSeconds: 0 });
      if (r.errors.length) violations.push(`cleanup pass failed: ${JSON.stringify(r.errors)}`);
    }
    for (const w of workspaces) await reconcileWorkspace(cleanupDeps, w, { deleteOrphans: true, markMissing: false, graceSeconds: 5 });
  } finally {
    await cleanupDeps.db.end();
    (cleanupDeps.storage as { destroy?: () => void }).destroy?.();
  }
  await Promise.all(apis.map((a) => a.stop()));

  // ---- invariants ----
  const inv = await checkInvariants({ db, s3, bucket, workspaceIds: workspaces, graceSeconds: 5, afterCleanup: true });
  violations.push(...inv.violations);
  // Brief 500/503/reset bursts are usually absorbed by the SDK's retries (the request then succeeds or answers 409);
  // a stopped store outlasts them and must surface as 503 dependency_unavailable.
  if (faultsInjected['storage-stop'] && unavailableAnswers.storage === 0) violations.push('the store was stopped but no request answered 503 dependency_unavailable (Storage)');
  if (faultsInjected['db-down'] && unavailableAnswers.database === 0) violations.push('Postgres was down but no request answered 503 dependency_unavailable (Database)');
  const final = Object.fromEntries(
    (await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM files WHERE workspace_id = ANY($1) GROUP BY status`, [workspaces])).rows.map((r) => [r.status, r.n]),
  );
  const outbox = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM object_deletions WHERE object_key LIKE ANY($1)`, [workspaces.map((w) => `workspaces/${w}/%`)]);
  if (outbox.rows[0]!.n > 0) violations.push(`${outbox.rows[0]!.n} object deletions still queued after cleanup`);

  // ---- teardown ----
  await Promise.all([...apis, ...workers].map((p) => p.kill()));
  await db.end();
  await pgProxy.close();
  await proxy.close();
  s3.destroy();
  await stopStore();
  await rm(tmp, { recursive: true, force: true });
  return {
    storage: useRgw ? 'rgw' : 'embedded',
    uploads,
    requests,
    statuses,
    faultsInjected,
    unavailableAnswers,
    apiUnreachable,
    invariantChecks: inv.checks,
    violations,
    final,
  };
}

/**
 * Starts a process the way a supervisor (systemd, Kubernetes) would: a process that exits during start (e.g. Postgres
 * unreachable while it applies migrations — exiting is the right thing for it to do) is started again.
 */
async function superviseStart(p: StowageProcess, attempts = 10): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await p.start();
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(1000);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
