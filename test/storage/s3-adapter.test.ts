// The S3 adapter's own calls, on every S3 target (the embedded store, and Ceph RGW when configured): what completion
// relies on to verify an object with one request, and how batch deletions reach storage.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../src/storage/s3-adapter.ts';
import { RGW_SKIP_MESSAGE, rgwEnv, s3Targets } from '../helpers/s3-targets.ts';

if (!rgwEnv()) console.log(RGW_SKIP_MESSAGE);

describe.each(s3Targets())('S3Storage on $name', (t) => {
  let client: S3Client;
  let storage: S3Storage;
  let bucket: string;
  beforeAll(async () => {
    await t.start();
    client = t.client();
    bucket = await t.createBucket('adapter');
    storage = new S3Storage({ endpoint: t.endpoint, region: t.region, bucket, ...t.credentials, forcePathStyle: true });
  });
  afterAll(async () => {
    storage?.destroy();
    await t.stop();
  });

  const put = (key: string, body: Uint8Array, contentType: string, extra: { ContentDisposition?: string } = {}) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ...extra }));

  it.each([
    ['shorter than the sample', 100],
    ['exactly the sample', 4100],
    ['longer than the sample', 100_000],
  ])('sample of an object %s: the whole size, the stored metadata and only the first bytes, in one request', async (_, size) => {
    const body = new Uint8Array(size).map((_, i) => (i * 7) % 251);
    const key = `workspaces/w/files/sample-${size}.bin`;
    await put(key, body, 'application/octet-stream', { ContentDisposition: 'attachment; filename="x.bin"' });
    const s = await storage.sample(key, 4100);
    expect(s).not.toBeNull();
    expect(s!.head.size).toBe(size);
    expect(s!.head.contentType).toBe('application/octet-stream');
    expect(s!.head.contentDisposition).toBe('attachment; filename="x.bin"');
    expect(s!.head.etag).toBe((await storage.head(key))!.etag);
    expect(Buffer.from(s!.bytes)).toEqual(Buffer.from(body.subarray(0, 4100)));
  });

  it('sample of an empty object: size 0 and no bytes', async () => {
    await put('workspaces/w/files/empty.txt', new Uint8Array(0), 'text/plain');
    const s = await storage.sample('workspaces/w/files/empty.txt', 4100);
    expect(s?.head.size).toBe(0);
    expect(s?.head.contentType).toBe('text/plain');
    expect(s?.bytes.length).toBe(0);
  });

  it('sample of no such object: null', async () => {
    expect(await storage.sample('workspaces/w/files/none.bin', 4100)).toBeNull();
  });
  it.each([
    ['DeleteObjects batches (default)', true, 'DeleteObjectsCommand'],
    ['one DeleteObject per key (S3_MULTI_OBJECT_DELETE=false)', false, 'DeleteObjectCommand'],
  ])('deleteMany with %s: every key gone, absent keys are not failures', async (_, multiObjectDelete, command) => {
    const storage = new S3Storage({ endpoint: t.endpoint, region: t.region, bucket, ...t.credentials, forcePathStyle: true, multiObjectDelete });
    const sent: string[] = [];
    storage.client.middlewareStack.add((next, context) => async (args) => {
      sent.push(String(context.commandName));
      return next(args);
    }, { step: 'initialize' });
    const keys = Array.from({ length: 40 }, (_, i) => `workspaces/w/files/del-${multiObjectDelete}-${i}.txt`);
    for (const Key of keys.slice(0, 30)) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
    expect(await storage.deleteMany(keys)).toEqual({ failed: [] });
    for (const key of keys) expect(await storage.head(key)).toBeNull();
    expect(new Set(sent.filter((c) => c !== 'HeadObjectCommand'))).toEqual(new Set([command]));
    storage.destroy();
  });
});

describe('S3Storage.sample against a store that ignores Range', () => {
  it('stops reading once it has the bytes it asked for (never buffers the whole object)', async () => {
    const total = 256 * 1024 * 1024;
    let sent = 0;
    const srv = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total), etag: '"e"' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    const storage = new S3Storage({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's', forcePathStyle: true });
    try {
      const s = await storage.sample('k', 4100);
      expect(s?.head.size).toBe(total);
      expect(s?.bytes.length).toBe(4100);
      expect(sent).toBeLessThan(total / 4); // the connection was dropped long before the end
    } finally {
      storage.destroy();
      srv.closeAllConnections();
      srv.close();
    }
  });
});
