// Starting the Stowage side for the benchmarks: the embedded object store (its own process, bench/lib/store-child.ts:
// it plays the part of S3, it is not what is measured), and the API as a CHILD PROCESS (`node bin/stowage.mjs serve`,
// configured by environment variables) so its CPU and memory can be read from /proc.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SignJWT } from 'jose';
import { createDatabase, startBenchPostgres, type BenchPostgres } from './postgres.ts';
import { freePort, spawnChild, waitForHttp, type Child } from './proc.ts';
import { BenchSkip } from './types.ts';

const ACCESS_KEY_ID = 'BENCHACCESSKEY000001';
const SECRET_ACCESS_KEY = 'bench-secret-access-key-0000000000000001';
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef-0123456789abcdef';
export const BUCKET = 'stowage-bench';

/** Throws BenchSkip naming what is missing when the Stowage side cannot run yet. */
export function requireStowage(): void {
  const missing = ['src/http/server.ts', 'src/cli/main.ts', 'src/cli/commands/serve.ts', 'src/config/index.ts'].filter(
    (p) => !existsSync(p),
  );
  if (missing.length) throw new BenchSkip(`the foundation has not landed (missing ${missing.join(', ')})`);
  if (!existsSync('src/objectstore/index.ts')) {
    throw new BenchSkip('the embedded object store has not landed (no src/objectstore/index.ts)');
  }
}

export interface Stack {
  apiUrl: string;
  apiPid: number;
  /** How the API process was started. */
  apiCommand: string;
  s3Endpoint: string;
  databaseUrl: string;
  /** A bearer token for workspace `workspaceId`. */
  token(workspaceId: string): Promise<string>;
  api: Child;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Name of the fresh database for this module. */
  database: string;
  /** Extra environment for the API. */
  env?: Record<string, string>;
  log?: (m: string) => void;
}

/** Postgres (DATABASE_URL from the runner, or its own embedded one), object store, bucket, and `stowage serve`. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  requireStowage();
  const log = opts.log ?? (() => {});
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    let pgServer: BenchPostgres | null = null;
    if (!process.env.DATABASE_URL) {
      pgServer = await startBenchPostgres(log);
      const p = pgServer;
      cleanups.push(() => p.stop());
    }
    const serverUrl = pgServer?.url ?? (process.env.DATABASE_URL as string);
    const databaseUrl = await createDatabase(serverUrl, opts.database);

    const dir = await mkdtemp(join(tmpdir(), 'stowage-bench-store-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const storeProc = spawnChild(process.execPath, ['--import', 'tsx', resolve('bench', 'lib', 'store-child.ts'), dir, ACCESS_KEY_ID, SECRET_ACCESS_KEY]);
    cleanups.push(() => storeProc.stop());
    const store = { endpoint: await readyLine(storeProc, 'object store') };
    const s3 = new S3Client({
      endpoint: store.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((e: Error) => {
      if (!/BucketAlready/.test(e.name)) throw e;
    });
    s3.destroy();

    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-bench-data-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      STOWAGE_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      S3_ENDPOINT: store.endpoint,
      S3_BUCKET: BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: 'true',
      AUTH_JWT_SECRET: JWT_SECRET,
      // Limits out of the way: the benchmarks measure speed, not the quota checks' refusals.
      DEFAULT_QUOTA_BYTES: String(2 ** 50),
      DEFAULT_MAX_FILES: String(100_000_000),
      DEFAULT_MAX_PENDING: String(100_000_000),
      DEFAULT_MAX_FILE_SIZE: String(5 * 2 ** 30),
      ...opts.env,
    };
    // BENCH_API_NODE_ARGS: extra node flags for the API process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // --no-memory-reducer: as the `stowage` bin and `npm start` run it (see bin/stowage.mjs).
    const api = spawnChild(process.execPath, ['--no-memory-reducer', ...nodeArgs, resolve('bin', 'stowage.mjs'), 'serve'], { env });
    cleanups.push(() => api.stop());
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${apiUrl}/healthz`, api, 60_000);
    const key = new TextEncoder().encode(JWT_SECRET);
    return {
      apiUrl,
      apiPid: api.pid,
      apiCommand: 'node --no-memory-reducer bin/stowage.mjs serve',
      s3Endpoint: store.endpoint,
      databaseUrl,
      api,
      token: (workspaceId: string) =>
        new SignJWT({ workspace_id: workspaceId })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('bench-user')
          .setIssuedAt()
          .setExpirationTime('2h')
          .sign(key),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits for "READY <value>" on the child's stdout. */
function readyLine(child: Child, what: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${child.output()}`)), timeoutMs);
    let buf = '';
    child.proc.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      const m = /READY (\S+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolvePromise(m[1]);
      }
    });
    child.proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code}):\n${child.output()}`));
    });
  });
}

/** A minimal valid 1×1 PNG, so content sniffing accepts the bytes as image/png. */
export const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

export interface UploadAnswer {
  file: { id: string; status: string };
  upload: {
    method: string;
    url?: string;
    headers?: Record<string, string>;
    uploadId?: string;
    partSize?: number;
    partCount?: number;
  };
}

/** POST /v1/uploads; throws on anything but 201. */
export async function createUpload(apiUrl: string, token: string, body: Record<string, unknown>): Promise<UploadAnswer> {
  const r = await fetch(`${apiUrl}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`POST /v1/uploads answered ${r.status}: ${text}`);
  return JSON.parse(text) as UploadAnswer;
}

export async function apiJson<T>(apiUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
