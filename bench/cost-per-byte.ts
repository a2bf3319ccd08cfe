// Cost per byte: CPU-seconds and peak RSS of the Stowage API process while 1 GiB is uploaded through Stowage (the
// bytes go straight to the object store with presigned multipart URLs; the API only creates, signs and completes),
// against a real tus server (@tus/server + @tus/file-store, its own process) receiving the same GiB through itself,
// in the same run. Target: the Stowage API uses ≤ 1% of the tus server's CPU-seconds.
import { GiB, MiB, sendBody } from './lib/bytes.ts';
import { schedCpuSeconds } from './lib/proc.ts';
import { measureProcess, startTusServer, tusUpload, type CostMeasure } from './lib/tus.ts';
import { apiJson, createUpload, requireStowage, startStack, type Stack } from './lib/stowage.ts';
import { result, type BenchOptions, type BenchResult } from './lib/types.ts';

const PART_CONCURRENCY = 4;
const WARMUP_UPLOADS = 20;
const FULL_SIZE_WARMUP_UPLOADS = 2;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  requireStowage();
  // The figure is defined on 1 GiB, in quick mode too: the API's cost is per upload, not per byte, so a smaller
  // upload would only shrink the baseline (and the whole GiB takes a few seconds).
  const size = GiB;
  const label = '1 GiB';
  // Each side uploads the GiB several times and the figure is the median: one upload's CPU on this noisy machine
  // varies by 3× (a GC or JIT cycle landing in the window or not).
  const runs = opts.quick ? 3 : 5;

  // Baseline: tus, warmed with a small upload first.
  const tus = await startTusServer();
  let tusCost: CostMeasure;
  try {
    await tusUpload(tus, 8 * MiB);
    log(`tus: uploading ${label} through @tus/server + @tus/file-store`);
    const measured: CostMeasure[] = [];
    for (let i = 0; i < runs; i++) measured.push(await measureProcess(tus.pid, () => tusUpload(tus, size)));
    tusCost = medianCost(measured);
    log(`  tus: ${tusCost.cpuSeconds.toFixed(2)} CPU-s (median of ${runs}: ${measured.map((m) => m.cpuSeconds.toFixed(2)).join(', ')}), peak RSS ${(tusCost.peakRssBytes / MiB).toFixed(0)} MB, ${(size / MiB / tusCost.seconds).toFixed(0)} MiB/s`);
  } finally {
    await tus.stop();
  }

  const stack = await startStack({ database: 'stowage_bench_cost', log });
  try {
    const token = await stack.token('bench-cost');
    // Warm the API's code paths (create, sign, complete) with small multipart uploads before measuring, as a serving
    // API is warm: a process that has run these paths only a few times still interprets and JIT-compiles them, which
    // costs more than the requests themselves (measured: ~40 ms per upload after 3 warm-up uploads, ~25 ms after 30).
    for (let i = 0; i < WARMUP_UPLOADS; i++) await uploadThroughStowage(stack, token, 40 * MiB);
    // Then uploads of the measured shape (64 parts): the per-part loops (signing, the completion's part list) reach
    // their steady state only after a few of them (measured: ~22 ms for the first two, ~16 ms after four).
    for (let i = 0; i < FULL_SIZE_WARMUP_UPLOADS; i++) await uploadThroughStowage(stack, token, size);
    // The API's idle floor (timers, pool housekeeping), to say how much of the figure is just being alive.
    const idle0 = schedCpuSeconds(stack.apiPid);
    await new Promise((r) => setTimeout(r, 3000));
    const idlePerSecond = (schedCpuSeconds(stack.apiPid) - idle0) / 3;
    log(`stowage: uploading ${label} direct to the store (presigned multipart)`);
    let how = '';
    const measured: CostMeasure[] = [];
    for (let i = 0; i < runs; i++) {
      measured.push(await measureProcess(stack.apiPid, async () => {
        how = await uploadThroughStowage(stack, token, size);
      }));
    }
    const cost = medianCost(measured);
    const spread = measured.map((m) => m.cpuSeconds.toFixed(3)).join(', ');
    log(`  stowage API: ${cost.cpuSeconds.toFixed(3)} CPU-s (median of ${runs}: ${spread}), peak RSS ${(cost.peakRssBytes / MiB).toFixed(0)} MB, ${(size / MiB / cost.seconds).toFixed(0)} MiB/s end to end (${how})`);
    return [
      result({
        figure: `API CPU-seconds per ${label} uploaded`,
        stowage: cost.cpuSeconds,
        baseline: tusCost.cpuSeconds,
        unit: 'CPU-s',
        target: 0.01,
        better: 'lower',
        baselineName: '@tus/server + @tus/file-store receiving the same bytes (tus creation + one streamed PATCH)',
        note: `API warmed by ${WARMUP_UPLOADS} uploads of 40 MiB and ${FULL_SIZE_WARMUP_UPLOADS} of ${label}; median of ${runs} uploads per side (Stowage ${spread} CPU-s); Stowage: ${how}; CPU of the API process (all threads, /proc schedstat) over the whole ${cost.seconds.toFixed(1)} s upload, of which ≈${(idlePerSecond * cost.seconds).toFixed(2)} CPU-s is the API's idle floor`,
      }),
      result({
        figure: `API peak RSS during the ${label} upload`,
        stowage: cost.peakRssBytes / MiB,
        baseline: tusCost.peakRssBytes / MiB,
        unit: 'MB',
        target: null,
        better: 'lower',
        baselineName: 'peak RSS of the tus server process during its upload',
      }),
      result({
        figure: `end-to-end upload throughput, ${label}`,
        stowage: size / MiB / cost.seconds,
        baseline: size / MiB / tusCost.seconds,
        unit: 'MiB/s',
        target: null,
        baselineName: 'the same bytes through the tus server',
        note: 'informational: Stowage bytes go to the embedded object store in the benchmark process',
      }),
    ];
  } finally {
    await stack.stop();
  }
}

