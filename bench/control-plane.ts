// Control plane: POST /v1/uploads (presign + row + quota reservation) and POST /v1/uploads/{id}/complete at 64
// concurrent connections (autocannon), against the same Postgres's raw rate of the equivalent single-row INSERT
// transaction at the same concurrency (pg pool of 64), measured in the same run. Targets: ≥ 0.6× the raw rate and
// p99 ≤ 25 ms for POST /v1/uploads.
import { load } from './lib/load.ts';
import { procSample } from './lib/proc.ts';
import { prepareRawDatabase, rawInsertRate } from './lib/raw-pg.ts';
import { apiJson, createUpload, PNG_1x1, requireStowage, startStack, type UploadAnswer } from './lib/stowage.ts';
import { result, type BenchOptions, type BenchResult } from './lib/types.ts';

const CONNECTIONS = 64;
const WORKSPACES = 64;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  requireStowage();
  const seconds = opts.quick ? 3 : 15;
  // 3 s in both modes: the first seconds under load (JIT, pool growth, Postgres caches) are not the steady state.
  const warmup = 3;
  // Uploads prepared for /complete: this many, or as many as fit in the preparation time box.
  const completeCount = opts.quick ? 300 : 8_000;
  const prepareMs = opts.quick ? 4_000 : 90_000;

  const stack = await startStack({ database: 'stowage_bench_control_plane', log });
  try {
    // Baseline first, while the API is idle.
    // The baseline runs twice, before and after the Stowage load (A-B-A), and the figures use the mean, so that a
    // machine whose load drifts during the run does not favour either side.
    const rawUrl = await prepareRawDatabase(stack.databaseUrl);
    const measureRaw = async (when: string) => {
      log(`raw INSERT baseline (${when}): ${CONNECTIONS} connections, ${seconds} s`);
      const r = await rawInsertRate(rawUrl, CONNECTIONS, seconds * 1000, warmup * 1000);
      log(`  raw: ${r.rps.toFixed(0)} txn/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.errors} errors`);
      return r;
    };
    const rawBefore = await measureRaw('before');

    // One workspace per connection's worth of traffic: tenants are independent, requests rotate over them.
    const tokens = await Promise.all(Array.from({ length: WORKSPACES }, (_, i) => stack.token(`bench-cp-${i}`)));
    const createBody = JSON.stringify({ filename: 'photo.png', contentType: 'image/png', size: PNG_1x1.length });
    let rr = 0;
    const nextCreate = () => ({
      path: '/v1/uploads',
      headers: { authorization: `Bearer ${tokens[rr++ % WORKSPACES]}`, 'content-type': 'application/json' },
      body: createBody,
    });
    // Workspace rows exist and the code is warm before timing.
    for (const t of tokens) await createUpload(stack.apiUrl, t, JSON.parse(createBody));
    await load({ url: stack.apiUrl, connections: CONNECTIONS, duration: warmup, method: 'POST', next: nextCreate });
    log(`POST /v1/uploads: ${CONNECTIONS} connections, ${seconds} s`);
    const cpu0 = procSample(stack.apiPid).cpuSeconds;
    const create = await load({ url: stack.apiUrl, connections: CONNECTIONS, duration: seconds, method: 'POST', next: nextCreate });
    const apiCpuMsPerCreate = ((procSample(stack.apiPid).cpuSeconds - cpu0) * 1000) / Math.max(1, create.ok + create.non2xx);
    log(`  stowage: ${create.rps.toFixed(0)} req/s, p50 ${create.p50Ms} ms, p99 ${create.p99Ms} ms, status ${JSON.stringify(create.statusCodes)}, ${create.errors} errors, API ${apiCpuMsPerCreate.toFixed(2)} CPU-ms/request`);
    checkClean('POST /v1/uploads', create);
    const rawAfter = await measureRaw('after');
    const raw = {
      rps: (rawBefore.rps + rawAfter.rps) / 2,
      p50Ms: (rawBefore.p50Ms + rawAfter.p50Ms) / 2,
      p99Ms: (rawBefore.p99Ms + rawAfter.p99Ms) / 2,
    };

    // Completion: uploads created and their objects uploaded beforehand (not timed).
    log(`preparing up to ${completeCount} uploaded objects for /complete (time box ${prepareMs / 1000} s)`);
    const ready: { id: string; token: string }[] = [];
    const prepareUntil = Date.now() + prepareMs;
    await pool(completeCount, 32, async (i) => {
      if (Date.now() > prepareUntil && i >= CONNECTIONS * 2) return;
      const token = tokens[i % WORKSPACES];
      const a: UploadAnswer = await createUpload(stack.apiUrl, token, JSON.parse(createBody));
      const put = await fetch(a.upload.url as string, { method: 'PUT', headers: a.upload.headers, body: PNG_1x1 });
      await put.arrayBuffer();
      if (put.status !== 200) throw new Error(`presigned PUT answered ${put.status}`);
      ready.push({ id: a.file.id, token });
    });
    const n = ready.length;
    let ci = 0;
    const nextComplete = () => {
      const r = ready[ci++ % ready.length];
      return { path: `/v1/uploads/${r.id}/complete`, headers: { authorization: `Bearer ${r.token}` } };
    };
    log(`POST /v1/uploads/{id}/complete: ${CONNECTIONS} connections, ${n} distinct uploads`);
    const complete = await load({ url: stack.apiUrl, connections: CONNECTIONS, amount: n, method: 'POST', next: nextComplete });
    log(`  stowage: ${complete.rps.toFixed(0)} req/s, p50 ${complete.p50Ms} ms, p99 ${complete.p99Ms} ms, status ${JSON.stringify(complete.statusCodes)}`);
    checkClean('POST /v1/uploads/{id}/complete', complete);
    const sample = await apiJson<{ file: { status: string } }>(stack.apiUrl, ready[0].token, 'GET', `/v1/files/${ready[0].id}`);
    if (sample.file.status !== 'available') throw new Error(`a completed upload is ${sample.file.status}, not available`);

    const baselineName = `raw single-row INSERT of a pending files row (one statement = one transaction), pg pool of ${CONNECTIONS}, same Postgres, mean of a run before and one after`;
    return [
      result({
        figure: `POST /v1/uploads throughput @${CONNECTIONS}`,
        stowage: create.rps,
        baseline: raw.rps,
        unit: 'req/s',
        target: 0.6,
        baselineName,
        note: `${create.ok} requests in ${create.seconds} s over ${WORKSPACES} workspaces, API process ${apiCpuMsPerCreate.toFixed(2)} CPU-ms per request (${stack.apiCommand}, default DATABASE_POOL_MAX); raw ${rawBefore.rps.toFixed(0)} txn/s before and ${rawAfter.rps.toFixed(0)} after the Stowage load (mean used)`,
      }),
      result({
        figure: `POST /v1/uploads p99 latency @${CONNECTIONS}`,
        stowage: create.p99Ms,
        baseline: raw.p99Ms,
        unit: 'ms',
        target: 25,
        targetOn: 'value',
        better: 'lower',
        baselineName: 'p99 of the raw INSERT at the same concurrency (mean of before and after)',
      }),
      result({
        figure: `POST /v1/uploads p50 latency @${CONNECTIONS}`,
        stowage: create.p50Ms,
        baseline: raw.p50Ms,
        unit: 'ms',
        target: null,
        better: 'lower',
        baselineName: 'p50 of the raw INSERT at the same concurrency (mean of before and after)',
      }),
      result({
        figure: `POST /v1/uploads/{id}/complete throughput @${CONNECTIONS}`,
        stowage: complete.rps,
        baseline: raw.rps,
        unit: 'req/s',
        target: null,
        baselineName,
        note: `${complete.ok} distinct uploads completed (HEAD + magic-byte read from the store + state transition); no target in the issue`,
      }),
      result({
        figure: `POST /v1/uploads/{id}/complete p99 latency @${CONNECTIONS}`,
        stowage: complete.p99Ms,
        baseline: raw.p99Ms,
        unit: 'ms',
        target: null,
        better: 'lower',
        baselineName: 'p99 of the raw INSERT at the same concurrency (mean of before and after)',
      }),
    ];
  } finally {
    await stack.stop();
  }
}

function checkClean(what: string, r: { ok: number; non2xx: number; errors: number; statusCodes: Record<string, number> }): void {
  const bad = r.non2xx + r.errors;
  if (r.ok === 0 || bad > r.ok * 0.001) {
    throw new Error(`${what}: ${r.ok} ok, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}, ${r.errors} errors: the figure would be meaningless`);
  }
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
