// The embedded object store under hostile input: malformed SigV4, truncated aws-chunked bodies, bad XML, path tricks
// in keys and bucket names. Nothing escapes the data directory, nothing crashes, every refusal is an S3 XML error.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startObjectStore, type ObjectStore } from '../../src/objectstore/index.ts';
import { makeS3Client } from '../helpers/s3-targets.ts';
import { EMPTY_SHA, errorCode, killedRequest, rawRequest, sign, signedChunks } from '../objectstore/raw-s3.ts';
import { recordSoakCounts } from '../soak/counts.ts';

const sha256 = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
const credentials = { accessKeyId: 'AKIAHOSTILE0001', secretAccessKey: randomBytes(20).toString('hex') };

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

describe('embedded object store: hostile input', () => {
  let parent: string;
  let dataDir: string;
  let store: ObjectStore;
  let client: S3Client;
  const bucket = 'hostile-bucket';
  let cases = 0;
  let checks = 0;
  const sentinelBody = 'do not touch';

  beforeAll(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'stowage-hostile-'));
    dataDir = path.join(parent, 'data');
    await writeFile(path.join(parent, 'sentinel.txt'), sentinelBody);
    store = await startObjectStore({ dir: dataDir, credentials: [credentials], maxObjectSize: 10 * 1024 * 1024 });
    client = makeS3Client(store.endpoint, 'us-east-1', credentials);
    const s = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'PUT', path: `/${bucket}`, payloadHash: EMPTY_SHA });
    expect((await rawRequest(s.url, 'PUT', s.headers)).status).toBe(200);
  });
  afterAll(async () => {
    recordSoakCounts('objectstore-hostile', { cases, checks, violations: 0 });
    client?.destroy();
    await store?.close();
    await rm(parent, { recursive: true, force: true });
  });

  /** The store still answers a normal signed request. */
  async function alive(): Promise<void> {
    checks++;
    const key = `alive-${randomBytes(4).toString('hex')}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'ok' }));
    const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await g.Body!.transformToString()).toBe('ok');
  }

  function refusal(r: { status: number; body: string }, what: string): void {
    cases++;
    expect(r.status, `${what}: ${r.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
    expect(r.status, `${what}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
    if (r.body) expect(errorCode(r.body), `${what}: ${r.body.slice(0, 200)}`).toBeTruthy();
  }

  test('malformed SigV4 Authorization headers and presigned queries are refused', async () => {
    const good = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'GET', path: `/${bucket}/x`, payloadHash: EMPTY_SHA });
    const variants: Record<string, string>[] = [
      { authorization: 'AWS4-HMAC-SHA256' },
      { authorization: 'AWS4-HMAC-SHA256 ' },
      { authorization: 'AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=' },
      { authorization: good.headers.authorization!.replace(/Signature=[0-9a-f]+/, 'Signature=zz') },
      { authorization: good.headers.authorization!.replace(/Signature=[0-9a-f]+/, 'Signature=' + 'a'.repeat(64)) },
      { authorization: good.headers.authorization!.replace(/Signature=[0-9a-f]+/, 'Signature=' + 'a'.repeat(5000)) },
      { authorization: good.headers.authorization!.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=') },
      { authorization: good.headers.authorization!.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date') },
      { authorization: good.headers.authorization!.replace(/Credential=[^,]+/, 'Credential=AKIAHOSTILE0001/../../etc/aws4_request') },
      { authorization: good.headers.authorization!.replace(/Credential=[^,]+/, 'Credential=AKIAHOSTILE0001') },
      { authorization: good.headers.authorization!.replace(/Credential=[^,]+/, 'Credential=NOPE/20200101/us-east-1/s3/aws4_request') },
      { authorization: good.headers.authorization!.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1') },
      { authorization: good.headers.authorization!.replace('AWS4-HMAC-SHA256', 'AWS') },
      { authorization: 'AWS AKIAHOSTILE0001:c2lnbmF0dXJl' },
      { authorization: good.headers.authorization! + ', Signature=' + 'b'.repeat(64) },
      { authorization: good.headers.authorization!, 'x-amz-date': 'not-a-date' },
      { authorization: good.headers.authorization!, 'x-amz-date': '99991231T235959Z' },
      { authorization: good.headers.authorization!, 'x-amz-content-sha256': 'zz' },
      { authorization: `${good.headers.authorization!}\u00ff` },
    ];
    for (const v of variants) {
      const r = await rawRequest(good.url, 'GET', { ...good.headers, ...v });
      refusal(r, JSON.stringify(v).slice(0, 120));
    }
    const u = new URL(`${store.endpoint}/${bucket}/x`);
    for (const q of [
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=b&X-Amz-Expires=c&X-Amz-SignedHeaders=host&X-Amz-Signature=d',
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${credentials.accessKeyId}%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=${'a'.repeat(64)}`,
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${credentials.accessKeyId}%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=${'a'.repeat(64)}`,
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=a&X-Amz-Signature=b`,
    ]) {
      const r = await rawRequest(`${u.href}?${q}`, 'GET', {});
      refusal(r, q.slice(0, 80));
    }
    await alive();
  });

  test('truncated and corrupt aws-chunked bodies store nothing', async () => {
    const data = randomBytes(200 * 1024);
    const mk = (key: string) =>
      sign({
        endpoint: store.endpoint,
        region: 'us-east-1',
        credentials,
        method: 'PUT',
        path: `/${bucket}/${key}`,
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) },
        payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      });
    const bodies: [string, (b: Buffer) => Buffer][] = [
      ['cut in the middle of a chunk', (b) => b.subarray(0, Math.floor(b.length / 2))],
      ['no final chunk', (b) => b.subarray(0, b.length - 90)],
      ['chunk size not hex', (b) => Buffer.concat([Buffer.from('zz;chunk-signature=' + 'a'.repeat(64) + '\r\n'), b])],
      ['huge chunk size', (b) => Buffer.concat([Buffer.from('ffffffffffff;chunk-signature=' + 'a'.repeat(64) + '\r\n'), b.subarray(0, 100)])],
      ['missing CRLF', (b) => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1')],
      ['garbage', () => randomBytes(5000)],
      ['empty', () => Buffer.alloc(0)],
    ];
    for (const [name, cut] of bodies) {
      const key = `chunked-${name.replace(/\W+/g, '-')}`;
      const s = mk(key);
      const full = signedChunks(data, 64 * 1024, s);
      const body = cut(full);
      const r = await rawRequest(s.url, 'PUT', { ...s.headers, 'content-length': String(body.length) }, body);
      refusal(r, name);
      const head = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'HEAD', path: `/${bucket}/${key}`, payloadHash: EMPTY_SHA });
      expect((await rawRequest(head.url, 'HEAD', head.headers)).status, name).toBe(404);
    }
    // A tampered chunk (signature mismatch on chunk 2).
    const s = mk('chunked-tampered');
    const tampered = signedChunks(data, 64 * 1024, s, (chunks) => (chunks[1]![0] ^= 1));
    refusal(await rawRequest(s.url, 'PUT', { ...s.headers, 'content-length': String(tampered.length) }, tampered), 'tampered chunk');
    // A client that disconnects halfway through a declared body.
    for (let i = 0; i < 5; i++) {
      const k = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'PUT', path: `/${bucket}/killed-${i}`, payloadHash: 'UNSIGNED-PAYLOAD' });
      await killedRequest(k.url, 'PUT', { ...k.headers, 'content-length': String(1024 * 1024) }, 1000 + i * 50_000);
      cases++;
    }
    await alive();
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'killed-' }));
    expect(list.KeyCount ?? 0).toBe(0);
    const tmpFiles = await readdir(path.join(dataDir, 'tmp')).catch(() => []);
    expect(tmpFiles.length).toBeLessThanOrEqual(5); // temp files of aborted writes are removed (allow in-flight cleanup)
  });

  test('bad XML bodies (malformed, entity bombs, huge, wrong roots) are refused', async () => {
    const create = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'POST', path: `/${bucket}/mpu`, query: { uploads: '' }, payloadHash: EMPTY_SHA });
    const cr = await rawRequest(create.url, 'POST', create.headers);
    expect(cr.status).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(cr.body)![1]!;
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&lol5;</ETag></Part></CompleteMultipartUpload>`;
    const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://${path.join(parent, 'sentinel.txt')}">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&e;</ETag></Part></CompleteMultipartUpload>`;
    const xmls = [
      '<CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>',
      '<<<>>>',
      'not xml at all',
      '',
      bomb,
      xxe,
      `<CompleteMultipartUpload>${'<Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part>'.repeat(10_001)}</CompleteMultipartUpload>`,
      `<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`,
      `<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`,
      `<CompleteMultipartUpload><Part><PartNumber>__proto__</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`,
      `<__proto__><polluted>1</polluted></__proto__>`,
      `${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}`,
    ];
    for (const xml of xmls) {
      const body = Buffer.from(xml);
      const s = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'POST', path: `/${bucket}/mpu`, query: { uploadId }, payloadHash: sha256(body) });
      const r = await rawRequest(s.url, 'POST', { ...s.headers, 'content-length': String(body.length) }, body);
      refusal(r, `complete with ${xml.slice(0, 60)}`);
      expect(r.body).not.toContain(sentinelBody);
      const d = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'POST', path: `/${bucket}`, query: { delete: '' }, headers: { 'content-md5': createHash('md5').update(body).digest('base64') }, payloadHash: sha256(body) });
      const dr = await rawRequest(d.url, 'POST', { ...d.headers, 'content-length': String(body.length) }, body);
      refusal(dr, `delete with ${xml.slice(0, 60)}`);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await alive();
  });

  test('path tricks in keys and bucket names never leave the data directory', async () => {
    const body = Buffer.from('payload');
    const keys = ['../escape-1', '../../escape-2', 'a/../../../escape-3', '..', '.', './x', '..\\..\\escape-4', '/abs/escape-5', '%2e%2e/escape-6', 'x/%2e%2e/%2e%2e/escape-7', 'nul\u0000key', 'k'.repeat(1024), 'k'.repeat(1025), 'k'.repeat(5000), 'é/ü/😀', 'a//b', 'CON', 'x'.repeat(255) + '/' + 'y'.repeat(255)];
    const accepted: string[] = [];
    for (const key of keys) {
      cases++;
      const s = sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'PUT', path: `/${bucket}/${key}`, payloadHash: sha256(body) });
      let r: { status: number; body: string };
      try {
        r = await rawRequest(s.url, 'PUT', { ...s.headers, 'content-length': String(body.length) }, body);
      } catch (err) {
        // Node's HTTP client refuses some paths (e.g. NUL) before sending: nothing reached the store.
        expect(String(err)).toMatch(/ERR_UNESCAPED_CHARACTERS|Request path contains unescaped characters|Invalid/);
        continue;
      }
      expect(r.status, `${JSON.stringify(key.slice(0, 50))}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
      if (r.status === 200) accepted.push(key);
    }
    // Raw paths the SigV4 helper would normalise: sent exactly as given (refused or stored as opaque keys, never files).
    for (const rawPath of [`/${bucket}/..%2f..%2fraw-escape`, `/${bucket}/%2e%2e%2f%2e%2e%2fraw-escape2`, `/..%2f..%2f/raw-bucket`, `/%2e%2e/raw-escape3`, `/${bucket}/%00`, `/${bucket}/%ff%fe`]) {
      cases++;
      const r = await rawRequest(`${store.endpoint}${rawPath}`, 'PUT', { 'content-length': '7' }, body);
      expect(r.status, rawPath).toBeGreaterThanOrEqual(400);
      expect(r.status, rawPath).toBeLessThan(500);
    }
    // Bucket names with path tricks.
    for (const b of ['..', '%2e%2e', 'a%2fb', '.', 'tmp', 'buckets', '-bad', 'x'.repeat(64)]) {
      cases++;
      const r = await rawRequest(`${store.endpoint}/${b}`, 'PUT', sign({ endpoint: store.endpoint, region: 'us-east-1', credentials, method: 'PUT', path: `/${decodeURIComponent(b)}`, payloadHash: EMPTY_SHA }).headers);
      expect(r.status, b).toBeLessThan(500);
      if (['..', '%2e%2e', 'a%2fb', '.', '-bad', 'x'.repeat(64)].includes(b)) expect(r.status, b).toBeGreaterThanOrEqual(400);
    }
    // Accepted keys are opaque: they read back byte for byte under the same name and list as such.
    for (const key of accepted) {
      checks++;
      const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await g.Body!.transformToString()).toBe('payload');
    }
    // Nothing outside the data directory changed: the parent holds only the sentinel (unchanged) and the data dir.
    checks++;
    expect((await readdir(parent)).sort()).toEqual(['data', 'sentinel.txt']);
    expect(await readFile(path.join(parent, 'sentinel.txt'), 'utf8')).toBe(sentinelBody);
    for (const f of await walk(dataDir)) {
      expect(path.relative(dataDir, f).startsWith('..')).toBe(false);
      expect((await stat(f)).isFile()).toBe(true);
    }
    await alive();
  });
});
