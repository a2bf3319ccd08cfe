// `npm run bench [-- NAME ...] [--quick]`: runs the benchmark modules (each in its own process), prints the table,
// writes bench/results/latest.json, latest.md and ratios.svg. Every figure is a ratio against a baseline measured in
// the same run. See docs/benchmarks.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineInfo } from './lib/machine.ts';
import { postgresVersion, startBenchPostgres, type BenchPostgres } from './lib/postgres.ts';
import { busyWarning, renderMarkdown, renderSvg, renderTable, summary, fmtDuration, type BenchReport, type ModuleReport } from './lib/report.ts';
import type { BenchResult } from './lib/types.ts';

/** Every module, in running order. A module is the file bench/<name>.ts exporting run(opts). */
export const MODULES = ['control-plane', 'cost-per-byte', 'memory', 'objectstore', 'sdk', 'cleanup', 'edge'] as const;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--quick');
const names = args.filter((a) => !a.startsWith('-'));
if (unknownFlags.length || args.includes('--help')) {
  console.error(`usage: npm run bench [-- [--quick] [${MODULES.join('|')} ...]]`);
  process.exit(2);
}
const unknown = names.filter((n) => !(MODULES as readonly string[]).includes(n));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${MODULES.join(', ')}`);
  process.exit(2);
}
const selected = names.length ? MODULES.filter((m) => names.includes(m)) : [...MODULES];
/** Hard limit per module; a hung module is killed and reported as an error. */
const moduleTimeoutMs = Number(process.env.BENCH_MODULE_TIMEOUT_MS) || (quick ? 300_000 : 45 * 60_000);

const log = (m: string): void => console.error(m);
const startedAt = new Date();
const t0 = performance.now();
const loadAtStart = machineInfo(null).loadAverage1m;

const present = selected.filter((m) => existsSync(join('bench', `${m}.ts`)));
let pgServer: BenchPostgres | null = null;
let pgVersion: string | null = null;
const modules: ModuleReport[] = [];

const cleanup = async (): Promise<void> => {
  if (pgServer) await pgServer.stop();
  pgServer = null;
};
/** Process group of the module running now (modules run detached, so a Ctrl-C must be passed on). */
let currentGroup: number | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (currentGroup !== null) {
      try {
        process.kill(-currentGroup, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  if (present.length) {
    try {
      pgServer = await startBenchPostgres(log);
      pgVersion = await postgresVersion(pgServer.url);
      log(`Postgres: ${pgVersion}${pgServer.embedded ? ' (embedded, started for this run)' : ' (DATABASE_URL)'}`);
    } catch (err) {
      log(`could not start Postgres: ${(err as Error).message}; modules that need it will report that`);
    }
  }
  for (const name of selected) {
    const m0 = performance.now();
    if (!present.includes(name)) {
      modules.push({ name, status: 'skipped', reason: `not landed yet (bench/${name}.ts is missing)`, seconds: 0, results: [] });
      log(`\n== ${name}: skipped (bench/${name}.ts is missing)`);
      continue;
    }
    log(`\n== ${name}${quick ? ' (quick)' : ''}`);
    const r = await runModule(name, pgServer?.url);
    const rep: ModuleReport = { name, ...r, seconds: (performance.now() - m0) / 1000 };
    modules.push(rep);
    log(`== ${name}: ${rep.status}${rep.reason && rep.status === 'skipped' ? ` (${rep.reason})` : ''} in ${fmtDuration(rep.seconds)}`);
  }
} finally {
  await cleanup();
}

const finishedAt = new Date();
const machine = { ...machineInfo(pgVersion), loadAverage1m: loadAtStart, loadAverage1mEnd: machineInfo(null).loadAverage1m };
const report: BenchReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationSeconds: Math.round((performance.now() - t0) / 100) / 10,
  quick,
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  machine,
  modules,
};
mkdirSync(join('bench', 'results'), { recursive: true });
writeFileSync(join('bench', 'results', 'latest.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(join('bench', 'results', 'latest.md'), renderMarkdown(report));
writeFileSync(join('bench', 'results', 'ratios.svg'), renderSvg(report));

const s = summary(report);
console.log('');
console.log(renderTable(report));
console.log('');
console.log(
  `${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.postgres ?? 'no Postgres'}; ` +
    `load average ${machine.loadAverage1m} at start, ${machine.loadAverage1mEnd} at the end`,
);
const busy = busyWarning(machine);
if (busy) console.log(`WARNING: ${busy}`);
console.log(
  `${s.pass} pass, ${s.fail} fail, ${s.info} informational, ${s.skipped} skipped, ${s.errors} errors — ` +
    `the ${quick ? 'quick ' : ''}run took ${fmtDuration(report.durationSeconds)}`,
);
console.log('wrote bench/results/latest.json, bench/results/latest.md, bench/results/ratios.svg');
for (const m of modules.filter((x) => x.status === 'error')) console.error(`\n${m.name} error:\n${m.reason}`);
process.exit(s.errors > 0 ? 1 : 0);

/** Runs one module in a child process group with a hard timeout; its output is prefixed with its name. */
function runModule(name: string, databaseUrl: string | undefined): Promise<Omit<ModuleReport, 'name' | 'seconds'>> {
  const dir = mkdtempSync(join(tmpdir(), 'stowage-bench-'));
  const out = join(dir, 'result.json');
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_QUICK: quick ? '1' : '' };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join('bench', 'lib', 'run-module.ts'), name, out, ...(quick ? ['--quick'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true },
  );
  const prefix = (stream: NodeJS.ReadableStream | null): void => {
    let buf = '';
    stream?.on('data', (b: Buffer) => {
      buf += b.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) process.stderr.write(`  [${name}] ${l}\n`);
    });
    stream?.on('end', () => buf && process.stderr.write(`  [${name}] ${buf}\n`));
  };
  currentGroup = child.pid ?? null;
  prefix(child.stdout);
  prefix(child.stderr);
  return new Promise((resolve) => {
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5000).unref();
    }, moduleTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      currentGroup = null;
      // Anything the module left behind in its process group goes too.
      killGroup('SIGKILL');
      let parsed: { status: 'ok' | 'skipped' | 'error'; reason?: string; results: BenchResult[] } | null = null;
      try {
        parsed = JSON.parse(readFileSync(out, 'utf8'));
      } catch {
        /* no result file */
      }
      rmSync(dir, { recursive: true, force: true });
      if (timedOut) return resolve({ status: 'error', reason: `timed out after ${moduleTimeoutMs / 1000} s`, results: parsed?.results ?? [] });
      if (parsed) return resolve(parsed);
      resolve({ status: 'error', reason: `module process exited (${signal ?? `code ${code}`}) without a result`, results: [] });
    });
  });
}
