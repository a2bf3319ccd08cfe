// Embedded object store throughput: one 256 MiB PUT and GET through node:http, against — in the same run — a bare
// node:http server that streams the body through MD5 into a file (PUT) and one that streams a file out (GET), and
// against Ceph RGW when RGW_ENDPOINT is set. Targets: ≥ 0.8× the bare baselines, faster than RGW, and the store's peak
// RSS does not grow with object size (peak after 256 MiB ≈ peak after 16 MiB).
//
//   node --import tsx bench/objectstore.ts [--quick]        (alone)   ·   npm run bench -- objectstore
//
// Servers run in child processes (one for the baselines, one for the store) so they do not share the load
// generator's event loop; the client streams a 1 MiB buffer repeatedly and discards what it reads.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { result, skipped, type BenchOptions, type BenchResult } from './lib/types.ts';

const MiB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------------- child processes
async function childMain(mode: string, dir: string, accessKeyId: string, secretAccessKey: string): Promise<void> {
  if (mode === 'baseline') {
    const file = path.join(dir, 'baseline.bin');
    const put = http.createServer((req, res) => {
      const md5 = createHash('md5');
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          md5.update(chunk);
          cb(null, chunk);
        },
      });
      pipeline(req, hashing, createWriteStream(file)).then(
        () => res.writeHead(200, { ETag: `"${md5.digest('hex')}"` }).end(),
        () => res.writeHead(500).end(),
      );
    });
    const get = http.createServer((req, res) => {
      fsp.stat(file).then((st) => {
        res.writeHead(200, { 'Content-Length': String(st.size) });
        pipeline(createReadStream(file), res).catch(() => res.destroy());
      }, () => res.writeHead(404).end());
    });
    put.requestTimeout = 0;
    await new Promise<void>((r) => put.listen(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => get.listen(0, '127.0.0.1', () => r()));
    process.stdout.write(`READY http://127.0.0.1:${(put.address() as AddressInfo).port} http://127.0.0.1:${(get.address() as AddressInfo).port}\n`);
  } else {
    const { startObjectStore } = await import('../src/objectstore/index.ts');
    const store = await startObjectStore({ dir, credentials: [{ accessKeyId, secretAccessKey }] });
    process.stdout.write(`READY ${store.endpoint}\n`);
    process.once('SIGTERM', () => void store.close().finally(() => process.exit(0)));
  }
  process.once('SIGTERM', () => process.exit(0));
}

function startChild(mode: string, dir: string, creds: { accessKeyId: string; secretAccessKey: string }): Promise<{ child: ChildProcess; urls: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', mode, dir, creds.accessKeyId, creds.secretAccessKey], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /READY (.*)\n/.exec(out);
      if (m) resolve({ child, urls: m[1].split(' ') });
    });
    child.once('exit', (code) => reject(new Error(`${mode} child exited with ${code}`)));
  });
}

function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}
// ---------------------------------------------------------------------------------------------------- client
const CHUNK = randomBytes(MiB);

async function timedPut(url: string, bytes: number, headers: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(bytes) }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${url.split('?')[0]} answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    let left = bytes;
    const write = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
  return bytes / MiB / ((performance.now() - t0) / 1000);
}

