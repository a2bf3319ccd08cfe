// The control-plane baseline: the same Postgres's raw rate of the equivalent single-row INSERT transaction (one
// pending `files` row, as POST /v1/uploads records it) at the same concurrency, through a pg pool of that size.
// The table is the real one: Stowage's own migrations are applied to a fresh database, so the row carries the same
// columns, constraints, foreign key and indexes.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createDatabase } from './postgres.ts';
import { percentile } from './proc.ts';

export interface RateResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export async function prepareRawDatabase(serverUrl: string): Promise<string> {
  const url = await createDatabase(serverUrl, 'stowage_bench_raw');
  // Stowage's own migrator (advisory-locked, ordered), so the table is exactly the one the API writes to.
  const { migrate } = (await import('../../src/db/migrate.ts')) as { migrate: (db: pg.Pool) => Promise<string[]> };
  const db = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await migrate(db);
    await db.query(
      `INSERT INTO workspaces (id, max_file_size, allowed_content_types, quota_bytes, max_files, max_pending)
       VALUES ('bench-raw', 5368709120, ARRAY['image/png'], 1099511627776, 100000000, 100000000)`,
    );
  } finally {
    await db.end();
  }
  return url;
}

const INSERT = `INSERT INTO files (id, workspace_id, object_key, status, filename, content_type, size, checksum_sha256,
  metadata, uploader, upload_method, expires_at)
  VALUES ($1, $2, $3, 'pending', $4, $5, $6, NULL, $7, $8, 'put', now() + interval '1 hour')`;

/**
 * `connections` workers each run single-row INSERTs (one statement = one transaction, committed with the server's
 * default durability) back to back for `durationMs` after `warmupMs`.
 */
export async function rawInsertRate(url: string, connections: number, durationMs: number, warmupMs: number): Promise<RateResult> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  // Open every connection before timing.
  await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
  const insert = async (): Promise<void> => {
    const id = randomUUID();
    await pool.query(INSERT, [id, 'bench-raw', `workspaces/bench-raw/files/${id}.png`, 'photo.png', 'image/png', 1024, '{}', 'bench-user']);
  };
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let counted = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await insert();
        } catch {
          errors++;
          continue;
        }
        if (t >= measureFrom) {
          counted++;
          latencies.push(performance.now() - t);
        }
      }
    }),
  );
  const seconds = (performance.now() - measureFrom) / 1000;
  await pool.end();
  return { requests: counted, seconds, rps: counted / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}
