// Edge GET throughput vs reading directly from the store (S3 GetObject), measured in the same run:
//   1. one large file (256 MiB; 64 MiB with --quick), MiB/s, streamed and discarded on both sides;
//   2. 10,000 small-file requests (2,000 with --quick) at 32 in flight, req/s.
// Store: Ceph RGW when RGW_ENDPOINT (or S3_ENDPOINT) and credentials are set, else the embedded object store.
// Runnable alone: `node --import tsx bench/edge.ts [--quick]`.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createEdgeSigner } from '../src/cdn/edge.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { EdgeOptions } from '../src/edge/server.ts';
import { BenchSkip, result, type BenchOptions, type BenchResult } from './lib/types.ts';

const MiB = 1024 * 1024;
const CONCURRENCY = 32;

interface Store {
  name: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

async function openStore(log: (m: string) => void): Promise<Store> {
  const e = process.env;
  const endpoint = e.RGW_ENDPOINT ?? e.S3_ENDPOINT;
  const accessKeyId = e.RGW_ENDPOINT ? e.RGW_ACCESS_KEY_ID : e.AWS_ACCESS_KEY_ID;
  const secretAccessKey = e.RGW_ENDPOINT ? e.RGW_SECRET_ACCESS_KEY : e.AWS_SECRET_ACCESS_KEY;
  if (endpoint && accessKeyId && secretAccessKey) {
    return { name: 'Ceph RGW', endpoint, credentials: { accessKeyId, secretAccessKey }, close: async () => {} };
  }
  const p = resolve('src', 'objectstore', 'index.ts');
  const p2 = resolve('src', 'objectstore', 'server.ts');
  for (const f of [p, p2]) {
    if (!existsSync(f)) continue;
    const mod = (await import(pathToFileURL(f).href)) as {
      startObjectStore?: (o: { dir: string; credentials: { accessKeyId: string; secretAccessKey: string }[] }) => Promise<{ endpoint: string; close(): Promise<void> }>;
    };
    if (typeof mod.startObjectStore !== 'function') continue;
    const dir = mkdtempSync(join(tmpdir(), 'stowage-bench-edge-'));
    const credentials = { accessKeyId: 'BENCHEDGE', secretAccessKey: 'bench-edge-secret-key' };
    const os = await mod.startObjectStore({ dir, credentials: [credentials] });
    log(`embedded object store at ${os.endpoint}`);
    return {
      name: 'embedded object store',
      endpoint: os.endpoint,
      credentials,
      async close() {
        await os.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new BenchSkip('no S3 store: set RGW_ENDPOINT + RGW_ACCESS_KEY_ID + RGW_SECRET_ACCESS_KEY (or S3_ENDPOINT + AWS_*), or land src/objectstore');
}

async function* pattern(size: number): AsyncGenerator<Buffer> {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 131 + 17) & 0xff;
  let left = size;
  while (left > 0) {
    const n = Math.min(left, block.length);
    yield n === block.length ? block : block.subarray(0, n);
    left -= n;
  }
}

/**
 * Starts the edge as production runs it: `stowage edge` (bin/stowage.mjs, the bundled build) in its own process,
 * configured by flags and environment (BENCH_EDGE_INPROCESS=1: `startEdge` in this process). Resolves with its URL.
 * (Running the TypeScript sources through tsx instead doubled the edge's CPU per byte: the loader's heap made every
 * major GC — frequent while Buffers stream through — several times dearer.)
 */
async function startEdgeProcess(opts: EdgeOptions & { s3: { credentials: { accessKeyId: string; secretAccessKey: string } } }): Promise<{ url: string; child?: ChildProcess; close(): Promise<void> }> {
  if (process.env.BENCH_EDGE_INPROCESS === '1') {
    const { startEdge } = await import('../src/edge/server.ts');
    const e = await startEdge(opts);
    return { url: e.url, close: () => e.close() };
  }
  const keyDir = mkdtempSync(join(tmpdir(), 'stowage-bench-edge-keys-'));
  const keyArgs = Object.entries(opts.publicKeys).flatMap(([id, pem], i) => {
    const file = join(keyDir, `key-${i}.pem`);
    writeFileSync(file, pem);
    return ['--key', `${id}=${file}`];
  });
  const child = spawn(process.execPath, ['--no-memory-reducer', resolve('bin', 'stowage.mjs'), 'edge', '--host', '127.0.0.1', '--port', '0', ...keyArgs], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      S3_ENDPOINT: opts.s3.endpoint,
      S3_REGION: opts.s3.region ?? 'us-east-1',
      S3_BUCKET: opts.s3.bucket,
      S3_ACCESS_KEY_ID: opts.s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: opts.s3.credentials.secretAccessKey,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => rej(new Error('stowage edge did not start within 60 s')), 60_000);
    rl.on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`stowage edge exited with ${code}`));
    });
  });
  return {
    url,
    child,
    close: () =>
      new Promise<void>((res) => {
        const done = () => {
          rmSync(keyDir, { recursive: true, force: true });
          res();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}

/** GET through node:http, discarding the body; resolves with the byte count. */
function httpGet(url: string, agent: Agent): Promise<number> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { agent }, (r) => {
      if (r.statusCode !== 200) {
        r.resume();
        rej(new Error(`edge answered ${r.statusCode}`));
        return;
      }
      let n = 0;
      r.on('data', (c: Buffer) => (n += c.length));
      r.on('end', () => res(n));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end();
  });
}

async function s3Get(client: S3Client, bucket: string, key: string): Promise<number> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  let n = 0;
  for await (const c of out.Body as Readable) n += (c as Buffer).length;
  return n;
}

