// The API as a component: pool, migrations, storage adapter, Fastify listening on HOST:PORT.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { createPool, type Db } from '../db/pool.ts';
import { migrate } from '../db/migrate.ts';
import { S3Storage } from '../storage/s3-adapter.ts';
import { buildServer, type BuildServerOptions } from '../http/server.ts';
import type { Deps } from '../services/deps.ts';
import type { Component } from './runtime.ts';

export interface ApiRuntime {
  deps: Deps;
  app: FastifyInstance;
  url: string;
}

export function createStorage(config: Config): S3Storage {
  return new S3Storage({
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    bucket: config.s3.bucket,
    accessKeyId: config.s3.accessKeyId,
    secretAccessKey: config.s3.secretAccessKey,
    forcePathStyle: config.s3.forcePathStyle,
    multiObjectDelete: config.s3.multiObjectDelete,
  });
}

export function createDeps(config: Config, log: Logger): Deps & { db: Db; storage: S3Storage } {
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  const db = createPool(config.databaseUrl, {
    max: config.databasePoolMax,
    onError: (err) => log.debug({ error: err.message }, 'idle Postgres client error'),
  });
  return { config, db, storage: createStorage(config), log, now: () => new Date() };
}

/** `getConfig` is read at start time, so earlier components (embedded Postgres/S3) can fill it in. */
export function apiComponent(
  getConfig: () => Config,
  log: Logger,
  opts: { onStarted?: (rt: ApiRuntime) => void; server?: BuildServerOptions } = {},
): Component {
  let rt: ApiRuntime | undefined;
  let storage: S3Storage | undefined;
  return {
    name: 'api',
    async start() {
      const config = getConfig();
      const deps = createDeps(config, log);
      storage = deps.storage;
      try {
        const applied = await migrate(deps.db, { log: (m) => log.info(m) });
        if (applied.length === 0) log.debug('database schema up to date');
        const app = await buildServer(deps, opts.server);
        const address = await app.listen({ host: config.host, port: config.port });
        rt = { deps, app, url: address.replace('[::1]', 'localhost') };
        opts.onStarted?.(rt);
      } catch (err) {
        await deps.db.end().catch(() => {});
        deps.storage.destroy();
        throw err;
      }
    },
    async stop() {
      if (!rt) return;
      await rt.app.close(); // stops accepting, waits for in-flight requests
      await rt.deps.db.end();
      storage?.destroy();
      rt = undefined;
    },
  };
}
