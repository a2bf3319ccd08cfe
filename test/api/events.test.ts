// Completion from storage events through the real HTTP server, real Postgres and the embedded object store (real S3
// API over HTTP): POST /v1/events/s3 and the embedded store's own webhook pushing to it.
import { randomBytes, randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { processStorageEventInbox } from '../../src/services/handle-storage-event.ts';
import { processDeletions } from '../../src/services/process-deletions.ts';
import { uploadPost } from './support.ts';
import type { StorageEvent } from '../../src/domain/storage-events.ts';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { s3Event, TINY_PNG, waitFor } from '../helpers/events.ts';

const SECRET = `events-secret-${randomBytes(12).toString('hex')}`;
const PNG = TINY_PNG;

describe('storage events (embedded object store)', () => {
  let target: EmbeddedS3Target;
  let t: TestApp;
  let s3: S3Client;

  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    t = await startTestApp({ s3Target: { endpoint: target.endpoint, ...target.credentials }, env: { EVENTS_SECRET: SECRET } });
    s3 = target.client();
  });
  afterAll(async () => {
    await t?.close();
    s3?.destroy();
    await target?.stop();
  });

  const postEvent = (body: unknown, query = `?secret=${encodeURIComponent(SECRET)}`, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}/v1/events/s3${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  async function createAndUpload(ws: string, body: Buffer = PNG, contentType = 'image/png') {
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'a.png', contentType, size: body.length } });
    expect(res.status).toBe(201);
    const { file, upload } = (await res.json()) as { file: { id: string }; upload: { url: string; headers: Record<string, string> } };
    const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: Uint8Array.from(body) });
    expect(put.status).toBe(200);
    const row = await t.deps.db.query<{ object_key: string }>('SELECT object_key FROM files WHERE id = $1', [file.id]);
    return { id: file.id, key: row.rows[0]!.object_key };
  }

  const getFile = async (ws: string, id: string) => {
    const r = await t.api(ws, `/v1/files/${id}`);
    return ((await r.json()) as { file: { status: string; completedAt: string | null; size: number } }).file;
  };
  const usage = async (ws: string) => (await (await t.api(ws, '/v1/usage')).json()) as { usedBytes: number; reservedBytes: number; fileCount: number; pendingCount: number };
  const inboxEmpty = () => waitFor(async () => Number((await t.deps.db.query('SELECT count(*) AS n FROM storage_events')).rows[0].n), (n) => n === 0);

  it('rejects calls without the right secret, accepts it as query parameter or header, refuses malformed bodies', async () => {
    const ev = s3Event(t.config.s3.bucket, `workspaces/nobody/files/${randomUUID()}.png`);
    expect((await postEvent(ev, '')).status).toBe(401);
    expect((await postEvent(ev, '?secret=wrong')).status).toBe(401);
    expect((await postEvent(ev, '?secret=' + SECRET.slice(0, -1))).status).toBe(401);
    expect((await postEvent(ev, '', { 'x-stowage-events-secret': SECRET })).status).toBe(200);
    const bad = await postEvent('this is not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    // The s3:TestEvent and SNS envelopes (sent as text/plain by SNS) are understood.
    const test = await postEvent({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: t.config.s3.bucket });
    expect(await test.json()).toMatchObject({ received: 0, testEvents: 1 });
    const sns = await fetch(`${t.baseUrl}/v1/events/s3?secret=${SECRET}`, {
      method: 'POST', headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: JSON.stringify({ Type: 'Notification', Message: JSON.stringify(ev) }),
    });
    expect(await sns.json()).toMatchObject({ received: 1, accepted: 1 });
    await inboxEmpty();
  });

  it('event before confirm: the event completes the upload; confirm then returns the same file; counted once', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    const res = await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectCreated:Put', PNG.length));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ received: 1, accepted: 1, ignored: 0 });
    const f = await waitFor(() => getFile(ws, id), (f) => f.status === 'available');
    expect(f.status).toBe('available');
    const confirm = await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(confirm.status).toBe(200);
    const confirmed = ((await confirm.json()) as { file: { status: string; completedAt: string } }).file;
    expect(confirmed).toMatchObject({ status: 'available', completedAt: f.completedAt });
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
  });

  it('confirm before event: the late event is a no-op', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    const confirm = await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(confirm.status).toBe(200);
    const before = await getFile(ws, id);
    expect((await postEvent(s3Event(t.config.s3.bucket, key))).status).toBe(200);
    await inboxEmpty();
    expect(await getFile(ws, id)).toEqual(before);
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
  });

  it('the same event three times (concurrently, racing a confirm): completed once, counted once', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    const ev = s3Event(t.config.s3.bucket, key);
    const [a, b, c, confirm] = await Promise.all([postEvent(ev), postEvent(ev), postEvent(ev), t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' })]);
    expect([a.status, b.status, c.status, confirm.status]).toEqual([200, 200, 200, 200]);
    await inboxEmpty();
    const f = await getFile(ws, id);
    expect(f.status).toBe('available');
    expect(((await confirm.json()) as { file: { completedAt: string } }).file.completedAt).toBe(f.completedAt);
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
    // The same three again, processed by a worker's drain instead of the request's background drain.
    for (let i = 0; i < 3; i++) await postEvent(ev);
    await processStorageEventInbox(t.deps);
    await inboxEmpty();
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, fileCount: 1 });
  });

  it('a POST form replayed after verification: the stray object is deleted and the file is missing, never the unverified bytes available', async () => {
    const ws = randomWorkspaceId();
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'a.txt', contentType: 'text/plain', size: 5, method: 'post' } });
    expect(res.status).toBe(201);
    const { file, upload } = (await res.json()) as { file: { id: string }; upload: { url: string; fields: Record<string, string> } };
    expect((await uploadPost(upload, Buffer.from('hello'))).status).toBeLessThan(300);
    expect((await t.api(ws, `/v1/uploads/${file.id}/complete`, { method: 'POST' })).status).toBe(200);
    const key = upload.fields.key!;
    // The same bytes again (same ETag): nothing changes.
    expect((await uploadPost(upload, Buffer.from('hello'))).status).toBeLessThan(300);
    expect((await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectCreated:Post', 5))).status).toBe(200);
    await inboxEmpty();
    expect((await getFile(ws, file.id)).status).toBe('available');
    // Other bytes of the same size through the still-valid form: never served as the verified file.
    expect((await uploadPost(upload, Buffer.from('EVIL!'))).status).toBeLessThan(300);
    expect((await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectCreated:Post', 5))).status).toBe(200);
    await inboxEmpty();
    expect((await getFile(ws, file.id)).status).toBe('missing');
    expect((await t.api(ws, `/v1/files/${file.id}/download`)).status).toBeGreaterThanOrEqual(400);
    await processDeletions(t.deps, { keyPrefix: `workspaces/${ws}/` });
    // (Polled: another test file's unscoped worker may have claimed the row first.)
    expect(await waitFor(() => t.deps.storage.head(key), (h) => h === null)).toBeNull();
    // A missing file keeps its usage: the replay gained nothing.
    expect(await usage(ws)).toMatchObject({ usedBytes: 5, fileCount: 1, reservedBytes: 0, pendingCount: 0 });
    // Yet another replay while the file is missing is a stray object too (not a restore).
    expect((await uploadPost(upload, Buffer.from('EVIL?'))).status).toBeLessThan(300);
    expect((await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectCreated:Post', 5))).status).toBe(200);
    await inboxEmpty();
    expect((await getFile(ws, file.id)).status).toBe('missing');
    await processDeletions(t.deps, { keyPrefix: `workspaces/${ws}/` });
    // (Polled: another test file's unscoped worker may have claimed the row first.)
    expect(await waitFor(() => t.deps.storage.head(key), (h) => h === null)).toBeNull();
  });

  it('after the upload window, only storage credentials can write a key: an operator restore by size is accepted, an overwrite left alone', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    expect((await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(200);
    const { handleStorageEvent } = await import('../../src/services/handle-storage-event.ts');
    const later = { ...t.deps, now: () => new Date(Date.now() + (t.config.uploads.pendingTtlSeconds + 120) * 1000) };
    const ev: StorageEvent = { type: 'created', bucket: t.config.s3.bucket, key, rawKey: key, eventName: 'ObjectCreated:Put', size: PNG.length, eTag: null, versionId: null, sequencer: null, eventTime: null, source: 'aws:s3' };
    // The operator replaces the object (same size, other bytes): not a replay, left alone.
    const other = Buffer.from(PNG);
    other[other.length - 1] ^= 0xff;
    await s3.send(new PutObjectCommand({ Bucket: t.config.s3.bucket, Key: key, Body: other, ContentType: 'image/png' }));
    expect(await handleStorageEvent(later, ev)).toBe('already_settled');
    expect((await getFile(ws, id)).status).toBe('available');
    // The object vanishes, then the operator puts a copy back: restored by its size, as before.
    await s3.send(new DeleteObjectCommand({ Bucket: t.config.s3.bucket, Key: key }));
    expect(await handleStorageEvent(later, { ...ev, type: 'removed', eventName: 'ObjectRemoved:Delete' })).toBe('marked_missing');
    await s3.send(new PutObjectCommand({ Bucket: t.config.s3.bucket, Key: key, Body: other, ContentType: 'image/png' }));
    expect(await handleStorageEvent(later, ev)).toBe('restored');
    expect((await getFile(ws, id)).status).toBe('available');
  });

  it('a confirm and an event arriving together share one verification (one read of the object)', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    const sample = vi.spyOn(t.deps.storage, 'sample');
    const original = sample.getMockImplementation();
    let reads = 0;
    sample.mockImplementation(async (...args) => {
      reads += 1;
      await new Promise((r) => setTimeout(r, 300)); // a slow read: the others arrive while it runs
      return original ? original(...args) : (Object.getPrototypeOf(t.deps.storage).sample as typeof t.deps.storage.sample).apply(t.deps.storage, args);
    });
    try {
      const { handleStorageEvent } = await import('../../src/services/handle-storage-event.ts');
      const ev: StorageEvent = { type: 'created', bucket: t.config.s3.bucket, key, rawKey: key, eventName: 'ObjectCreated:Put', size: PNG.length, eTag: null, versionId: null, sequencer: null, eventTime: null, source: 'aws:s3' };
      const [a, b, outcome] = await Promise.all([
        t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' }),
        t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' }),
        handleStorageEvent(t.deps, ev),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(['completed', 'already_settled']).toContain(outcome);
      expect(reads).toBe(1);
    } finally {
      sample.mockRestore();
    }
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, fileCount: 1, pendingCount: 0 });
  });

  it('events for keys Stowage did not issue are logged and ignored', async () => {
    const before = await t.deps.db.query('SELECT count(*) AS n FROM files');
    const bucket = t.config.s3.bucket;
    const res = await postEvent({
      Records: [
        ...s3Event(bucket, 'somewhere/else.txt').Records,
        ...s3Event('another-bucket', `workspaces/w/files/${randomUUID()}.png`).Records,
        ...s3Event(bucket, `workspaces/w/files/${randomUUID()}.png`).Records, // in the layout, but no such file
        ...s3Event(bucket, `workspaces/w/files/${randomUUID()}.png`, 'ObjectRemoved:Delete').Records,
      ],
    });
    expect(await res.json()).toMatchObject({ received: 4, accepted: 2, ignored: 2 });
    await inboxEmpty();
    expect((await t.deps.db.query('SELECT count(*) AS n FROM files')).rows[0].n).toBe(before.rows[0].n);
  });

  it('an event for an object that fails verification rejects it, removes the object and releases the reservation', async () => {
    const ws = randomWorkspaceId();
    const html = Buffer.from('<html><script>alert(1)</script></html>'.padEnd(300, ' '));
    const { id, key } = await createAndUpload(ws, html, 'image/png');
    await postEvent(s3Event(t.config.s3.bucket, key));
    const f = await waitFor(() => getFile(ws, id), (f) => f.status !== 'pending');
    expect(f.status).toBe('rejected');
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 });
    const head = await waitFor(() => t.deps.storage.head(key), (h) => h === null);
    expect(head).toBeNull();
    const confirm = await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(confirm.status).toBe(422);
  });

  it('an event for a key whose object is not there yet leaves the upload pending', async () => {
    const ws = randomWorkspaceId();
    const res = await t.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'a.png', contentType: 'image/png', size: PNG.length } });
    const { file } = (await res.json()) as { file: { id: string } };
    const key = (await t.deps.db.query('SELECT object_key FROM files WHERE id = $1', [file.id])).rows[0].object_key as string;
    await postEvent(s3Event(t.config.s3.bucket, key));
    await inboxEmpty();
    expect((await getFile(ws, file.id)).status).toBe('pending');
  });

  it('ObjectRemoved for an available file marks it missing; usage keeps counting it until it is deleted', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    // A removal event while the object is still there (stale or forged) changes nothing.
    await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectRemoved:Delete'));
    await inboxEmpty();
    expect((await getFile(ws, id)).status).toBe('available');
    await s3.send(new DeleteObjectCommand({ Bucket: t.config.s3.bucket, Key: key }));
    await postEvent(s3Event(t.config.s3.bucket, key, 'ObjectRemoved:Delete'));
    expect((await waitFor(() => getFile(ws, id), (f) => f.status === 'missing')).status).toBe('missing');
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, fileCount: 1 });
    // The object comes back: available again, still counted once.
    await s3.send(new PutObjectCommand({ Bucket: t.config.s3.bucket, Key: key, Body: PNG, ContentType: 'image/png' }));
    await postEvent(s3Event(t.config.s3.bucket, key));
    expect((await waitFor(() => getFile(ws, id), (f) => f.status === 'available')).status).toBe('available');
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, fileCount: 1 });
    // Deleting the file releases it once.
    expect((await t.api(ws, `/v1/files/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, fileCount: 0 });
  });

  it('an object created for an upload that is already settled (late PUT after deletion) is queued for deletion', async () => {
    const ws = randomWorkspaceId();
    const { id, key } = await createAndUpload(ws);
    await t.api(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect((await t.api(ws, `/v1/files/${id}`, { method: 'DELETE' })).status).toBe(204);
    await s3.send(new PutObjectCommand({ Bucket: t.config.s3.bucket, Key: key, Body: PNG }));
    await postEvent(s3Event(t.config.s3.bucket, key));
    await inboxEmpty();
    const q = await t.deps.db.query("SELECT reason FROM object_deletions WHERE object_key = $1 AND reason LIKE 'late_object%'", [key]);
    expect(q.rows.length).toBe(1);
  });

  it("the embedded store's own webhook completes an upload nobody confirms", async () => {
    const ws = randomWorkspaceId();
    const url = `${t.baseUrl}/v1/events/s3?secret=${encodeURIComponent(SECRET)}`;
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: t.config.s3.bucket,
      NotificationConfiguration: {
        TopicConfigurations: [{ Id: 'stowage', TopicArn: url, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'workspaces/' }] } } }],
      },
    }));
    try {
      const { id } = await createAndUpload(ws);
      const f = await waitFor(() => getFile(ws, id), (f) => f.status === 'available');
      expect(f.status).toBe('available');
      expect(await usage(ws)).toMatchObject({ usedBytes: PNG.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
    } finally {
      await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: t.config.s3.bucket, NotificationConfiguration: {} }));
    }
  });
});
