// Ceph RGW pushing real bucket notifications to POST /v1/events/s3: an RGW topic (SNS API, via Debian's awscli)
// with an HTTP push-endpoint that carries the shared secret as a query parameter (RGW keeps the query string — this
// test proves it), non-persistent so RGW pushes during the PUT itself. Skipped, with a message, without RGW_ENDPOINT
// or awscli.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { DeleteObjectCommand, ListObjectsV2Command, PutBucketNotificationConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { rgwTarget, RGW_SKIP_MESSAGE, type S3Target } from '../helpers/s3-targets.ts';
import { TINY_PNG, waitFor } from '../helpers/events.ts';

const run = promisify(execFile);
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : null;
const rgw = rgwTarget();
const skipReason = !rgw ? RGW_SKIP_MESSAGE : !AWS ? 'RGW event push test skipped: /usr/bin/aws (Debian awscli) not found' : null;
if (skipReason) console.log(skipReason);

const PNG = TINY_PNG;
const SECRET = `rgw-events-${randomBytes(12).toString('hex')}`;

describe.skipIf(skipReason !== null)('Ceph RGW bucket notifications → /v1/events/s3', () => {
  let target: S3Target;
  let t: TestApp;
  let s3: S3Client;
  let bucket: string;
  let topicArn: string;

  const aws = async (...args: string[]) => {
    const { stdout } = await run(AWS!, ['--endpoint-url', target.endpoint, '--output', 'json', ...args], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: target.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: target.region, AWS_ENDPOINT_URL: '', AWS_PAGER: '' },
    });
    return stdout.trim() ? JSON.parse(stdout) : {};
  };

  beforeAll(async () => {
    target = rgw!;
    await target.start();
    bucket = await target.createBucket('events');
    t = await startTestApp({ s3Target: { endpoint: target.endpoint, ...target.credentials, bucket }, env: { EVENTS_SECRET: SECRET, S3_MULTI_OBJECT_DELETE: 'false' } });
    s3 = target.client();
    const push = `${t.baseUrl}/v1/events/s3?secret=${encodeURIComponent(SECRET)}`;
    const topic = await aws('sns', 'create-topic', '--name', `stowage-${randomBytes(5).toString('hex')}`,
      '--attributes', JSON.stringify({ 'push-endpoint': push, persistent: 'false' }));
    topicArn = topic.TopicArn;
    const attrs = await aws('sns', 'get-topic-attributes', '--topic-arn', topicArn);
    expect(attrs.Attributes.EndPoint).toContain(`secret=${encodeURIComponent(SECRET)}`); // RGW kept the query string
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        TopicConfigurations: [{ Id: 'stowage', TopicArn: topicArn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'workspaces/' }] } } }],
      },
    }));
  });

  afterAll(async () => {
    // Empty the bucket one DeleteObject at a time, while the push endpoint still answers: radosgw 16 aborts
    // (RGWDeleteMultiObj → send_to_completion_async, seen in its log) when a multi-object delete pushes notifications,
    // and every RGW suite after this one then failed until RGW was restarted.
    if (bucket) {
      const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!);
      for (const Key of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => {});
      await target.deleteBucket(bucket).catch(() => {});
    }
    await t?.close();
    if (topicArn) await aws('sns', 'delete-topic', '--topic-arn', topicArn).catch(() => {});
    s3?.destroy();
  });

  const getFile = async (ws: string, id: string) =>
    ((await (await t.api(ws, `/v1/files/${id}`)).json()) as { file: { status: string } }).file;

  it('an upload nobody confirms completes from RGW\'s push; removing the object marks the file missing', async () => {
    const ws = randomWorkspaceId();
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'p.png', contentType: 'image/png', size: PNG.length } });
    expect(res.status).toBe(201);
    const { file, upload } = (await res.json()) as { file: { id: string }; upload: { url: string; headers: Record<string, string> } };
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: Uint8Array.from(PNG) })).status).toBe(200);
    const f = await waitFor(() => getFile(ws, file.id), (x) => x.status === 'available');
    expect(f.status).toBe('available');
    const usage = (await (await t.api(ws, '/v1/usage')).json()) as { usedBytes: number; reservedBytes: number; fileCount: number };
    expect(usage).toMatchObject({ usedBytes: PNG.length, reservedBytes: 0, fileCount: 1 });

    const key = (await t.deps.db.query('SELECT object_key FROM files WHERE id = $1', [file.id])).rows[0].object_key as string;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect((await waitFor(() => getFile(ws, file.id), (x) => x.status === 'missing')).status).toBe('missing');
  });

  it('with S3_MULTI_OBJECT_DELETE=false the outbox deletes from a notified bucket and radosgw 16 stays up', async () => {
    // A DeleteObjects on a bucket with notifications aborts radosgw 16 (see the teardown): the switch makes Stowage's
    // batch deletions single DeleteObject calls.
    const keys = Array.from({ length: 5 }, (_, i) => `workspaces/ws-del/files/00000000-0000-4000-8000-00000000000${i}.txt`);
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
    expect(await t.deps.storage.deleteMany(keys)).toEqual({ failed: [] });
    for (const key of keys) expect(await t.deps.storage.head(key)).toBeNull();
    expect((await fetch(target.endpoint)).status).toBeLessThan(500); // still serving
  });

  it('a push for a key Stowage did not issue is ignored', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'workspaces/not-ours.txt', Body: 'x' }));
    // Nothing to observe but the absence of harm: no row appears, and the inbox drains.
    const n = await waitFor(async () => Number((await t.deps.db.query('SELECT count(*) AS n FROM storage_events')).rows[0].n), (x) => x === 0);
    expect(n).toBe(0);
    expect((await t.deps.db.query("SELECT count(*) AS n FROM files WHERE object_key = 'workspaces/not-ours.txt'")).rows[0].n).toBe(0);
  });
});
