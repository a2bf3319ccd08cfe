// `node bin/stowage.mjs serve|worker` as child processes configured by environment (fault, multi-instance and soak
// runs): start, wait until ready, SIGKILL, restart with the same configuration.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface StowageProcess {
  readonly name: string;
  readonly kind: 'serve' | 'worker';
  /** API base URL (serve only). */
  readonly url: string;
  readonly pid: number | undefined;
  readonly alive: boolean;
  start(): Promise<void>;
  /** SIGKILL (no shutdown hooks run). */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  restarts: number;
  /** The last lines of stderr/stdout (for failure messages). */
  tail(): string;
}

export function stowageProcess(name: string, kind: 'serve' | 'worker', env: Record<string, string>, args: string[] = []): StowageProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const lines: string[] = [];
  const port = env.PORT ?? '0';
  const p: StowageProcess = {
    name,
    kind,
    restarts: 0,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get pid() {
      return child?.pid;
    },
    get alive() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    tail: () => lines.slice(-30).join('\n'),
    async start() {
      if (p.alive) return;
      child = spawn(process.execPath, [path.join(ROOT, 'bin', 'stowage.mjs'), kind, ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', PGAPPNAME: `stowage-${name}`, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const c = child;
      const onData = (d: Buffer) => {
        for (const l of d.toString('utf8').split('\n')) if (l.trim()) lines.push(l.slice(0, 500));
        if (lines.length > 200) lines.splice(0, lines.length - 200);
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      exited = new Promise((r) => c.once('exit', () => r()));
      if (kind === 'serve') {
        const until = Date.now() + 60_000;
        for (;;) {
          if (c.exitCode !== null) throw new Error(`${name} exited with ${c.exitCode} during start:\n${p.tail()}`);
          try {
            const r = await fetch(`${p.url}/healthz`);
            if (r.ok) break;
          } catch {
            /* not listening yet */
          }
          if (Date.now() > until) throw new Error(`${name} did not become ready:\n${p.tail()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async kill() {
      if (!child || !p.alive) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!child || !p.alive) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  return p;
}
