// `npm run soak`: the long versions of the proof-under-stress suites, then a load soak. Prints, per section, the
// cases tried, faults injected, invariant checks run and violations found (must be 0), and writes them to
// bench/results/soak.json. Knobs (environment):
//   SOAK_SECONDS (60)         load duration          SOAK_USERS (16)            simulated users
//   SOAK_FUZZ_RUNS (2500)     cases per fuzz property (≥ 10,000 in all)
//   SOAK_FAULTS_SECONDS (120) faults workload        SOAK_SECTIONS (all)        comma list to run a subset
//   SOAK_RATE_LIMIT (60)      creates per window per workspace in the load run, SOAK_RATE_WINDOW (10);
//                             users pace themselves to ≤ 40 per window, the noisy tenant (SOAK_NOISY_CONNECTIONS 8) does not
// Postgres: DATABASE_URL, or an embedded PostgreSQL started here.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { runLoad } from './load.ts';

interface Section {
  section: string;
  cases: number;
  faults: number;
  checks: number;
  violations: number;
  seconds: number;
  passed: boolean;
  details?: unknown;
}

const env = process.env;
const wanted = env.SOAK_SECTIONS ? new Set(env.SOAK_SECTIONS.split(',').map((s) => s.trim())) : null;
const want = (s: string) => !wanted || wanted.has(s);
const log = (m: string) => process.stderr.write(m + '\n');

async function vitestSection(name: string, files: string[], extraEnv: Record<string, string>, countsFile: string): Promise<Section> {
  const t0 = Date.now();
  const json = path.join(path.dirname(countsFile), `${name}.vitest.json`);
  log(`\n== ${name}: vitest ${files.join(' ')} ${Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [path.resolve('node_modules/vitest/vitest.mjs'), 'run', ...files, '--reporter=default', '--reporter=json', `--outputFile.json=${json}`], {
      env: { ...env, ...extraEnv, SOAK_COUNTS_FILE: countsFile },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  let tests = 0;
  let failed = 0;
  try {
    const r = JSON.parse(readFileSync(json, 'utf8')) as { numTotalTests: number; numFailedTests: number };
    tests = r.numTotalTests;
    failed = r.numFailedTests;
  } catch {
    failed = 1;
  }
  const counts = existsSync(countsFile)
    ? readFileSync(countsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>)
    : [];
  rmSync(countsFile, { force: true });
  const sum = (k: string) => counts.reduce((a, c) => a + (Number(c[k]) || 0), 0);
  return {
    section: name,
    cases: Math.max(sum('cases'), tests),
    faults: sum('faults'),
    checks: sum('checks') + tests,
    violations: sum('violations') + failed + (code !== 0 && failed === 0 ? 1 : 0),
    seconds: Math.round((Date.now() - t0) / 1000),
    passed: code === 0,
    details: { tests, failedTests: failed, recorded: counts },
  };
}

async function main(): Promise<number> {
  const work = mkdtempSync(path.join(tmpdir(), 'stowage-soak-run-'));
  let pg: EmbeddedPostgresHandle | undefined;
  if (!env.DATABASE_URL) {
    log('soak: starting an embedded PostgreSQL');
    pg = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), password: 'soak', persistent: false, database: 'stowage_soak' });
    env.DATABASE_URL = pg.url;
  }
  const pool = createPool(env.DATABASE_URL!, { max: 2 });
  await migrate(pool);
  await pool.end();
  const countsFile = path.join(work, 'counts.jsonl');
  const sections: Section[] = [];
  const started = new Date();
  try {
    const fuzzRuns = env.SOAK_FUZZ_RUNS ?? '2500';
    if (want('fuzz')) sections.push(await vitestSection('fuzz', ['test/security/fuzz.test.ts'], { FUZZ_RUNS: fuzzRuns }, countsFile));
    if (want('isolation')) sections.push(await vitestSection('isolation', ['test/security/isolation.test.ts', 'test/security/rate-limits.test.ts'], {}, countsFile));
    if (want('objectstore')) sections.push(await vitestSection('objectstore-hostile', ['test/security/objectstore-hostile.test.ts'], {}, countsFile));
    if (want('faults')) sections.push(await vitestSection('faults', ['test/faults/faults.test.ts'], { FAULTS_SECONDS: env.SOAK_FAULTS_SECONDS ?? '120' }, countsFile));
    if (want('instances')) sections.push(await vitestSection('instances', ['test/faults/instances.test.ts'], {}, countsFile));
    if (want('load')) {
      log('\n== load');
      const t0 = Date.now();
      const r = await runLoad({
        seconds: Number(env.SOAK_SECONDS ?? 60),
        users: Number(env.SOAK_USERS ?? 16),
        noisyConnections: Number(env.SOAK_NOISY_CONNECTIONS ?? 8),
        createLimit: Number(env.SOAK_RATE_LIMIT ?? 60),
        windowSeconds: Number(env.SOAK_RATE_WINDOW ?? 10),
        log,
      });
      log(JSON.stringify(r, null, 2));
      sections.push({
        section: 'load',
        cases: r.operations,
        faults: 0,
        checks: r.invariantChecks + r.rssMiB.samples,
        violations: r.violations.length,
        seconds: Math.round((Date.now() - t0) / 1000),
        passed: r.violations.length === 0,
        details: r,
      });
    }
  } finally {
    if (pg) await pg.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
  const total = sections.reduce((a, s) => a + s.violations, 0);
  const out = { startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, violations: total, sections };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/soak.json', JSON.stringify(out, null, 2) + '\n');
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  process.stdout.write('\nsection                cases   faults   checks  violations  seconds\n');
  for (const s of sections) {
    process.stdout.write(`${s.section.padEnd(20)} ${pad(s.cases, 7)} ${pad(s.faults, 8)} ${pad(s.checks, 8)} ${pad(s.violations, 11)} ${pad(s.seconds, 8)}\n`);
  }
  const load = sections.find((s) => s.section === 'load')?.details as Awaited<ReturnType<typeof runLoad>> | undefined;
  if (load) {
    process.stdout.write(`\nload: ${load.operations} operations in ${load.seconds} s (${load.opsPerSecond}/s), ${load.uploadsCompleted} uploads, ${load.errors} errors; RSS ${load.rssMiB.min}–${load.rssMiB.max} MiB\n`);
    for (const [k, v] of Object.entries(load.latency)) process.stdout.write(`  ${k.padEnd(12)} n=${v.count} p50 ${v.p50Ms} ms p99 ${v.p99Ms} ms\n`);
    process.stdout.write(`  rate limit: noisy tenant ${load.rateLimit.noisyCreated} created, ${load.rateLimit.noisyLimited} × 429 (Retry-After ${load.rateLimit.retryAfterValues.join(',')})\n`);
  }
  process.stdout.write(`\nviolations: ${total} → bench/results/soak.json\n`);
  return total === 0 ? 0 : 1;
}

// Exit explicitly: child pools, embedded Postgres hooks and keep-alive sockets must not decide the exit code.
process.exit(await main());
