// The CLI as a user runs it: a child process through bin/stowage.mjs.
import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';

const BIN = path.resolve('bin/stowage.mjs');

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('stowage CLI', () => {
  test.each([
    ['serve', { PORT: 'abc', DATABASE_URL: 'mysql://nope', AUTH_JWT_SECRET: 'short' }, ['PORT', 'DATABASE_URL', 'S3_ENDPOINT', 'AUTH_JWT_SECRET']],
    ['start', { PORT: '99999', DEFAULT_QUOTA_BYTES: '-5', LOG_LEVEL: 'chatty' }, ['PORT', 'DEFAULT_QUOTA_BYTES', 'LOG_LEVEL']],
  ])('%s with a bad configuration: a message naming every bad variable, exit 1', async (cmd, env, names) => {
    const r = await run([cmd], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Invalid configuration/);
    for (const n of names) expect(r.stderr).toContain(`${n}:`);
  });

  test('token --workspace mints a token the server accepts (AUTH_JWT_SECRET)', async () => {
    const secret = 's'.repeat(40);
    const r = await run(['token', '--workspace', 'acme', '--ttl', '120', '--sub', 'alice'], { AUTH_JWT_SECRET: secret });
    expect(r.code).toBe(0);
    const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode(secret));
    expect(payload).toMatchObject({ workspace_id: 'acme', sub: 'alice' });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  test('token uses the dev secret kept by `start` in the data dir', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stowage-cli-'));
    try {
      await writeFile(path.join(dir, 'secrets.json'), JSON.stringify({ jwtSecret: 'd'.repeat(43), s3AccessKeyId: 'a', s3SecretAccessKey: 'b', postgresPassword: 'c' }));
      const r = await run(['token', '--workspace', 'dev'], { STOWAGE_DATA_DIR: dir });
      expect(r.code).toBe(0);
      await jwtVerify(r.stdout.trim(), new TextEncoder().encode('d'.repeat(43)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [['token'], 2, /--workspace is required/],
    [['token', '--workspace', '../x'], 2, /--workspace must be/],
    [['token', '--bogus'], 2, /unknown option --bogus/],
    [['nope'], 2, /unknown command "nope"/],
  ])('usage errors: %j → exit %d', async (args, code, message) => {
    const r = await run(args, { AUTH_JWT_SECRET: 's'.repeat(40) });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  test.each([['start'], ['serve'], ['migrate'], ['token']])('%s --help', async (cmd) => {
    const r = await run([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: stowage ${cmd}`));
  });

  test('migrate applies nothing twice', async () => {
    const r = await run(['migrate'], { DATABASE_URL: process.env.DATABASE_URL! });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/up to date/);
  });
});