async function pool(total: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const bigSize = (opts.quick ? 64 : 256) * MiB;
  const reps = opts.quick ? 3 : 5;
  const smallRequests = opts.quick ? 2_000 : 10_000;
  const smallObjects = 200;
  const smallSize = 4 * 1024;

  const store = await openStore(log);
  const httpAgent = new Agent({ keepAlive: true, maxSockets: 256 });
  const client = new S3Client({
    endpoint: store.endpoint,
    region: 'us-east-1',
    credentials: store.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent },
  });
  const bucket = `bench-edge-${randomUUID().slice(0, 8)}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const keyPairId = 'KBENCHEDGE0001';
  let edge: Awaited<ReturnType<typeof startEdgeProcess>> | undefined;
  const clientAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const bigKey = 'workspaces/bench/files/big.bin';
    log(`edge bench on ${store.name}: uploading ${bigSize / MiB} MiB and ${smallObjects} × ${smallSize} B`);
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: bigKey, Body: Readable.from(pattern(bigSize)), ContentLength: bigSize, ContentType: 'application/octet-stream' }),
    );
    const smallKeys = Array.from({ length: smallObjects }, (_, i) => `workspaces/bench/files/small-${i}.png`);
    const smallBody = Buffer.alloc(smallSize, 7);
    await pool(smallKeys.length, 16, (i) =>
      client.send(new PutObjectCommand({ Bucket: bucket, Key: smallKeys[i]!, Body: smallBody, ContentType: 'image/png' })),
    );

    edge = await startEdgeProcess({
      s3: { endpoint: store.endpoint, region: 'us-east-1', credentials: store.credentials, bucket },
      publicKeys: { [keyPairId]: publicKey },
    });
    const signer = createEdgeSigner({ baseUrl: edge.url, keyPairId, privateKey });
    const now = new Date();
    const sign = (key: string) => signer.signSync({ key, filename: key.split('/').pop()!, contentType: 'image/png', ttlSeconds: 3600, now }).url;
    const bigUrl = sign(bigKey);
    const smallUrls = smallKeys.map(sign);

    // Warm both paths (JIT, socket buffers, the edge's young generation growing to its working size).
    for (let i = 0; i < 3; i++) {
      if ((await httpGet(bigUrl, clientAgent)) !== bigSize) throw new Error('edge returned a short body');
      if ((await s3Get(client, bucket, bigKey)) !== bigSize) throw new Error('store returned a short body');
    }

    const edgeBig: number[] = [];
    const storeBig: number[] = [];
    for (let r = 0; r < reps; r++) {
      let t = performance.now();
      await s3Get(client, bucket, bigKey);
      storeBig.push(bigSize / MiB / ((performance.now() - t) / 1000));
      t = performance.now();
      await httpGet(bigUrl, clientAgent);
      edgeBig.push(bigSize / MiB / ((performance.now() - t) / 1000));
    }
    log(`large: edge ${median(edgeBig).toFixed(0)} MiB/s, store ${median(storeBig).toFixed(0)} MiB/s`);

    await pool(500, CONCURRENCY, (i) => httpGet(smallUrls[i % smallObjects]!, clientAgent));
    await pool(500, CONCURRENCY, (i) => s3Get(client, bucket, smallKeys[i % smallObjects]!));
    const storeSecs = await pool(smallRequests, CONCURRENCY, (i) => s3Get(client, bucket, smallKeys[i % smallObjects]!));
    const edgeSecs = await pool(smallRequests, CONCURRENCY, (i) => httpGet(smallUrls[i % smallObjects]!, clientAgent));
    log(`small: edge ${(smallRequests / edgeSecs).toFixed(0)} req/s, store ${(smallRequests / storeSecs).toFixed(0)} req/s`);

    return [
      result({
        figure: `edge GET ${bigSize / MiB} MiB file`,
        stowage: median(edgeBig),
        baseline: median(storeBig),
        unit: 'MiB/s',
        target: 0.8,
        baselineName: `S3 GetObject from ${store.name} (SDK, streamed)`,
        note: `median of ${reps}; the edge runs in its own process (\`stowage edge\`, the bundled build), verifies the signature, then streams GetObject → response`,
      }),
      result({
        figure: `edge GET ${smallRequests} small files @${CONCURRENCY}`,
        stowage: smallRequests / edgeSecs,
        baseline: smallRequests / storeSecs,
        unit: 'req/s',
        target: 0.5,
        baselineName: `S3 GetObject from ${store.name} (SDK, keep-alive)`,
        note: `${smallObjects} objects × ${smallSize} B; the edge path is client → edge (RSA verify) → store, one more hop`,
      }),
    ];
  } finally {
    await edge?.close();
    try {
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        const objs = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (!objs.length) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (err) {
      log(`cleanup of ${bucket} failed: ${(err as Error).message}`);
    }
    client.destroy();
    httpAgent.destroy();
    clientAgent.destroy();
    await store.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  run({ quick })
    .then((rows) => {
      console.table(rows.map((r) => ({ figure: r.figure, stowage: r.stowage?.toFixed(1), baseline: r.baseline?.toFixed(1), unit: r.unit, ratio: r.ratio?.toFixed(2), target: r.target, pass: r.pass })));
    })
    .catch((err) => {
      console.error(err instanceof BenchSkip ? `skipped: ${err.message}` : err);
      process.exitCode = err instanceof BenchSkip ? 0 : 1;
    });
}
