// Standalone runner for the embedded object store (knows nothing of Stowage's configuration):
//   node --import tsx src/objectstore/cli.ts --dir ./data --port 9000 [--host 127.0.0.1] [--region us-east-1]
//        [--access-key-id K --secret-access-key S] [--max-object-size BYTES] [--bucket NAME ...]
// Credentials: flags, else S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY, else generated once and kept in <dir>/credentials.json.
// `stowage s3` (src/cli/commands/s3.ts) is the Stowage-configured equivalent.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startObjectStore, type ObjectStore } from './server.ts';

const USAGE = 'usage: objectstore --dir <path> [--port <p>] [--host <h>] [--region <r>] [--access-key-id <k> --secret-access-key <s>] [--max-object-size <bytes>] [--bucket <name> ...]';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Parses argv, starts the store and returns it (the caller decides when to close). Throws on bad arguments. */
export async function startFromArgv(argv: string[], io: CliIo = { out: console.log, err: console.error, env: process.env }): Promise<ObjectStore> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${USAGE}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value\n${USAGE}`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  const one = (n: string) => flags.get(n)?.at(-1);
  const known = new Set(['dir', 'port', 'host', 'region', 'access-key-id', 'secret-access-key', 'max-object-size', 'bucket']);
  for (const n of flags.keys()) if (!known.has(n)) throw new Error(`unknown option --${n}\n${USAGE}`);
  const dir = one('dir');
  if (!dir) throw new Error(`--dir is required\n${USAGE}`);
  const port = Number(one('port') ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0-65535');
  const maxRaw = one('max-object-size');
  const maxObjectSize = maxRaw === undefined ? undefined : Number(maxRaw);
  if (maxObjectSize !== undefined && !(maxObjectSize > 0)) throw new Error('--max-object-size must be a positive number of bytes');
  await mkdir(dir, { recursive: true });
  let accessKeyId = one('access-key-id') ?? io.env.S3_ACCESS_KEY_ID;
  let secretAccessKey = one('secret-access-key') ?? io.env.S3_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    const file = path.join(dir, 'credentials.json');
    try {
      ({ accessKeyId, secretAccessKey } = JSON.parse(await readFile(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string });
    } catch {
      accessKeyId = 'AKIA' + randomBytes(8).toString('hex').toUpperCase();
      secretAccessKey = randomBytes(30).toString('base64url');
      await writeFile(file, JSON.stringify({ accessKeyId, secretAccessKey }), { mode: 0o600 });
    }
  }
  const region = one('region') ?? 'us-east-1';
  const store = await startObjectStore({
    dir: path.join(dir, 'store'),
    host: one('host') ?? '127.0.0.1',
    port,
    region,
    maxObjectSize,
    credentials: [{ accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! }],
    logger: { warn: (o, m) => io.err(`${m ?? ''} ${JSON.stringify(o)}`), error: (o, m) => io.err(`${m ?? ''} ${JSON.stringify(o)}`) },
  });
  for (const bucket of flags.get('bucket') ?? []) {
    const { sign } = await import('./cli-sign.ts');
    await sign(store.endpoint, region, { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! }, bucket);
  }
  io.out(`S3 endpoint ${store.endpoint} (path-style), region ${region}`);
  io.out(`access key ${accessKeyId}`);
  io.out(`secret key ${secretAccessKey}`);
  io.out(`data ${path.resolve(dir)}`);
  return store;
}

/** `stowage s3`-style runner: starts the store and serves until SIGINT/SIGTERM, then closes gracefully. Exit code. */
export async function runObjectStoreCli(argv: string[], io?: CliIo): Promise<number> {
  let store: ObjectStore;
  try {
    store = await startFromArgv(argv, io);
  } catch (e) {
    (io?.err ?? console.error)((e as Error).message);
    return 2;
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await store.close();
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  process.exitCode = await runObjectStoreCli(process.argv.slice(2));
}
