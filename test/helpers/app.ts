// startTestApp: the real HTTP server (listening on port 0) against real Postgres (DATABASE_URL from the global
// setup) and a real S3 target (embedded object store or RGW). Each app gets a fresh bucket unless one is given.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { DEFAULT_UPLOAD_CORS, type S3Storage } from '../../src/storage/s3-adapter.ts';
import { createStorage } from '../../src/cli/api-component.ts';
import { buildServer, type BuildServerOptions } from '../../src/http/server.ts';
import { mintToken } from '../../src/http/auth.ts';
import type { Deps } from '../../src/services/deps.ts';

/** What startTestApp needs from an S3 target (test/helpers/s3-targets.ts targets satisfy it). */
export interface S3TargetLike {
  name?: string;
  endpoint: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Use this bucket (created if missing); default: a fresh random bucket. */
  bucket?: string;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export interface StartTestAppOptions {
  s3Target: S3TargetLike;
  config?: DeepPartial<Config>;
  /** Extra environment variables fed to loadConfig (e.g. DEFAULT_QUOTA_BYTES). */
  env?: Record<string, string>;
  server?: BuildServerOptions;
  /** Clock for services (default: real time). */
  now?: () => Date;
  /** Where the app's log lines go (default: stdout, at TEST_LOG_LEVEL or silent). */
  logDestination?: pino.DestinationStream;
}

export interface TestApp {
  baseUrl: string;
  app: FastifyInstance;
  deps: Deps & { storage: S3Storage };
  config: Config;
  /** An HS256 token for the workspace (the app's secret, `workspace_id` claim unless configured otherwise). */
  tokenFor(workspaceId: string, opts?: { subject?: string; ttlSeconds?: number; now?: Date; extraClaims?: Record<string, unknown> }): Promise<string>;
  /** fetch against baseUrl with a bearer token for the workspace. */
  api(workspaceId: string, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

function deepMerge<T>(base: T, over: unknown): T {
  if (over === undefined || over === null || typeof over !== 'object' || Array.isArray(over)) return (over ?? base) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = out[k];
    out[k] = b && typeof b === 'object' && !Array.isArray(b) && !(b instanceof Date) ? deepMerge(b, v) : v;
  }
  return out as T;
}

export function randomWorkspaceId(prefix = 'ws'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export async function startTestApp(opts: StartTestAppOptions): Promise<TestApp> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set: is test/helpers/global-setup.ts configured?');
  const bucket = opts.s3Target.bucket ?? `stowage-test-${randomBytes(5).toString('hex')}`;
  const secret = randomBytes(32).toString('hex');
  const base = loadConfig(
    {
      DATABASE_URL: databaseUrl,
      S3_ENDPOINT: opts.s3Target.endpoint,
      S3_BUCKET: bucket,
      S3_REGION: opts.s3Target.region ?? 'us-east-1',
      S3_ACCESS_KEY_ID: opts.s3Target.accessKeyId,
      S3_SECRET_ACCESS_KEY: opts.s3Target.secretAccessKey,
      AUTH_JWT_SECRET: secret,
      PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...opts.env,
    },
    { requireExternal: true },
  );
  const config = deepMerge(base, opts.config);
  const log = opts.logDestination ? pino({ level: config.logLevel }, opts.logDestination) : pino({ level: config.logLevel });
  const db = createPool(config.databaseUrl!, { max: 10, onError: (err) => log.warn({ err }, 'idle pg client error') });
  const storage = createStorage(config);
  await storage.ensureBucket({ cors: DEFAULT_UPLOAD_CORS });
  const deps = { config, db, storage, log, now: opts.now ?? (() => new Date()) };
  const app = await buildServer(deps, opts.server);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;

  const tokenFor: TestApp['tokenFor'] = (workspaceId, o = {}) =>
    mintToken({
      secret: config.auth.jwtSecret ?? secret,
      workspaceId,
      subject: o.subject ?? 'test-user',
      ttlSeconds: o.ttlSeconds ?? 3600,
      workspaceClaim: config.auth.workspaceClaim,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      now: o.now,
      extraClaims: o.extraClaims,
    });

  const api: TestApp['api'] = async (workspaceId, path, init = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${await tokenFor(workspaceId)}`);
    if (json !== undefined) headers.set('content-type', 'application/json');
    return fetch(baseUrl + path, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  };

  return {
    baseUrl,
    app,
    deps,
    config,
    tokenFor,
    api,
    close: async () => {
      await app.close();
      await db.end();
      storage.destroy();
    },
  };
}
