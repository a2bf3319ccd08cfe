// The tus baseline for the cost-per-byte figure: a @tus/server + @tus/file-store child process receiving bytes through
// the server (tus 1.0 creation + one PATCH streaming the whole file), measured from /proc like the Stowage API.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendBody } from './bytes.ts';
import { procSample, rssWatcher, schedCpuSeconds, spawnChild, type Child } from './proc.ts';

export interface TusServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startTusServer(): Promise<TusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-bench-tus-'));
  const script = fileURLToPath(new URL('./tus-child.mjs', import.meta.url));
  const child: Child = spawnChild(process.execPath, [script, dir]);
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tus server did not start:\n${child.output()}`)), 20_000);
    let buf = '';
    child.proc.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.proc.once('exit', (code) => reject(new Error(`tus server exited (${code}):\n${child.output()}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/files`,
    pid: child.pid,
    stop: async () => {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads `size` bytes to the tus server: POST (creation) then one PATCH with the whole body. */
export async function tusUpload(server: TusServer, size: number): Promise<void> {
  const created = await fetch(server.url, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': 'filename YmVuY2guYmlu' },
  });
  await created.arrayBuffer();
  const location = created.headers.get('location');
  if (created.status !== 201 || !location) throw new Error(`tus creation answered ${created.status}`);
  const url = new URL(location, server.url).toString();
  const patched = await sendBody(
    'PATCH',
    url,
    { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    size,
  );
  if (patched.status !== 204 || patched.headers['upload-offset'] !== String(size)) {
    throw new Error(`tus PATCH answered ${patched.status} offset ${String(patched.headers['upload-offset'])}: ${patched.text}`);
  }
}

export interface CostMeasure {
  cpuSeconds: number;
  peakRssBytes: number;
  seconds: number;
}

/** Runs `work` while measuring the CPU-seconds (all threads, ns precision) and peak RSS of process `pid`. */
export async function measureProcess(pid: number, work: () => Promise<void>): Promise<CostMeasure> {
  const watcher = rssWatcher(pid, 20);
  const cpu0 = schedCpuSeconds(pid);
  const t0 = performance.now();
  try {
    await work();
  } finally {
    watcher.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = schedCpuSeconds(pid);
  const after = procSample(pid);
  return { cpuSeconds: cpu1 - cpu0, peakRssBytes: Math.max(watcher.peak(), after.rssBytes), seconds };
}
