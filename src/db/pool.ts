import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;
/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// bigint (int8) columns hold byte counts well below 2^53: parse them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

export function createPool(connectionString: string, opts: { max?: number; onError?: (err: Error) => void } = {}): Db {
  const pool = new pg.Pool({ connectionString, max: opts.max ?? 20, connectionTimeoutMillis: 10_000 });
  // An idle client erroring (e.g. Postgres restarted) must not crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  // Nor a checked-out one: pg-pool listens for errors only while a client is idle, so a connection dropped while a
  // client is checked out between queries (inside a transaction awaiting storage, say) emitted an unhandled 'error'
  // and killed the process. The next query on that client fails instead (→ 503), and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', (err) => opts.onError?.(err)));
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