/** The run with the median CPU-seconds; its RSS and duration go with it, except the peak RSS: the highest of all. */
function medianCost(runs: CostMeasure[]): CostMeasure {
  const sorted = [...runs].sort((a, b) => a.cpuSeconds - b.cpuSeconds);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  return { ...mid, peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)) };
}

interface SignedPart {
  partNumber: number;
  url: string;
  headers: Record<string, string>;
  size: number;
}

interface Instruction {
  method: string;
  url?: string;
  headers?: Record<string, string>;
  partSize?: number;
  partCount?: number;
  parts?: SignedPart[];
}

/**
 * As the SDK does it: create (the answer carries the first parts' URLs) → sign any remaining parts in batches → PUT
 * parts (4 at a time) → complete naming every part's ETag. Falls back to one presigned PUT.
 */
async function uploadThroughStowage(stack: Stack, token: string, size: number): Promise<string> {
  const body = { filename: 'bench.bin', contentType: 'application/octet-stream', size };
  let created;
  let how: string;
  try {
    created = await createUpload(stack.apiUrl, token, { ...body, method: 'multipart' });
  } catch (err) {
    if (!/answered 400/.test((err as Error).message)) throw err;
    created = await createUpload(stack.apiUrl, token, body);
  }
  const up = created.upload as Instruction;
  const id = created.file.id;
  let completion: { parts: { partNumber: number; etag: string }[] } | undefined;
  if (up.method === 'MULTIPART') {
    const count = up.partCount as number;
    const signed = new Map<number, SignedPart>((up.parts ?? []).map((p) => [p.partNumber, p]));
    const unsigned = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !signed.has(n));
    for (let i = 0; i < unsigned.length; i += 100) {
      const r = await apiJson<{ parts: SignedPart[] }>(stack.apiUrl, token, 'POST', `/v1/uploads/${id}/parts`, {
        partNumbers: unsigned.slice(i, i + 100),
      });
      for (const p of r.parts) signed.set(p.partNumber, p);
    }
    how = `multipart, ${count} parts of ${((up.partSize as number) / MiB).toFixed(0)} MiB, ${count - unsigned.length} signed with the create answer`;
    const etags: { partNumber: number; etag: string }[] = [];
    let next = 1;
    await Promise.all(
      Array.from({ length: Math.min(PART_CONCURRENCY, count) }, async () => {
        while (next <= count) {
          const n = next++;
          const p = signed.get(n);
          if (!p) throw new Error(`part ${n} was not signed`);
          const a = await sendBody('PUT', p.url, p.headers, p.size);
          if (a.status !== 200) throw new Error(`part ${n} PUT answered ${a.status}: ${a.text}`);
          etags.push({ partNumber: n, etag: String(a.headers.etag) });
        }
      }),
    );
    completion = { parts: etags.sort((a, b) => a.partNumber - b.partNumber) };
  } else if (up.method === 'PUT') {
    how = 'one presigned PUT (multipart not available)';
    const a = await sendBody('PUT', up.url as string, up.headers ?? {}, size);
    if (a.status !== 200) throw new Error(`presigned PUT answered ${a.status}: ${a.text}`);
  } else {
    throw new Error(`unexpected upload method ${up.method}`);
  }
  const done = await apiJson<{ file: { status: string; rejectReason?: string } }>(stack.apiUrl, token, 'POST', `/v1/uploads/${id}/complete`, completion);
  if (done.file.status !== 'available') throw new Error(`upload ended ${done.file.status}: ${done.file.rejectReason ?? ''}`);
  return how;
}
