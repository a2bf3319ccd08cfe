// The client and admin commands as a user runs them: child processes through bin/stowage.mjs, exit codes and output,
// an upload under a pseudo-terminal (util-linux `script`) showing progress bars, and the embedded store alone.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';

const BIN = path.resolve('bin/stowage.mjs');
const MiB = 1024 * 1024;
const haveScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveScript) console.warn('pseudo-terminal upload test skipped: util-linux `script` is not installed');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('stowage client and admin commands', () => {
  let target: EmbeddedS3Target;
  let app: TestApp;
  let dir: string;
  let env: Record<string, string>;
  const ws = randomWorkspaceId('cli');

  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    app = await startTestApp({
      s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials },
      // Multipart from 5 MiB so a small file shows parts and progress.
      env: { DOWNLOAD_STRATEGY: 's3', MULTIPART_THRESHOLD_BYTES: String(5 * MiB), MULTIPART_PART_SIZE_BYTES: String(5 * MiB) },
    });
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-cli-'));
    env = { STOWAGE_URL: app.baseUrl, STOWAGE_TOKEN: await app.tokenFor(ws, { ttlSeconds: 3600 }) };
  });
  afterAll(async () => {
    await app?.close();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('--help on each command', async () => {
    const cmds = ['upload', 'ls', 'download', 'rm', 'workspace', 's3', 'worker', 'cleanup'];
    // Four at a time: each is a Node process compiling the CLI through tsx.
    for (let i = 0; i < cmds.length; i += 4) {
      await Promise.all(
        cmds.slice(i, i + 4).map(async (cmd) => {
          const r = await run([cmd, '--help']);
          expect(r.code, cmd).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`^Usage: stowage ${cmd}`));
        }),
      );
    }
  }, 300_000);

  test('upload without a token: exit 2 and the reason', async () => {
    const r = await run(['upload', BIN], { STOWAGE_URL: app.baseUrl });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^stowage upload: no token/);
  });

  test('API unreachable: exit 1 with one line', async () => {
    const r = await run(['ls'], { STOWAGE_URL: 'http://127.0.0.1:9', STOWAGE_TOKEN: 'x.y.z' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^stowage ls: /);
  });

  test('upload (not a TTY: plain lines) → ls → download compares bytes → rm', async () => {
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.bin');
    const aBytes = Buffer.from('hello from the CLI\n'.repeat(100));
    const bBytes = randomBytes(12 * MiB); // multipart: 3 parts
    await writeFile(a, aBytes);
    await writeFile(b, bBytes);
    const up = await run(['upload', a, b, '--concurrency', '2'], env);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).not.toContain('\x1b[');
    expect(up.stdout).toMatch(/^a\.txt: uploading/m);
    expect(up.stdout).toMatch(/^b\.bin: (25|50|75)% .*\/s ETA/m);
    const idA = /^a\.txt: done ([0-9a-f-]{36})/m.exec(up.stdout)![1]!;
    const idB = /^b\.bin: done ([0-9a-f-]{36})/m.exec(up.stdout)![1]!;

    const ls = await run(['ls', '--json'], env);
    expect(ls.code).toBe(0);
    const items = JSON.parse(ls.stdout) as Array<{ id: string; filename: string; status: string; size: number }>;
    expect(items.map((i) => i.id)).toEqual(expect.arrayContaining([idA, idB]));
    expect(items.find((i) => i.id === idB)).toMatchObject({ filename: 'b.bin', status: 'available', size: 12 * MiB });
    const lsTable = await run(['ls'], env);
    expect(lsTable.stdout).toMatch(/^ID\s+STATUS\s+SIZE\s+TYPE\s+UPLOADED\s+NAME/);
    expect(lsTable.stdout).toContain('12.0 MiB');

    const out = path.join(dir, 'b.out');
    const dl = await run(['download', idB, '-o', out], env);
    expect(dl.code).toBe(0);
    expect(sha(await readFile(out))).toBe(sha(bBytes));
    // Into the current directory under its own name, and as JSON.
    const dl2 = await run(['download', idA, '--json'], env, { cwd: dir + '/' });
    expect(dl2.code).toBe(1); // a.txt exists there already
    expect(dl2.stderr).toMatch(/a\.txt exists \(use --force to overwrite\)/);
    const dl3 = await run(['download', idA, '--json', '--force'], env, { cwd: dir });
    expect(dl3.code).toBe(0);
    expect(JSON.parse(dl3.stdout)).toEqual({ id: idA, path: 'a.txt', size: aBytes.length });
    const toStdout = await run(['download', idA, '-o', '-'], env);
    expect(toStdout.stdout).toBe(aBytes.toString());

    const del = await run(['rm', idA, '--json'], env);
    expect(del.code).toBe(0);
    expect(JSON.parse(del.stdout)).toEqual({ deleted: [idA] });
    const after = JSON.parse((await run(['ls', '--json'], env)).stdout) as Array<{ id: string }>;
    expect(after.map((i) => i.id)).not.toContain(idA);
    const gone = await run(['download', idA], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/is deleted, not available/);
    const missing = await run(['rm', '00000000-0000-0000-0000-000000000000'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^stowage rm: not_found: /);
  }, 400_000);

  test('workspace create/show/set-limits (database), then a too-large upload is refused with exit 1', async () => {
    const w = randomWorkspaceId('cliadm');
    const dbEnv = { DATABASE_URL: process.env.DATABASE_URL! };
    const created = await run(['workspace', 'create', w, '--max-file-size', '1KiB', '--quota', '10MiB', '--json'], dbEnv);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: w, limits: { maxFileSize: 1024, quotaBytes: 10 * MiB } });
    const again = await run(['workspace', 'create', w], dbEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const set = await run(['workspace', 'set-limits', w, '--allowed-types', 'text/plain,image/*', '--max-files', '5'], dbEnv);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/allowed types\s+text\/plain, image\/\*/);
    const shown = JSON.parse((await run(['workspace', 'show', w, '--json'], dbEnv)).stdout);
    expect(shown.limits).toMatchObject({ maxFileSize: 1024, maxFiles: 5, allowedContentTypes: ['text/plain', 'image/*'] });
    const unknown = await run(['workspace', 'show', randomWorkspaceId('nope')], dbEnv);
    expect(unknown.code).toBe(1);
    const bad = await run(['workspace', 'set-limits', w, '--quota', 'lots'], dbEnv);
    expect(bad.code).toBe(2);

    const big = path.join(dir, 'big.txt');
    await writeFile(big, 'x'.repeat(2048));
    const r = await run(['upload', big, '--json'], { STOWAGE_URL: app.baseUrl, STOWAGE_TOKEN: await app.tokenFor(w) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).failed[0].error.code).toBe('file_too_large');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^stowage upload: 1 of 1 failed: .*big\.txt \(file_too_large: /);
  }, 300_000);

  test.skipIf(!haveScript)('upload under a pseudo-terminal draws progress bars', async () => {
    const f = path.join(dir, 'tty.bin');
    await writeFile(f, randomBytes(16 * MiB));
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} upload ${JSON.stringify(f)} --part-concurrency 1`;
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', TERM: 'xterm', COLUMNS: '120', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\x1b[2K'); // redrawn in place
    expect(r.stdout).toMatch(/tty\.bin\s+[█░]+\s+100%\s+16\.0 MiB\s+done/);
    expect(r.stdout).toMatch(/tty\.bin\s+[█░]+\s+\d+%\s+[\d.]+ (B|KiB|MiB)\/16\.0 MiB\s+[\d.]+ (B|KiB|MiB)\/s\s+ETA/);
    expect(r.stdout).toMatch(/[0-9a-f-]{36}\s+.*tty\.bin/);
  });

  test('s3: the embedded store alone answers S3 requests and stops on SIGTERM', async () => {
    const data = await mkdtemp(path.join(tmpdir(), 'stowage-s3-'));
    try {
      const child = spawn(process.execPath, [BIN, 's3', '--port', '0', '--json'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', STOWAGE_DATA_DIR: data },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const first = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const info = JSON.parse(first) as { endpoint: string; accessKeyId: string; secretAccessKey: string };
      expect(info.accessKeyId).toBeTruthy();
      const res = await fetch(info.endpoint + '/');
      expect(res.status).toBe(403); // unsigned: refused the S3 way
      expect(await res.text()).toMatch(/<Error>/);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });
});
