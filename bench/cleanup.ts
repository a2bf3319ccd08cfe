// cleanup: cleaning expired pending uploads — Stowage's workers (expiry sweep with listing-based reconciliation and
// set-based transitions, then the deletion outbox with DeleteObjects batches of 1,000, claim loops sharing work through
// SKIP LOCKED) against the naive loop the seed ran (per upload: one DeleteObject, one DELETE of the row, in
// sequence), on the same data shape, in the same run, against the same Postgres and the same embedded object store.
//
// Data: N expired uploads per side (full 100,000; quick 5,000), every one with its row and reservation; objects for
// 1 in OBJECT_EVERY uploads (the embedded store writes ~100 objects/s on this kind of disk, so giving all 100,000 uploads an
// object would take ~30 minutes of seeding per side; both sides issue a delete for every upload either way — the
// naive loop one DeleteObject per upload, Stowage one key per upload in DeleteObjects).
//
// Runnable alone: node --import tsx bench/cleanup.ts [--quick]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { loadConfig } from '../src/config/index.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { startObjectStore } from '../src/objectstore/index.ts';
import { runCleanupOnce } from '../src/services/cleanup.ts';
import { S3Storage } from '../src/storage/s3-adapter.ts';
import { seedExpiredUploads } from '../test/helpers/seed-expired.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { BenchSkip, result, type BenchOptions, type BenchResult } from './lib/types.ts';

