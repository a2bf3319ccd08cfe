// Embedded store: bucket notifications (webhook + in-process subscriber, retries, restart), durability across restarts,
// limits and graceful close. RGW notifications go through its SNS topic API; see the [rgw] block at the end.
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketCorsCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { embeddedTarget, rgwTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import type { S3EventRecord } from '../../src/objectstore/index.ts';
import { s3Error } from './targets.ts';
import { EMPTY_SHA, rawRequest, sign } from './raw-s3.ts';

interface Hook {
  url: string;
  received: S3EventRecord[];
  attempts: number;
  /** answer with this status (200 = accept) */
  status: number;
  close(): Promise<void>;
  waitFor(n: number, ms?: number): Promise<S3EventRecord[]>;
}

async function webhook(): Promise<Hook> {
  const hook = { received: [] as S3EventRecord[], attempts: 0, status: 200 } as Hook;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.attempts++;
      if (hook.status !== 200) {
        res.writeHead(hook.status).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { Records: S3EventRecord[] };
      hook.received.push(...body.Records);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?secret=s3cr3t`;
  hook.close = () => new Promise((r) => server.close(() => r()));
  hook.waitFor = async (n, ms = 10_000) => {
    const until = Date.now() + ms;
    while (hook.received.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return hook.received;
  };
  return hook;
}

describe('notifications & durability [embedded]', () => {
  let t: EmbeddedS3Target;
  let s3: S3Client;
  let hook: Hook;
  let bucket: string;
  const subscribed: S3EventRecord[] = [];
  beforeAll(async () => {
    t = embeddedTarget({ webhookBackoffMs: (n) => 30 * n });
    await t.start();
    s3 = t.client();
    hook = await webhook();
    bucket = await t.createBucket('conf-events');
    t.store!.subscribe((r) => subscribed.push(r));
  });
  afterAll(async () => {
    await t.stop();
    await hook.close();
  });

  const configure = (Events: string[], topic: string, Filter?: { prefix?: string; suffix?: string }) =>
    s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          TopicConfigurations: [
            {
              Id: 'stowage-hook',
              TopicArn: topic,
              Events: Events as never,
              Filter: Filter
                ? { Key: { FilterRules: Object.entries(Filter).map(([Name, Value]) => ({ Name: Name as 'prefix' | 'suffix', Value })) } }
                : undefined,
            },
          ],
        },
      }),
    );

  it('Put/GetBucketNotificationConfiguration round-trip; the webhook is an http(s) URL or arn:stowage:webhook:::<url-encoded URL>', async () => {
    await configure(['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], `arn:stowage:webhook:::${encodeURIComponent(hook.url)}`, { prefix: 'ev/' });
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
    expect(got.TopicConfigurations).toHaveLength(1);
    expect(got.TopicConfigurations![0].Events).toEqual(['s3:ObjectCreated:*', 's3:ObjectRemoved:*']);
    expect(got.TopicConfigurations![0].Filter?.Key?.FilterRules).toEqual([{ Name: 'prefix', Value: 'ev/' }]);
    expect(await s3Error(configure(['s3:ObjectCreated:*'], 'arn:aws:sns:us-east-1:123456789012:topic'))).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect(await s3Error(configure(['s3:Nope:*'], hook.url))).toMatchObject({ status: 400, code: 'InvalidArgument' });
    await configure(['s3:ObjectCreated:*', 's3:ObjectRemoved:*'], hook.url, { prefix: 'ev/' });
  });

  it('delivers AWS-format records for Put, Post, Copy, CompleteMultipartUpload, Delete and batch deletes (URL-encoded keys)', async () => {
    hook.received.length = 0;
    subscribed.length = 0;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/a b+c.txt', Body: 'hello' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/ignored.txt', Body: 'x' }));
    const post = await createPresignedPost(s3, { Bucket: bucket, Key: 'ev/post.bin', Expires: 60 });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['posted']), 'f.bin');
    expect((await fetch(post.url, { method: 'POST', body: form })).status).toBe(204);
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'ev/copy.txt', CopySource: `${bucket}/ev/a%20b%2Bc.txt` }));
    const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'ev/mp.bin' }))).UploadId!;
    const p = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'ev/mp.bin', UploadId: id, PartNumber: 1, Body: 'part' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'ev/mp.bin', UploadId: id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'ev/copy.txt' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'ev/post.bin' }, { Key: 'ev/mp.bin' }, { Key: 'ev/never-existed' }] } }));
    const recs = await hook.waitFor(7);
    expect(recs.map((r) => `${r.eventName} ${r.s3.object.key}`)).toEqual([
      'ObjectCreated:Put ev/a+b%2Bc.txt',
      'ObjectCreated:Post ev/post.bin',
      'ObjectCreated:Copy ev/copy.txt',
      'ObjectCreated:CompleteMultipartUpload ev/mp.bin',
      'ObjectRemoved:Delete ev/copy.txt',
      'ObjectRemoved:Delete ev/post.bin',
      'ObjectRemoved:Delete ev/mp.bin',
    ]);
    const first = recs[0];
    expect(first).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      s3: { s3SchemaVersion: '1.0', configurationId: 'stowage-hook', bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { size: 5, eTag: put.ETag!.replace(/"/g, '') } },
    });
    expect(new Date(first.eventTime).toISOString()).toBe(first.eventTime);
    expect(recs[3].s3.object.eTag).toMatch(/-1$/);
    const seqs = recs.map((r) => r.s3.object.sequencer);
    expect([...seqs].sort()).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    // the in-process subscriber saw everything (all buckets and keys, no filter)
    expect(subscribed.map((r) => r.s3.object.key)).toContain('other/ignored.txt');
    expect(subscribed.length).toBeGreaterThanOrEqual(8);
  });

  it('a failing webhook is retried with backoff until it accepts; order is kept', async () => {
    hook.received.length = 0;
    hook.status = 500;
    const before = hook.attempts;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/retry-1', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/retry-2', Body: '2' }));
    while (hook.attempts < before + 3) await new Promise((r) => setTimeout(r, 20));
    expect(hook.received).toHaveLength(0);
    hook.status = 200;
    const recs = await hook.waitFor(2);
    expect(recs.map((r) => r.s3.object.key)).toEqual(['ev/retry-1', 'ev/retry-2']);
  });

  it('pending events survive a restart (persisted in the data dir) and are delivered afterwards', async () => {
    hook.received.length = 0;
    hook.status = 503;
    const before = hook.attempts;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/durable', Body: 'survives' }));
    while (hook.attempts < before + 1) await new Promise((r) => setTimeout(r, 20));
    await t.restart();
    s3 = t.client();
    expect(hook.received).toHaveLength(0);
    hook.status = 200;
    const recs = await hook.waitFor(1);
    expect(recs.map((r) => `${r.eventName} ${r.s3.object.key}`)).toEqual(['ObjectCreated:Put ev/durable']);
  });

  it('objects, bucket configuration and in-progress multipart uploads survive a restart', async () => {
    await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] } }));
    const data = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'persist/obj', Body: data, ContentType: 'application/x-kept', Metadata: { m: '1' } }));
    const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'persist/mp' }))).UploadId!;
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'persist/mp', UploadId: id, PartNumber: 1, Body: 'part one' }));
    await t.restart();
    s3 = t.client();
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'persist/obj' }));
    expect(g.ContentType).toBe('application/x-kept');
    expect(g.Metadata).toEqual({ m: '1' });
    expect(Buffer.from(await g.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect((await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules).toHaveLength(1);
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'persist/mp', UploadId: id }));
    expect(parts.Parts!.map((p) => p.ETag)).toEqual([p1.ETag]);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'persist/mp', UploadId: id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'persist/mp' }))).Body!.transformToString()).toBe('part one');
  });

  it('close() is graceful: an in-flight download finishes', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'close/big', Body: data }));
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'close/big' }));
    const closing = t.restart();
    expect(Buffer.from(await g.Body!.transformToByteArray()).equals(data)).toBe(true);
    await closing;
    s3 = t.client();
  });
});

describe('limits [embedded]', () => {
  const t = embeddedTarget({ maxObjectSize: 64 * 1024, minPartSize: 16 * 1024 });
  let s3: S3Client;
  let bucket: string;
  beforeAll(async () => {
    await t.start();
    s3 = t.client();
    bucket = await t.createBucket('conf-limits');
  });
  afterAll(() => t.stop());

  it('maxObjectSize refuses bigger PUTs (EntityTooLarge) and multipart totals', async () => {
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: randomBytes(64 * 1024 + 1) })))).toMatchObject({ status: 400, code: 'EntityTooLarge' });
    expect((await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ok', Body: randomBytes(64 * 1024) }))).ETag).toBeTruthy();
    const id = (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }))).UploadId!;
    const parts = [];
    for (let n = 1; n <= 3; n++) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: id, PartNumber: n, Body: randomBytes(30 * 1024) }));
      parts.push({ PartNumber: n, ETag: r.ETag });
    }
    expect(await s3Error(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId: id, MultipartUpload: { Parts: parts } })))).toMatchObject({
      status: 400,
      code: 'EntityTooLarge',
    });
  });
});

// ---------------------------------------------------------------------------------------------------- RGW (SNS topics)
const rgw = rgwTarget();
describe.skipIf(!rgw)('notifications [rgw]', () => {
  // RGW speaks SNS for topics; a non-persistent topic pushes during the request. NOTE: RGW 16 aborts (crashes) on a
  // DeleteObjects batch when the bucket pushes to an HTTP endpoint, so this block never sends one.
  let hook: Hook;
  let s3: S3Client;
  let bucket: string;
  /** RGW's SNS-compatible topic API (form POST to /, SigV4) */
  const sns = async (params: Record<string, string>) => {
    const body = Buffer.from(new URLSearchParams(params).toString());
    const s = sign({ endpoint: rgw!.endpoint, region: rgw!.region, credentials: rgw!.credentials, method: 'POST', path: '/', payloadHash: createHash('sha256').update(body).digest('hex'), headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) } });
    const r = await rawRequest(s.url, 'POST', s.headers, body);
    if (r.status !== 200) throw new Error(`SNS ${params.Action}: ${r.status} ${r.body}`);
    return r.body;
  };
  beforeAll(async () => {
    await rgw!.start();
    s3 = rgw!.client();
    hook = await webhook();
    bucket = await rgw!.createBucket('conf-rgw-ev');
  });
  afterAll(async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'ev/a b.txt' })).catch(() => {});
    await rgw!.stop();
    await hook.close();
  });

  it('delivers ObjectCreated:Put and ObjectRemoved:Delete to an HTTP push endpoint (RGW record format differs)', async () => {
    const topic = `stowage-conf-${randomBytes(4).toString('hex')}`;
    const created = await sns({ Action: 'CreateTopic', Name: topic, 'Attributes.entry.1.key': 'push-endpoint', 'Attributes.entry.1.value': hook.url, 'Attributes.entry.2.key': 'persistent', 'Attributes.entry.2.value': 'false' });
    const arn = /<TopicArn>([^<]+)<\/TopicArn>/.exec(created)![1];
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: { TopicConfigurations: [{ Id: 'conf', TopicArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }] },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ev/a b.txt', Body: 'hello' }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'ev/a b.txt' }));
    const recs = await hook.waitFor(2, 15_000);
    expect(recs.map((r) => r.eventName.replace(/^s3:/, ''))).toEqual(['ObjectCreated:Put', 'ObjectRemoved:Delete']);
    const r0 = recs[0];
    if (r0.eventVersion !== '2.1') console.warn(`RGW deviation: notification eventVersion ${r0.eventVersion} (AWS: 2.1)`);
    if (r0.eventSource !== 'aws:s3') console.warn(`RGW deviation: notification eventSource ${r0.eventSource} (AWS: aws:s3)`);
    if (r0.awsRegion !== rgw!.region) console.warn(`RGW deviation: notification awsRegion "${r0.awsRegion}" (AWS: the bucket's region)`);
    if (r0.s3.object.eTag && r0.s3.object.eTag.startsWith('"')) console.warn('RGW deviation: quoted eTag in notification records');
    if (r0.s3.object.key !== 'ev/a+b.txt') console.warn(`RGW deviation: object key in records is "${r0.s3.object.key}" (AWS URL-encodes it: "ev/a+b.txt")`);
    console.warn('RGW deviation: RGW 16 radosgw aborts (SIGABRT) on DeleteObjects in a bucket with an HTTP push topic — not exercised here');
    // RGW refuses an empty NotificationConfiguration (MalformedXML); its DELETE ?notification extension removes it
    const del = sign({ endpoint: rgw!.endpoint, region: rgw!.region, credentials: rgw!.credentials, method: 'DELETE', path: `/${bucket}`, query: { notification: '' }, payloadHash: EMPTY_SHA });
    await rawRequest(del.url, 'DELETE', del.headers);
    await sns({ Action: 'DeleteTopic', TopicArn: arn }).catch(() => '');
  });
});
