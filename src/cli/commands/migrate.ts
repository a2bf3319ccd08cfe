// `stowage migrate`: applies pending migrations to DATABASE_URL (or the embedded Postgres under the data dir).
import path from 'node:path';
import type { Command } from '../command.ts';
import { createLogger, loadConfigOrReport } from '../runtime.ts';
import { createPool } from '../../db/pool.ts';
import { migrate } from '../../db/migrate.ts';
import { startEmbeddedPostgres } from '../../db/embedded.ts';
import { loadOrCreateDevSecrets } from '../secrets.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  summary:
    'Applies pending database migrations (numbered files in src/db/migrations) under an advisory lock.\n' +
    'Uses DATABASE_URL, or the embedded Postgres in STOWAGE_DATA_DIR when DATABASE_URL is unset.',
  usage: 'stowage migrate',
  flags: {},
  async run() {
    const config = loadConfigOrReport(process.env, { requireExternal: false });
    if (!config) return 1;
    const log = createLogger(config.logLevel);
    let url = config.databaseUrl;
    let stopEmbedded: (() => Promise<void>) | undefined;
    if (!url) {
      const secrets = await loadOrCreateDevSecrets(config.dataDir);
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'pg'),
        password: secrets.postgresPassword,
        persistent: true,
        database: 'stowage',
        port: config.embedded.postgresPort || undefined,
      });
      url = pg.url;
      stopEmbedded = pg.stop;
    }
    const pool = createPool(url);
    try {
      const applied = await migrate(pool, { log: (m) => log.info(m) });
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database schema up to date\n');
      return 0;
    } finally {
      await pool.end();
      await stopEmbedded?.();
    }
  },
};