const OBJECT_EVERY = 10;
const WARMUP = 500;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const N = opts.quick ? 5_000 : 100_000;
  const pg = await startBenchPostgres(log).catch((err: Error) => {
    throw new BenchSkip(`Postgres unavailable: ${err.message}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'stowage-bench-cleanup-'));
  const credentials = { accessKeyId: 'BENCHCLEANUP', secretAccessKey: randomBytes(16).toString('hex') };
  const store = await startObjectStore({ dir, credentials: [credentials] });
  const bucket = `bench-cleanup-${randomBytes(4).toString('hex')}`;
  const s3 = new S3Client({ endpoint: store.endpoint, region: 'us-east-1', credentials, forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const config = loadConfig({ DATABASE_URL: pg.url, S3_ENDPOINT: store.endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: credentials.accessKeyId,
    S3_SECRET_ACCESS_KEY: credentials.secretAccessKey, AUTH_JWT_SECRET: 'b'.repeat(32), LOG_LEVEL: 'silent' }, { requireExternal: true });
  const db = createPool(pg.url, { max: 10 });
  const storage = new S3Storage({ endpoint: store.endpoint, region: 'us-east-1', bucket, ...credentials, forcePathStyle: true });
  const deps = { config, db, storage, log: pino({ level: 'silent' }), now: () => new Date() };
  try {
    await migrate(db);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = new Uint8Array(64).fill(7); // partial objects: the rows declare 1,000 bytes
    const seed = async (ws: string, count = N) => {
      const t0 = performance.now();
      await seedExpiredUploads(db, s3, bucket, { workspaceId: ws, count, size: 1000, objectFor: (i) => (i % OBJECT_EVERY === 0 ? body : null), concurrency: 32 });
      log(`cleanup: seeded ${count} expired uploads (${count / OBJECT_EVERY} objects) for ${ws} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };
    const naiveWs = `bench-naive-${randomBytes(3).toString('hex')}`;
    const stowageWs = `bench-stowage-${randomBytes(3).toString('hex')}`;
    await seed(naiveWs);
    await seed(stowageWs);

    // Baseline: the seed's loop — select the expired rows, then one DeleteObject and one row DELETE at a time.
    const naiveLoop = async (ws: string) => {
      const rows = await db.query<{ id: string; object_key: string }>(
        "SELECT id, object_key FROM files WHERE workspace_id = $1 AND status = 'pending' AND expires_at < now()", [ws]);
      for (const r of rows.rows) {
        await storage.delete(r.object_key);
        await db.query('DELETE FROM files WHERE id = $1', [r.id]);
      }
      return rows.rows.length;
    };
    // Both sides first clean WARMUP uploads of workspaces of their own, so that neither is timed with cold code (the
    // worker that runs these passes is a long-running process); at 5,000 uploads a cold first pass took twice as long.
    const warmNaive = `bench-warm-naive-${randomBytes(3).toString('hex')}`;
    const warmStowage = `bench-warm-stowage-${randomBytes(3).toString('hex')}`;
    await seed(warmNaive, WARMUP);
    await seed(warmStowage, WARMUP);
    await naiveLoop(warmNaive);
    await runCleanupOnce(deps, { workspaceId: warmStowage, multipart: false });

    // Each side starts from a vacuumed table: otherwise the side timed second runs alongside the autovacuum that the
    // first side's 5,000–100,000 deletions set off.
    const settle = () => db.query('VACUUM ANALYZE files, workspaces, object_deletions');
    await settle();
    let t0 = performance.now();
    const naiveCount = await naiveLoop(naiveWs);
    const naiveSeconds = (performance.now() - t0) / 1000;
    log(`cleanup: naive loop ${naiveCount} uploads in ${naiveSeconds.toFixed(1)} s`);

    // Stowage: one pass as the worker runs it, the same function as `stowage cleanup --once` (the sweep, with the
    // outbox draining alongside).
    await settle();
    t0 = performance.now();
    const pass = await runCleanupOnce(deps, { workspaceId: stowageWs, multipart: false });
    const stowageSeconds = (performance.now() - t0) / 1000;
    if (pass.errors.length) throw new Error(`cleanup pass failed: ${JSON.stringify(pass.errors)}`);
    const { expired: sweep, deletions } = pass;
    log(`cleanup: stowage ${sweep.expired} expired, ${deletions.deleted} deletions in ${stowageSeconds.toFixed(1)} s ` +
      `(${sweep.batches} sweep batches, ${sweep.listCalls} list + ${sweep.headCalls} head calls, ${deletions.batches} DeleteObjects)`);

    // Both must have done the whole job.
    const left = async (ws: string) => {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `workspaces/${ws}/`, MaxKeys: 10 }));
      return r.KeyCount ?? 0;
    };
    const pending = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM files WHERE workspace_id = $1 AND status = 'pending'", [stowageWs]);
    const counters = await db.query<{ reserved_bytes: number }>('SELECT reserved_bytes FROM workspaces WHERE id = $1', [stowageWs]);
    if (sweep.expired !== N || deletions.deleted !== N || pending.rows[0]!.n !== 0 || counters.rows[0]!.reserved_bytes !== 0 || (await left(stowageWs)) !== 0) {
      throw new Error(`stowage did not clean everything: ${JSON.stringify({ sweep, deletions, pending: pending.rows[0], counters: counters.rows[0] })}`);
    }
    if (naiveCount !== N || (await left(naiveWs)) !== 0) throw new Error('the naive loop did not clean everything');

    return [
      result({
        figure: `clean ${N.toLocaleString('en-US')} expired uploads`,
        stowage: N / stowageSeconds,
        baseline: N / naiveSeconds,
        unit: 'uploads/s',
        target: 20,
        baselineName: 'naive loop: DeleteObject + DELETE row, one upload at a time',
        note: `${N / OBJECT_EVERY} of the ${N} uploads per side have an object; Stowage ${stowageSeconds.toFixed(2)} s ` +
          `(sweep ${sweep.batches} batches/${sweep.listCalls} listings, outbox ${deletions.batches} DeleteObjects; also releases reservations ` +
          `and keeps rows as expired), naive ${naiveSeconds.toFixed(2)} s (releases nothing); embedded object store, ${pg.embedded ? 'embedded' : 'external'} Postgres`,
      }),
    ];
  } finally {
    await db.end().catch(() => {});
    storage.destroy();
    s3.destroy();
    await store.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await pg.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  run({ quick })
    .then((rows) => {
      console.table(rows.map((r) => ({ figure: r.figure, stowage: r.stowage?.toFixed(1), baseline: r.baseline?.toFixed(1), unit: r.unit, ratio: r.ratio?.toFixed(2), target: r.target, pass: r.pass })));
      console.log(JSON.stringify(rows, null, 2));
    })
    .catch((err) => {
      console.error(err instanceof BenchSkip ? `skipped: ${err.message}` : err);
      process.exitCode = err instanceof BenchSkip ? 0 : 1;
    });
}
