// Process measurements (Linux /proc) and small process helpers shared by the benchmarks.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Clock ticks per second for /proc/<pid>/stat utime/stime; 100 on every Linux we run on. */
const CLK_TCK = 100;

export interface ProcSample {
  /** user + system CPU-seconds consumed so far by the process (not its children). */
  cpuSeconds: number;
  /** Current resident set size, bytes. */
  rssBytes: number;
  /** Peak resident set size since start (VmHWM), bytes. */
  peakRssBytes: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that closes the command name: state is field 3; utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { cpuSeconds: (utime + stime) / CLK_TCK, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

/**
 * CPU-seconds the process's live threads have run, in nanoseconds from /proc/<pid>/task/<tid>/schedstat: exact where
 * /proc/<pid>/stat counts 10 ms ticks (a few requests' worth of CPU is below one tick). Threads that exited are not
 * counted (Node's threads live as long as the process).
 */
export function schedCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread exited meanwhile */
    }
  }
  return ns / 1e9;
}

/** Polls RSS every `everyMs` and remembers the peak (VmHWM covers the whole life; this covers a window). */
export function rssWatcher(pid: number, everyMs = 50): { peak(): number; last(): number; stop(): void } {
  let peak = 0;
  let last = 0;
  const tick = (): void => {
    try {
      last = procSample(pid).rssBytes;
      if (last > peak) peak = last;
    } catch {
      /* process gone */
    }
  };
  tick();
  const t = setInterval(tick, everyMs);
  t.unref();
  return { peak: () => (tick(), peak), last: () => last, stop: () => clearInterval(t) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Last lines of stdout+stderr, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a child and keeps the tail of its output; stop() sends SIGTERM then SIGKILL after 5 s. */
export function spawnChild(cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let tail = '';
  const keep = (b: Buffer): void => {
    tail = (tail + b.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pid = proc.pid;
  return {
    proc,
    pid,
    output: () => tail,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const k = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(k);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** Waits until `url` answers with a status < 500, or throws with the child's output. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) {
      throw new Error(`process exited with code ${child.proc.exitCode} before ${url} answered:\n${child.output()}`);
    }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Percentile of an unsorted list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}
