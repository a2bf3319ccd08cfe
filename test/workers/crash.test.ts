// A worker killed mid-batch (SIGKILL of a real child process, its transaction open and rows locked) and restarted:
// nothing is lost, nothing is done twice (counters are exact), no object is left behind.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { TINY_PNG } from '../helpers/events.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { seedExpiredUploads } from '../helpers/seed-expired.ts';
import { countObjects } from '../helpers/workers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/cleanup-child.ts', import.meta.url));

interface ChildResult { sweep: { expired: number }; deletions: { deleted: number } }

function runChild(env: Record<string, string>, hangOn?: string): Promise<{ killed: boolean; result?: ChildResult }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, ...env, ...(hangOn ? { HANG_ON: hangOn } : {}), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!killed && out.includes('HANG ')) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (killed) return resolve({ killed: signal === 'SIGKILL' });
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      const line = out.trim().split('\n').pop()!;
      resolve({ killed: false, result: JSON.parse(line) as ChildResult });
    });
  });
}

describe('worker killed mid-batch', () => {
  let target: EmbeddedS3Target;
  let t: TestApp;
  let s3: S3Client;
  let env: Record<string, string>;
  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    t = await startTestApp({ s3Target: { endpoint: target.endpoint, ...target.credentials } });
    s3 = target.client();
    const c = t.config;
    env = { DATABASE_URL: c.databaseUrl!, S3_ENDPOINT: c.s3.endpoint!, S3_BUCKET: c.s3.bucket, S3_REGION: c.s3.region,
      S3_ACCESS_KEY_ID: c.s3.accessKeyId!, S3_SECRET_ACCESS_KEY: c.s3.secretAccessKey! };
  });
  afterAll(async () => {
    await t?.close();
    s3?.destroy();
    await target?.stop();
  });

  const state = async (ws: string) => {
    const files = await t.deps.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM files WHERE workspace_id = $1 GROUP BY status ORDER BY status', [ws]);
    const w = await t.deps.db.query('SELECT used_bytes, reserved_bytes, file_count, pending_count FROM workspaces WHERE id = $1', [ws]);
    const outbox = await t.deps.db.query(`SELECT count(*)::int AS n FROM object_deletions WHERE object_key LIKE 'workspaces/' || $1 || '/%'`, [ws]);
    return { files: Object.fromEntries(files.rows.map((r) => [r.status, r.n])), counters: w.rows[0], outbox: outbox.rows[0].n as number };
  };

  it('killed while reconciling the 2nd sweep batch, then killed inside DeleteObjects, then restarted: exact result', async () => {
    const ws = randomWorkspaceId('crash');
    const N = 3000;
    const size = TINY_PNG.length;
    await seedExpiredUploads(t.deps.db, s3, t.config.s3.bucket, {
      workspaceId: ws, count: N, size, objectFor: (i) => (i % 25 === 0 ? TINY_PNG.subarray(0, 20) : null),
    });
    const objectsBefore = await countObjects(s3, t.config.s3.bucket, `workspaces/${ws}/`);
    expect(objectsBefore).toBe(N / 25);

    // 1. Killed while its 2nd claimed batch is being reconciled (listing): batch 1 committed, batch 2 rolled back.
    env.WORKSPACE = ws;
    const first = await runChild(env, 'listObjects:2');
    expect(first.killed).toBe(true);
    let s = await state(ws);
    expect(s.files).toEqual({ expired: 1000, pending: N - 1000 });
    expect(s.counters).toEqual({ used_bytes: 0, reserved_bytes: (N - 1000) * size, file_count: 0, pending_count: N - 1000 });
    expect(s.outbox).toBe(1000);

    // 2. Restarted, killed again inside the first DeleteObjects call (outbox batch claimed and locked).
    const second = await runChild(env, 'deleteMany:1');
    expect(second.killed).toBe(true);
    s = await state(ws);
    expect(s.files).toEqual({ expired: N });
    expect(s.counters).toEqual({ used_bytes: 0, reserved_bytes: 0, file_count: 0, pending_count: 0 });
    expect(s.outbox).toBe(N); // every deletion still queued: the killed batch's rows were never removed

    // 3. Restarted without interruption: finishes the work, repeats nothing harmful.
    const third = await runChild(env);
    expect(third.killed).toBe(false);
    expect(third.result!.sweep.expired).toBe(0);
    expect(third.result!.deletions.deleted).toBe(N);
    s = await state(ws);
    expect(s.files).toEqual({ expired: N });
    expect(s.counters).toEqual({ used_bytes: 0, reserved_bytes: 0, file_count: 0, pending_count: 0 });
    expect(s.outbox).toBe(0);
    expect(await countObjects(s3, t.config.s3.bucket, `workspaces/${ws}/`)).toBe(0);
  });
});
