// vitest globalSetup: Postgres for every test file. DATABASE_URL if set, otherwise an embedded PostgreSQL in a temp
// dir on a free port. Migrations run once here. Tests read the URL from process.env.DATABASE_URL (inherited by the
// forked workers) or `inject('databaseUrl')`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.DATABASE_URL;
  let embedded: EmbeddedPostgresHandle | undefined;
  let dir: string | undefined;
  if (!url) {
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-test-pg-'));
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      password: 'stowage-test',
      persistent: false,
      database: 'stowage_test',
    });
    url = embedded.url;
    process.env.STOWAGE_TEST_EMBEDDED_PG = '1';
  }
  const pool = createPool(url, { max: 2 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  process.env.DATABASE_URL = url;
  project.provide('databaseUrl', url);
  return async () => {
    if (embedded) await embedded.stop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
}
