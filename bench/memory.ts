// Memory under load: RSS of the Stowage API process with 1,000 uploads in flight — created through the API, their
// bytes trickling slowly to the object store through presigned PUTs, not completed. The baseline is the same API
// process's RSS when idle (started, warmed), measured in the same run. Target: ≤ 150 MB.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { MiB } from './lib/bytes.ts';
import { procSample, rssWatcher } from './lib/proc.ts';
import { apiJson, createUpload, requireStowage, startStack } from './lib/stowage.ts';
import { result, type BenchOptions, type BenchResult } from './lib/types.ts';

const IN_FLIGHT = 1000;
const WORKSPACES = 10;
const UPLOAD_SIZE = 1 * MiB;
const CHUNK = 1024;
const TICK_MS = 250;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  requireStowage();
  const holdMs = opts.quick ? 3_000 : 30_000;
  const stack = await startStack({ database: 'stowage_bench_memory', log });
  const open: ClientRequest[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const tokens = await Promise.all(Array.from({ length: WORKSPACES }, (_, i) => stack.token(`bench-mem-${i}`)));
    const body = { filename: 'video.mp4', contentType: 'video/mp4', size: UPLOAD_SIZE };
    // Warm: a few requests of every kind used below, then let the process settle.
    for (const t of tokens) await createUpload(stack.apiUrl, t, body);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = procSample(stack.apiPid).rssBytes;
    log(`API idle RSS after warm-up: ${(idle / MiB).toFixed(1)} MB`);

    const watcher = rssWatcher(stack.apiPid, 25);
    log(`creating ${IN_FLIGHT} uploads and opening their presigned PUTs (${CHUNK} B every ${TICK_MS} ms)`);
    let created = 0;
    let failed = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < IN_FLIGHT) {
          const i = next++;
          const a = await createUpload(stack.apiUrl, tokens[i % WORKSPACES], body);
          created++;
          const req = httpRequest(a.upload.url as string, {
            method: 'PUT',
            headers: { ...a.upload.headers, 'content-length': String(UPLOAD_SIZE) },
            agent: false,
          });
          req.on('error', () => {
            failed++;
          });
          req.write(Buffer.alloc(CHUNK, 1));
          open.push(req);
        }
      }),
    );
    // Bytes keep trickling to the store while the API is asked about the uploads in flight.
    timer = setInterval(() => {
      for (const r of open) if (!r.destroyed) r.write(Buffer.alloc(CHUNK, 1));
    }, TICK_MS);
    const holdUntil = Date.now() + holdMs;
    let pendingSeen = 0;
    while (Date.now() < holdUntil) {
      const list = await apiJson<{ items: unknown[] }>(stack.apiUrl, tokens[0], 'GET', '/v1/uploads?status=pending');
      pendingSeen = list.items.length;
      await apiJson(stack.apiUrl, tokens[1], 'GET', '/v1/usage');
      await new Promise((r) => setTimeout(r, 200));
    }
    const inFlight = open.filter((r) => !r.destroyed).length;
    const settled = procSample(stack.apiPid).rssBytes;
    const peak = watcher.peak();
    watcher.stop();
    log(`  ${created} created, ${inFlight} PUTs still streaming (${failed} failed), API peak RSS ${(peak / MiB).toFixed(1)} MB; workspace 0 lists ${pendingSeen} pending`);
    if (inFlight < IN_FLIGHT * 0.99) throw new Error(`only ${inFlight} of ${IN_FLIGHT} uploads stayed in flight`);
    return [
      result({
        figure: `API RSS with ${IN_FLIGHT} uploads in flight`,
        stowage: peak / MiB,
        baseline: idle / MiB,
        unit: 'MB',
        target: 150,
        targetOn: 'value',
        better: 'lower',
        baselineName: 'the same API process idle (started, warmed), same run',
        note: `peak RSS sampled every 25 ms while creating ${IN_FLIGHT} uploads and holding their PUTs open ${holdMs / 1000} s (${CHUNK} B per ${TICK_MS} ms each) across ${WORKSPACES} workspaces`,
      }),
      result({
        figure: `API RSS at the end of the hold (${IN_FLIGHT} in flight)`,
        stowage: settled / MiB,
        baseline: idle / MiB,
        unit: 'MB',
        target: null,
        better: 'lower',
        baselineName: 'the same API process idle (started, warmed), same run',
        note: 'informational: the peak above includes the burst of creations; this is the steady state with the uploads still open',
      }),
    ];
  } finally {
    if (timer) clearInterval(timer);
    for (const r of open) r.destroy();
    await stack.stop();
  }
}