async function timedGet(url: string, bytes: number): Promise<number> {
  const t0 = performance.now();
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.on('data', (c: Buffer) => (got += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET answered ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  if (got !== bytes) throw new Error(`GET returned ${got} bytes, expected ${bytes}`);
  return bytes / MiB / ((performance.now() - t0) / 1000);
}

function s3client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1'): S3Client {
  return new S3Client({ endpoint, region, credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

interface S3Side {
  name: string;
  put(bytes: number): Promise<number>;
  get(bytes: number): Promise<number>;
  cleanup(): Promise<void>;
}

async function s3Side(name: string, endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }, region: string): Promise<S3Side> {
  const client = s3client(endpoint, creds, region);
  const bucket = `bench-os-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const key = 'object.bin';
  return {
    name,
    async put(bytes) {
      const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 3600 });
      return timedPut(url, bytes);
    },
    async get(bytes) {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 3600 });
      return timedGet(url, bytes);
    },
    async cleanup() {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
      client.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------- the benchmark
export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const size = 256 * MiB;
  const rounds = opts.quick ? 1 : 5;
  const root = await fsp.mkdtemp(path.join(tmpdir(), 'stowage-bench-os-'));
  const creds = { accessKeyId: 'AKIABENCH' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(20).toString('hex') };
  const children: ChildProcess[] = [];
  const sides: S3Side[] = [];
  try {
    await fsp.mkdir(path.join(root, 'baseline'));
    await fsp.mkdir(path.join(root, 'store'));
    const base = await startChild('baseline', path.join(root, 'baseline'), creds);
    const store = await startChild('store', path.join(root, 'store'), creds);
    children.push(base.child, store.child);
    const [basePut, baseGet] = base.urls;
    const stowage = await s3Side('stowage', store.urls[0], creds, 'us-east-1');
    sides.push(stowage);
    const e = process.env;
    let rgw: S3Side | undefined;
    if (e.RGW_ENDPOINT && e.RGW_ACCESS_KEY_ID && e.RGW_SECRET_ACCESS_KEY) {
      rgw = await s3Side('rgw', e.RGW_ENDPOINT, { accessKeyId: e.RGW_ACCESS_KEY_ID, secretAccessKey: e.RGW_SECRET_ACCESS_KEY }, e.RGW_REGION ?? 'us-east-1');
      sides.push(rgw);
    }
    // warm-up with a 16 MiB object; the store's peak RSS after it is the reference for "memory stays flat"
    await timedPut(basePut, 16 * MiB);
    await timedGet(baseGet, 16 * MiB);
    await stowage.put(16 * MiB);
    await stowage.get(16 * MiB);
    const rssSmall = peakRssMiB(store.child.pid!);
    // Alternate who goes first each round (load drift on a shared machine hits both sides alike); report medians.
    const m = { basePut: [] as number[], baseGet: [] as number[], put: [] as number[], get: [] as number[], rgwPut: [] as number[], rgwGet: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      log(`round ${r + 1}/${rounds}: 256 MiB PUT/GET (baseline, stowage${rgw ? ', rgw' : ''})`);
      const order = r % 2 === 0 ? ['base', 'stowage', 'rgw'] : ['rgw', 'stowage', 'base'];
      for (const who of order) {
        if (who === 'base') m.basePut.push(await timedPut(basePut, size));
        if (who === 'stowage') m.put.push(await stowage.put(size));
        if (who === 'rgw' && rgw) m.rgwPut.push(await rgw.put(size));
      }
      for (const who of order) {
        if (who === 'base') m.baseGet.push(await timedGet(baseGet, size));
        if (who === 'stowage') m.get.push(await stowage.get(size));
        if (who === 'rgw' && rgw) m.rgwGet.push(await rgw.get(size));
      }
      const last = (a: number[]) => (a.length ? a[a.length - 1].toFixed(0) : '-');
      log(`  PUT MiB/s: baseline ${last(m.basePut)}, stowage ${last(m.put)}${rgw ? `, rgw ${last(m.rgwPut)}` : ''}; GET MiB/s: baseline ${last(m.baseGet)}, stowage ${last(m.get)}${rgw ? `, rgw ${last(m.rgwGet)}` : ''}`);
    }
    const median = (a: number[]) => {
      const s = [...a].sort((x, y) => x - y);
      return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
    };
    const best = { basePut: median(m.basePut), baseGet: median(m.baseGet), put: median(m.put), get: median(m.get), rgwPut: median(m.rgwPut), rgwGet: median(m.rgwGet) };
    const rssBig = peakRssMiB(store.child.pid!);
    const note = `median of ${rounds} alternating rounds; servers in child processes; client streams a 1 MiB buffer`;
    const out: BenchResult[] = [
      result({ figure: 'PUT 256 MiB', stowage: best.put, baseline: best.basePut, unit: 'MiB/s', target: 0.8, baselineName: 'bare node:http → MD5 → file', note }),
      result({ figure: 'GET 256 MiB', stowage: best.get, baseline: best.baseGet, unit: 'MiB/s', target: 0.8, baselineName: 'bare node:http file → response', note }),
    ];
    if (rgw) {
      out.push(result({ figure: 'PUT 256 MiB vs RGW', stowage: best.put, baseline: best.rgwPut, unit: 'MiB/s', target: 1, baselineName: 'Ceph RGW 16 (presigned PUT)', note }));
      out.push(result({ figure: 'GET 256 MiB vs RGW', stowage: best.get, baseline: best.rgwGet, unit: 'MiB/s', target: 1, baselineName: 'Ceph RGW 16 (presigned GET)', note }));
    } else {
      out.push(skipped('PUT 256 MiB vs RGW', 'MiB/s', 'RGW_ENDPOINT not set', 1), skipped('GET 256 MiB vs RGW', 'MiB/s', 'RGW_ENDPOINT not set', 1));
    }
    out.push(
      result({
        figure: 'store peak RSS, 256 MiB vs 16 MiB object',
        stowage: rssBig,
        baseline: rssSmall,
        unit: 'MiB',
        target: 1.25,
        better: 'lower',
        baselineName: 'same process after 16 MiB PUT+GET',
        note: 'VmHWM of the store process; flat memory means the ratio stays ≈ 1',
      }),
    );
    return out;
  } finally {
    for (const s of sides) await s.cleanup().catch(() => {});
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    await fsp.rm(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------- entry points
const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  void childMain(argv[1], argv[2], argv[3], argv[4]);
} else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  const rows = await run({ quick: argv.includes('--quick') });
  for (const r of rows) {
    const ratio = r.ratio === null ? '' : ` ratio ${r.ratio.toFixed(2)} (target ${r.better === 'lower' ? '≤' : '≥'} ${r.target})`;
    console.log(`${r.figure}: ${r.skipped ? `skipped (${r.skipped})` : `stowage ${r.stowage!.toFixed(1)} ${r.unit} vs ${r.baseline?.toFixed(1)} ${r.unit} (${r.baselineName})${ratio} ${r.pass ? 'PASS' : r.pass === false ? 'FAIL' : ''}`}`);
  }
}
