// `stowage start` end to end, as a user runs it: embedded Postgres + object store + API in a fresh data dir; one
// upload; stop with SIGINT (exit 0); start again: the file, the object and the dev token are still valid.
import { afterAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.ts';
import { PNG_1x1 } from './support.ts';

const BIN = path.resolve('bin/stowage.mjs');

interface Running {
  child: ChildProcess;
  apiUrl: string;
  token: string;
  output: () => string;
}

async function startStowage(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 90_000;
  while (!/Press Ctrl\+C to stop/.test(out)) {
    if (child.exitCode !== null) throw new Error(`stowage start exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`stowage start did not come up:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const apiUrl = /API\s+(http:\/\/\S+)/.exec(out)?.[1];
  const token = /Dev token[^\n]*\n\s+(\S+)/.exec(out)?.[1];
  if (!apiUrl || !token) throw new Error(`no API URL or token in:\n${out}`);
  return { child, apiUrl, token, output: () => out };
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = new Promise<number | null>((resolve) => r.child.once('exit', (code) => resolve(code)));
  r.child.kill('SIGINT');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

describe('stowage start', () => {
  let dir: string | undefined;
  const running: Running[] = [];
  afterAll(async () => {
    for (const r of running) await stop(r).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('one command; data, secrets and tokens survive a restart; SIGINT shuts down cleanly', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-start-'));
    const env = {
      STOWAGE_DATA_DIR: path.join(dir, '.stowage'),
      PORT: String(await freePort()),
      EMBEDDED_S3_PORT: String(await freePort()),
      EDGE_PORT: String(await freePort()),
    };
    const first = await startStowage(env);
    running.push(first);
    const auth = { authorization: `Bearer ${first.token}` };
    expect((await fetch(`${first.apiUrl}/readyz`)).status).toBe(200);

    const created = await fetch(`${first.apiUrl}/v1/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'pixel.png', contentType: 'image/png', size: PNG_1x1.length }),
    });
    expect(created.status).toBe(201);
    const { file, upload } = (await created.json()) as { file: { id: string }; upload: { url: string; headers: Record<string, string> } };
    expect((await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: PNG_1x1 })).status).toBe(200);
    const done = await fetch(`${first.apiUrl}/v1/uploads/${file.id}/complete`, { method: 'POST', headers: auth });
    expect(done.status).toBe(200);

    expect(await stop(first)).toBe(0);

    const second = await startStowage(env);
    running.push(second);
    // The first run's token still works (the signing secret persisted), and the file is still there.
    const again = await fetch(`${second.apiUrl}/v1/files/${file.id}`, { headers: auth });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { file: { status: string } }).file.status).toBe('available');
    const usage = (await (await fetch(`${second.apiUrl}/v1/usage`, { headers: auth })).json()) as { usedBytes: number; fileCount: number };
    expect(usage).toMatchObject({ usedBytes: PNG_1x1.length, fileCount: 1 });
    // The object persisted too: the presigned PUT URL now meets it (If-None-Match: *).
    expect((await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: PNG_1x1 })).status).toBe(412);
    expect(await stop(second)).toBe(0);
  });
});
