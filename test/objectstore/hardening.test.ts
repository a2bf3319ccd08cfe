// Embedded store: the hardening cases of the 2025 review (unauthenticated POST memory, unsigned headers, signed
// trailers, the data-directory lock, durability, DeleteBucket racing a PUT, presigned x-amz-* parameters, status codes,
// checksum mismatches). Cases AWS documents are in the conformance suites; these need the embedded store's internals
// (its data directory, or requests the SDK will not craft).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs, { existsSync, promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { embeddedTarget, makeS3Client, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { startObjectStore } from '../../src/objectstore/index.ts';
import { errorCode, rawRequest, sign } from './raw-s3.ts';
import { s3Error } from './targets.ts';

const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const credentials = { accessKeyId: 'AKIAHARDEN0000000001', secretAccessKey: 'hardensecret' };

describe('hardening [embedded]', () => {
  let t: EmbeddedS3Target;
  let s3: S3Client;
  let bucket: string;
  beforeAll(async () => {
    t = embeddedTarget();
    await t.start();
    s3 = t.client();
    bucket = await t.createBucket('harden');
  });
  afterAll(() => t.stop());

  const form = (parts: Array<[string, string]>, boundary = 'XXBOUNDARYXX') => {
    let body = '';
    for (const [name, value] of parts) body += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    body += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nhello\r\n--${boundary}--\r\n`;
    return { body: Buffer.from(body), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
  };

  it('unauthenticated POST: part headers and names count toward the pre-file cap; at most 1000 fields (MaxPostPreDataLengthExceeded)', async () => {
    void s3;
    // 1001 tiny fields: only 1001 short values, far below the byte cap
    const many = form(Array.from({ length: 1001 }, (_, i) => [`f${i}`, '']));
    const r1 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...many.headers, 'content-length': String(many.body.length) }, many.body);
    expect(r1.status).toBe(400);
    expect(errorCode(r1.body)).toBe('MaxPostPreDataLengthExceeded');
    // 50 fields with 7 KB names and empty values: 350 KB of names, no value bytes
    const named = form(Array.from({ length: 50 }, (_, i) => [`f${i}${'a'.repeat(7000)}`, '']));
    const r2 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...named.headers, 'content-length': String(named.body.length) }, named.body);
    expect(r2.status).toBe(400);
    expect(errorCode(r2.body)).toBe('MaxPostPreDataLengthExceeded');
    // a normal-sized anonymous form is still refused for what it is: no policy
    const small = form([['key', 'x']]);
    const r3 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...small.headers, 'content-length': String(small.body.length) }, small.body);
    expect(r3.status).toBe(403);
    void randomBytes;
  });

  it('data is fsynced before the object is acknowledged: the data file, the metadata JSON and their directories', async () => {
    const probe = await fsp.open(t.dir!, 'r');
    const fileHandleProto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const handleSync = vi.spyOn(fileHandleProto, 'sync');
    const streamSync = vi.spyOn(fs, 'fsync');
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'durable/a.bin', Body: randomBytes(100_000) }));
      // the body's write stream (flush: true) fsyncs its fd; the metadata temp file, the data directory and the
      // metadata directory are fsynced through file handles
      expect(streamSync.mock.calls.length + handleSync.mock.calls.length).toBeGreaterThanOrEqual(4);
      expect(streamSync).toHaveBeenCalled();
      expect(handleSync.mock.calls.length).toBeGreaterThanOrEqual(3);
    } finally {
      handleSync.mockRestore();
      streamSync.mockRestore();
    }
  });
});

describe('data directory ownership and startup recovery [embedded]', () => {
  const dirs: string[] = [];
  const mkdir = async () => {
    const d = await fsp.mkdtemp(path.join(tmpdir(), 'stowage-s3-lock-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  });

  it('a second store on the same data directory fails to start (LOCK with the owner pid) and touches nothing; a stale lock is taken over', async () => {
    const dir = await mkdir();
    const a = await startObjectStore({ dir, credentials: [credentials] });
    try {
      expect((await fsp.readFile(path.join(dir, 'LOCK'), 'utf8')).split(' ')[0]).toBe(String(process.pid));
      // an in-flight upload of the first store
      const inflight = path.join(dir, 'tmp', 'in-flight-body');
      await fsp.writeFile(inflight, 'partial');
      await expect(startObjectStore({ dir, credentials: [credentials] })).rejects.toThrow(new RegExp(`in use by process ${process.pid}`));
      expect(existsSync(inflight)).toBe(true);
      // another process sees the same refusal
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '-e', `import('${path.resolve('src/objectstore/index.ts')}').then((m) => m.startObjectStore({ dir: ${JSON.stringify(dir)}, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }] })).then(() => process.exit(0), (e) => { console.error(String(e)); process.exit(3); })`],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(child.status).toBe(3);
      expect(child.stderr).toMatch(/in use by process/);
      expect(existsSync(inflight)).toBe(true);
    } finally {
      await a.close();
    }
    expect(existsSync(path.join(dir, 'LOCK'))).toBe(false);
    // a lock left by a process that is gone (kill -9) does not block a restart
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await fsp.writeFile(path.join(dir, 'LOCK'), `${dead}\n`);
    const b = await startObjectStore({ dir, credentials: [credentials] });
    expect((await fsp.readFile(path.join(dir, 'LOCK'), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await b.close();
    // a lock naming our own pid that no store of this process holds: a crashed run whose restart got the same pid
    // (usual in containers) — stale, not "in use"
    await fsp.writeFile(path.join(dir, 'LOCK'), `${process.pid}\n`);
    const c = await startObjectStore({ dir, credentials: [credentials] });
    await c.close();
    // a lock from before a reboot: stale even though its pid is alive now
    await fsp.writeFile(path.join(dir, 'LOCK'), `${process.ppid} another-boot-id\n`);
    const d = await startObjectStore({ dir, credentials: [credentials] });
    await d.close();
  });

  it('unreadable metadata at startup is moved to quarantine/ and the data files are kept', async () => {
    const dir = await mkdir();
    let store = await startObjectStore({ dir, credentials: [credentials] });
    let c = makeS3Client(store.endpoint, 'us-east-1', credentials);
    await c.send(new CreateBucketCommand({ Bucket: 'quar' }));
    await c.send(new PutObjectCommand({ Bucket: 'quar', Key: 'good', Body: 'good object' }));
    await c.send(new PutObjectCommand({ Bucket: 'quar', Key: 'damaged', Body: 'damaged object' }));
    c.destroy();
    await store.close();
    // damage one metadata file (as a torn write would)
    const metaDir = path.join(dir, 'buckets', 'quar', 'meta');
    const h = sha256hex('damaged');
    const damaged = path.join(metaDir, h.slice(0, 2), `${h}.json`);
    const before = JSON.parse(await fsp.readFile(damaged, 'utf8')) as { segments: Array<{ file: string }> };
    await fsp.writeFile(damaged, '{"key":"damaged","se');
    const dataFiles = await fsp.readdir(path.join(dir, 'buckets', 'quar', 'data'));
    expect(dataFiles).toHaveLength(2);
    store = await startObjectStore({ dir, credentials: [credentials] });
    c = makeS3Client(store.endpoint, 'us-east-1', credentials);
    try {
      expect(await (await c.send(new GetObjectCommand({ Bucket: 'quar', Key: 'good' }))).Body!.transformToString()).toBe('good object');
      expect(existsSync(damaged)).toBe(false);
      expect(existsSync(path.join(dir, 'quarantine', 'buckets', 'quar', 'meta', h.slice(0, 2), `${h}.json`))).toBe(true);
      // the damaged object's data is still there, recoverable
      expect(await fsp.readFile(path.join(dir, 'buckets', 'quar', 'data', before.segments[0].file), 'utf8')).toBe('damaged object');
    } finally {
      c.destroy();
      await store.close();
    }
  });

  it('DeleteBucket racing a PUT: the bucket never comes back with a stale object', async () => {
    const dir = await mkdir();
    const store = await startObjectStore({ dir, credentials: [credentials] });
    const c = makeS3Client(store.endpoint, 'us-east-1', credentials);
    const realRename = fsp.rename.bind(fsp);
    // hold the PUT's metadata rename (its commit point) while DeleteBucket is sent
    let held: (() => void) | undefined;
    let reached!: () => void;
    const atCommit = new Promise<void>((r) => (reached = r));
    const spy = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (String(to).includes(`${path.sep}meta${path.sep}`) && !held) {
        await new Promise<void>((r) => {
          held = r;
          reached();
        });
      }
      return realRename(from, to);
    });
    try {
      await c.send(new CreateBucketCommand({ Bucket: 'race' }));
      const put = c.send(new PutObjectCommand({ Bucket: 'race', Key: 'k', Body: 'x'.repeat(1000) })).then(
        () => 200,
        (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode ?? 0,
      );
      await atCommit;
      const del = c.send(new DeleteBucketCommand({ Bucket: 'race' })).then(
        () => 204,
        (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode ?? 0,
      );
      await new Promise((r) => setTimeout(r, 200));
      held!();
      const [putStatus, delStatus] = await Promise.all([put, del]);
      if (delStatus === 204) {
        // the PUT lost: it must not have succeeded, and nothing of the bucket may be left on disk
        expect(putStatus).not.toBe(200);
        expect(existsSync(path.join(dir, 'buckets', 'race'))).toBe(false);
      } else {
        expect([putStatus, delStatus]).toEqual([200, 409]);
      }
      spy.mockRestore();
      if (delStatus !== 204) {
        await c.send(new DeleteObjectCommand({ Bucket: 'race', Key: 'k' }));
        await c.send(new DeleteBucketCommand({ Bucket: 'race' }));
      }
      await c.send(new CreateBucketCommand({ Bucket: 'race' }));
      expect((await c.send(new ListObjectsV2Command({ Bucket: 'race' }))).KeyCount).toBe(0);
      expect(await fsp.readdir(path.join(dir, 'buckets', 'race', 'meta'))).toEqual([]);
    } finally {
      spy.mockRestore();
      c.destroy();
      await store.close();
    }
  });
});

describe('event notifications are durable with the commit [embedded]', () => {
  let t: EmbeddedS3Target;
  let s3: S3Client;
  let bucket: string;
  const received: string[] = [];
  let server: http.Server;
  let url = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { Records: Array<{ eventName: string; s3: { object: { key: string } } }> };
        for (const r of body.Records) received.push(`${r.eventName} ${r.s3.object.key}`);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    t = embeddedTarget({ webhookBackoffMs: () => 20 });
    await t.start();
    s3 = t.client();
    bucket = await t.createBucket('durable-ev');
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { TopicConfigurations: [{ Id: 'h', TopicArn: url, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }] },
      }),
    );
  });
  afterAll(async () => {
    await t.stop();
    await new Promise((r) => server.close(() => r(undefined)));
  });
  const eventsDir = () => path.join(t.dir!, 'events');
  const waitFor = async (what: string, ms = 5000) => {
    const until = Date.now() + ms;
    while (!received.includes(what) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return received.includes(what);
  };

  it('an event that cannot be written fails the request, and nothing is committed', async () => {
    const realOpen = fsp.open.bind(fsp);
    const realWrite = fsp.writeFile.bind(fsp);
    const inEvents = (p: unknown) => String(p).startsWith(eventsDir());
    const open = vi.spyOn(fsp, 'open').mockImplementation(async (p, ...rest) => {
      if (inEvents(p)) throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
      return realOpen(p, ...(rest as [string]));
    });
    const write = vi.spyOn(fsp, 'writeFile').mockImplementation(async (p, ...rest) => {
      if (inEvents(p)) throw Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
      return realWrite(p as string, ...(rest as [string]));
    });
    try {
      const err = await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/unwritable', Body: 'x' })));
      expect(err.status).toBe(500);
    } finally {
      open.mockRestore();
      write.mockRestore();
    }
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'ev/unwritable' })))).toMatchObject({ status: 404 });
    await new Promise((r) => setTimeout(r, 100));
    expect(received).not.toContain('ObjectCreated:Put ev/unwritable');
  });

  it('a crash between the commit and the event publication: the pending event is delivered after the restart; one whose commit never happened is dropped', async () => {
    const realRename = fsp.rename.bind(fsp);
    let failed = 0;
    const rename = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      // the event's publication fails once, as if the process died right after the metadata rename
      if (String(to).startsWith(eventsDir()) && String(to).endsWith('.json') && failed === 0) {
        failed++;
        throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
      }
      return realRename(from, to);
    });
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/crash', Body: 'committed' }));
    } finally {
      rename.mockRestore();
    }
    expect(failed).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(received).not.toContain('ObjectCreated:Put ev/crash');
    const pending = (await fsp.readdir(eventsDir())).filter((f) => f.endsWith('.pending'));
    expect(pending).toHaveLength(1);
    // a pending event of a commit that never happened (its object version is not in place)
    const item = JSON.parse(await fsp.readFile(path.join(eventsDir(), pending[0]!), 'utf8')) as { id: string; body: string; marker: { key: string; version: string } };
    const orphan = { ...item, id: `${item.id}-orphan`, body: item.body.replace('ev/crash', 'ev/never'), marker: { ...item.marker, key: 'ev/never', version: 'never-committed' } };
    await fsp.writeFile(path.join(eventsDir(), `${orphan.id}.pending`), JSON.stringify(orphan));
    await t.restart();
    s3 = t.client();
    expect(await waitFor('ObjectCreated:Put ev/crash')).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.filter((r) => r === 'ObjectCreated:Put ev/crash')).toHaveLength(1);
    expect(received).not.toContain('ObjectCreated:Put ev/never');
    expect((await fsp.readdir(eventsDir())).filter((f) => f.endsWith('.pending'))).toEqual([]);
  });
});
