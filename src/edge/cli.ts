// `stowage edge`: the local CDN edge as a standalone process (self-hosted setups behind nginx).
//
// Environment (flags override):
//   EDGE_HOST (127.0.0.1) / --host, EDGE_PORT (8788) / --port
//   EDGE_PUBLIC_URL or CDN_BASE_URL / --public-url   the base URL the download URLs are signed for
//   EDGE_TRUST_PROXY=true / --trust-proxy           honour X-Forwarded-* (only behind your own proxy)
//   S3_ENDPOINT, S3_BUCKET (stowage), S3_REGION (us-east-1), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
//   S3_FORCE_PATH_STYLE (true)
//   Public keys, any of:
//     EDGE_PUBLIC_KEYS="KID1=/path/pub1.pem,KID2=/path/pub2.pem"  / --key KID=/path.pem (repeatable)
//     CLOUDFRONT_KEY_PAIR_ID + CLOUDFRONT_PUBLIC_KEY (PEM) or CLOUDFRONT_PUBLIC_KEY_FILE
//     otherwise the key pair in STOWAGE_DATA_DIR (.stowage) is used, created if missing.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureEdgeKeyPair } from './keys.ts';
import { startEdge, type EdgeHandle, type EdgeOptions } from './server.ts';

export const EDGE_USAGE = `Usage: stowage edge [--host H] [--port P] [--public-url URL] [--key KID=PEMFILE ...] [--trust-proxy]

Serves CloudFront-format signed URLs and cookies from the S3 bucket (S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID,
S3_SECRET_ACCESS_KEY). Keys: --key / EDGE_PUBLIC_KEYS / CLOUDFRONT_KEY_PAIR_ID + CLOUDFRONT_PUBLIC_KEY(_FILE), else
the key pair in STOWAGE_DATA_DIR.`;

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function parseKeyList(list: string[], problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push(`key "${item}" must look like KID=/path/to/public.pem`);
      continue;
    }
    const id = item.slice(0, eq).trim();
    const file = item.slice(eq + 1).trim();
    try {
      out[id] = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`cannot read public key ${file} for ${id}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Builds EdgeOptions from argv + environment; throws one Error naming every problem. */
export async function edgeOptionsFrom(argv: string[], env: Env = process.env): Promise<EdgeOptions> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'public-url': { type: 'string' },
      key: { type: 'string', multiple: true },
      'trust-proxy': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) throw Object.assign(new Error(EDGE_USAGE), { usage: true });
  const problems: string[] = [];
  const portText = values.port ?? nonEmpty(env.EDGE_PORT) ?? '8788';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) problems.push(`EDGE_PORT/--port must be 0-65535, got "${portText}"`);
  const publicUrl = values['public-url'] ?? nonEmpty(env.EDGE_PUBLIC_URL) ?? nonEmpty(env.CDN_BASE_URL);
  if (publicUrl) {
    try {
      new URL(publicUrl);
    } catch {
      problems.push(`EDGE_PUBLIC_URL/--public-url must be a URL, got "${publicUrl}"`);
    }
  }
  const endpoint = nonEmpty(env.S3_ENDPOINT);
  if (!endpoint) problems.push('S3_ENDPOINT is required');
  const accessKeyId = nonEmpty(env.S3_ACCESS_KEY_ID) ?? nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.S3_SECRET_ACCESS_KEY) ?? nonEmpty(env.AWS_SECRET_ACCESS_KEY);

  let publicKeys: Record<string, string> = {};
  const keyList = [...(values.key ?? []), ...(nonEmpty(env.EDGE_PUBLIC_KEYS)?.split(',') ?? [])].filter((s) => s.trim());
  if (keyList.length > 0) publicKeys = parseKeyList(keyList, problems);
  const cfId = nonEmpty(env.CLOUDFRONT_KEY_PAIR_ID);
  if (cfId) {
    const inline = nonEmpty(env.CLOUDFRONT_PUBLIC_KEY);
    const file = nonEmpty(env.CLOUDFRONT_PUBLIC_KEY_FILE);
    if (inline) publicKeys[cfId] = inline.replace(/\\n/g, '\n');
    else if (file) Object.assign(publicKeys, parseKeyList([`${cfId}=${file}`], problems));
    else if (keyList.length === 0) problems.push('CLOUDFRONT_KEY_PAIR_ID needs CLOUDFRONT_PUBLIC_KEY or CLOUDFRONT_PUBLIC_KEY_FILE');
  }
  if (problems.length > 0) throw new Error('Invalid edge configuration:\n' + problems.map((p) => `  - ${p}`).join('\n'));
  if (Object.keys(publicKeys).length === 0) {
    const pair = await ensureEdgeKeyPair(nonEmpty(env.STOWAGE_DATA_DIR) ?? '.stowage');
    publicKeys[pair.keyPairId] = pair.publicKeyPem;
  }
  const trust = values['trust-proxy'] ?? ['1', 'true', 'yes', 'on'].includes((env.EDGE_TRUST_PROXY ?? '').toLowerCase());
  return {
    host: values.host ?? nonEmpty(env.EDGE_HOST) ?? '127.0.0.1',
    port,
    publicUrl,
    trustProxy: trust,
    publicKeys,
    s3: {
      endpoint,
      region: nonEmpty(env.S3_REGION) ?? 'us-east-1',
      bucket: nonEmpty(env.S3_BUCKET) ?? 'stowage',
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      forcePathStyle: !['0', 'false', 'no', 'off'].includes((env.S3_FORCE_PATH_STYLE ?? '').toLowerCase()),
    },
  };
}

const stderrLogger = {
  warn: (o: object, m?: string) => console.error(m ?? '', JSON.stringify(o)),
  error: (o: object, m?: string) => console.error(m ?? '', JSON.stringify(o)),
};

/** Starts the edge from argv/env and returns the handle (the caller decides how long to run). */
export async function startEdgeFromCli(argv: string[], env: Env = process.env): Promise<EdgeHandle & { keyPairIds: string[] }> {
  const opts = await edgeOptionsFrom(argv, env);
  const edge = await startEdge({ ...opts, logger: stderrLogger });
  return Object.assign(edge, { keyPairIds: Object.keys(opts.publicKeys) });
}

/** `stowage edge` entry point: runs until SIGINT/SIGTERM. Returns the exit code. */
export async function edgeCli(argv: string[], env: Env = process.env): Promise<number> {
  let edge: EdgeHandle & { keyPairIds: string[] };
  try {
    edge = await startEdgeFromCli(argv, env);
  } catch (err) {
    console.error((err as Error).message);
    return (err as { usage?: boolean }).usage ? 0 : 1;
  }
  console.log(`stowage edge listening on ${edge.url} (key pair ids: ${edge.keyPairIds.join(', ')})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await edge.close();
  return 0;
}
