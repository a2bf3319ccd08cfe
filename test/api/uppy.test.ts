// The Companion-compatible endpoints as Uppy calls them (request shapes from docs/../shared/UPPY.md): token in the
// path, no headers but content-type; params → POST form; multipart create / sign / list / complete / abort; limits
// enforced without a declared size; every key and uploadId checked against the token's workspace.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { apiTargets, uploadPost } from './support.ts';
import type { StorageEvent } from '../../src/domain/storage-events.ts';

const MiB = 1024 * 1024;

describe.each(apiTargets())('Uppy endpoints on $name', (t) => {
  let app: TestApp;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const s = await t.start();
    stop = s.stop;
    app = await startTestApp({ s3Target: s.target, env: { DEFAULT_QUOTA_BYTES: String(24 * MiB), DEFAULT_MAX_FILE_SIZE: String(16 * MiB) } });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  async function endpointFor(ws: string): Promise<string> {
    const r = await app.api(ws, '/v1/uppy/tokens', { method: 'POST', json: {} });
    expect(r.status).toBe(201);
    const body = (await r.json()) as { token: string; endpoint: string; expiresAt: string };
    expect(body.endpoint).toBe(`${app.baseUrl}/v1/uppy/${body.token}`);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    return body.endpoint;
  }

  /** What Uppy 6 does: fetch(`${endpoint}/s3${path}`), JSON body with content-type only. */
  async function uppy(endpoint: string, method: string, path: string, body?: unknown) {
    const r = await fetch(`${endpoint}/s3${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers };
  }

  async function multipartUpload(endpoint: string, data: Buffer, partSize: number) {
    const created = await uppy(endpoint, 'POST', '/multipart', { filename: 'big.bin', type: 'application/octet-stream', metadata: { name: 'big.bin' } });
    expect(created.status).toBe(200);
    const { key, uploadId } = created.body as { key: string; uploadId: string };
    const q = new URLSearchParams({ key }).toString();
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (let n = 1, off = 0; off < data.length; n++, off += partSize) {
      const signed = await uppy(endpoint, 'GET', `/multipart/${encodeURIComponent(uploadId)}/${n}?${q}`);
      if (signed.status !== 200) return { key, uploadId, q, parts, refused: signed };
      const put = await fetch(signed.body.url, { method: 'PUT', body: data.subarray(off, off + partSize) as BodyInit });
      expect(put.status).toBe(200);
      parts.push({ PartNumber: n, ETag: put.headers.get('etag')!.replace(/"/g, '') });
    }
    return { key, uploadId, q, parts };
  }

  test('small file: params → presigned POST form with the key; the object becomes an available file once settled', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const r = await uppy(endpoint, 'GET', '/params?filename=hello.txt&type=text%2Fplain&metadata%5Bname%5D=hello.txt&metadata%5Btype%5D=text%2Fplain');
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.body.method).toBe('POST');
    expect(r.body.fields.key).toMatch(new RegExp(`^workspaces/${ws}/files/[0-9a-f-]{36}\\.txt$`));
    const post = await uploadPost(r.body, Buffer.from('hello uppy\n'), 'hello.txt');
    expect(post.status).toBeLessThan(300);
    // Uppy never calls back for a form POST: the storage event (or the sweeper) settles it — here, the event path.
    const { handleStorageEvent } = await import('../../src/services/handle-storage-event.ts');
    const outcome = await handleStorageEvent(app.deps, {
      type: 'created',
      bucket: app.config.s3.bucket,
      key: r.body.fields.key,
      rawKey: r.body.fields.key,
      eventName: 'ObjectCreated:Post',
      size: 11,
      eTag: null,
      versionId: null,
      sequencer: null,
      eventTime: null,
      source: 'test',
    } as StorageEvent);
    expect(outcome).toBe('completed');
    const list = (await (await app.api(ws, '/v1/files')).json()) as any;
    expect(list.items[0]).toMatchObject({ status: 'available', size: 11, filename: 'hello.txt', uploadMethod: 'post' });
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as any;
    expect(usage).toMatchObject({ usedBytes: 11, reservedBytes: 0, pendingCount: 0, fileCount: 1 });
  });

  test('the POST policy refuses a file over the workspace limit', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const r = await uppy(endpoint, 'GET', '/params?filename=big.bin&type=application%2Foctet-stream');
    expect(r.status).toBe(200);
    const post = await uploadPost(r.body, randomBytes(16 * MiB + 1), 'big.bin');
    expect(post.status).toBe(400);
    expect(await post.text()).toMatch(/EntityTooLarge|content-length|Policy/i);
  });

  test('multipart: create → sign → PUT → list → complete → available; complete repeated gives the same answer', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const data = randomBytes(12 * MiB);
    const up = await multipartUpload(endpoint, data, 5 * MiB);
    expect(up.parts).toHaveLength(3);
    const listed = await uppy(endpoint, 'GET', `/multipart/${up.uploadId}?${up.q}`);
    expect(listed.status).toBe(200);
    expect(listed.body.map((p: any) => [p.PartNumber, p.Size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, 2 * MiB]]);
    expect(listed.body[0].ETag.replace(/"/g, '')).toBe(up.parts[0]!.ETag);
    const done = await uppy(endpoint, 'POST', `/multipart/${up.uploadId}/complete?${up.q}`, { parts: up.parts });
    expect(done.status).toBe(200);
    expect(done.body.key).toBe(up.key);
    expect(done.body.location).toContain(up.key);
    const again = await uppy(endpoint, 'POST', `/multipart/${up.uploadId}/complete?${up.q}`, { parts: up.parts });
    expect(again.body).toEqual(done.body);
    const file = (await (await app.api(ws, `/v1/files/${up.uploadId}`)).json()) as any;
    expect(file.file).toMatchObject({ status: 'available', size: 12 * MiB, uploadMethod: 'multipart' });
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as any;
    expect(usage).toMatchObject({ usedBytes: 12 * MiB, reservedBytes: 0, pendingCount: 0 });
    await app.api(ws, `/v1/files/${up.uploadId}`, { method: 'DELETE' });
  });

  test('complete names a part that storage does not hold', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const up = await multipartUpload(endpoint, randomBytes(10 * MiB + 10), 5 * MiB);
    const missing = await uppy(endpoint, 'POST', `/multipart/${up.uploadId}/complete?${up.q}`, {
      parts: [...up.parts, { PartNumber: 4, ETag: 'x' }],
    });
    expect(missing.status).toBe(409);
    expect(missing.body.error.message).toMatch(/missing part 4/);
    expect((await uppy(endpoint, 'DELETE', `/multipart/${up.uploadId}?${up.q}`)).status).toBe(200);
  });

  test('part signing refuses parts that can only belong to a file over the limit; abort frees the slot', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const created = await uppy(endpoint, 'POST', '/multipart', { filename: 'x.bin', type: 'application/octet-stream', metadata: {} });
    const { key, uploadId } = created.body;
    const q = new URLSearchParams({ key }).toString();
    // max file size 16 MiB: part 5 would start at ≥ 20 MiB.
    const far = await uppy(endpoint, 'GET', `/multipart/${uploadId}/5?${q}`);
    expect(far.status).toBe(413);
    expect((await uppy(endpoint, 'GET', `/multipart/${uploadId}/4?${q}`)).status).toBe(200);
    expect((await (await app.api(ws, '/v1/usage')).json()) as any).toMatchObject({ pendingCount: 1, reservedBytes: 0 });
    const del = await uppy(endpoint, 'DELETE', `/multipart/${uploadId}?${q}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({});
    expect((await uppy(endpoint, 'DELETE', `/multipart/${uploadId}?${q}`)).status).toBe(200);
    expect((await (await app.api(ws, '/v1/usage')).json()) as any).toMatchObject({ pendingCount: 0, reservedBytes: 0 });
  });

  test('over quota at complete → refused and the object is deleted', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    // Three uploads under way at once (nothing reserved: no size declared); the third to complete does not fit in 24 MiB.
    const first = await multipartUpload(endpoint, randomBytes(10 * MiB), 5 * MiB);
    const second = await multipartUpload(endpoint, randomBytes(10 * MiB + 1), 5 * MiB);
    const third = await multipartUpload(endpoint, randomBytes(5 * MiB), 5 * MiB);
    expect((await uppy(endpoint, 'POST', `/multipart/${first.uploadId}/complete?${first.q}`, { parts: first.parts })).status).toBe(200);
    expect((await uppy(endpoint, 'POST', `/multipart/${second.uploadId}/complete?${second.q}`, { parts: second.parts })).status).toBe(200);
    const over = await uppy(endpoint, 'POST', `/multipart/${third.uploadId}/complete?${third.q}`, { parts: third.parts });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('quota_exceeded');
    const file = (await (await app.api(ws, `/v1/files/${third.uploadId}`)).json()) as any;
    expect(file.file).toMatchObject({ status: 'rejected', rejectReason: 'quota_exceeded' });
    expect(await app.deps.storage.head(third.key)).toBeNull();
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as any;
    expect(usage).toMatchObject({ usedBytes: 20 * MiB + 1, reservedBytes: 0, pendingCount: 0 });
    for (const u of [first, second]) await app.api(ws, `/v1/files/${u.uploadId}`, { method: 'DELETE' });
  });

  test("tokens are workspace-bound: another workspace's key or uploadId is a 404; a bad token is a 401", async () => {
    const owner = randomWorkspaceId();
    const endpoint = await endpointFor(owner);
    const created = await uppy(endpoint, 'POST', '/multipart', { filename: 'a.bin', type: 'application/octet-stream', metadata: {} });
    const { key, uploadId } = created.body;
    const q = new URLSearchParams({ key }).toString();
    const other = await endpointFor(randomWorkspaceId());
    for (const [method, path] of [
      ['GET', `/multipart/${uploadId}/1?${q}`],
      ['GET', `/multipart/${uploadId}?${q}`],
      ['POST', `/multipart/${uploadId}/complete?${q}`],
      ['DELETE', `/multipart/${uploadId}?${q}`],
    ] as const) {
      const r = await uppy(other, method, path, method === 'POST' ? { parts: [] } : undefined);
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    // The right uploadId with a key of another upload (even in the same workspace) is refused too.
    const wrongKey = new URLSearchParams({ key: key.replace(/[0-9a-f]{8}-/, '00000000-') }).toString();
    expect((await uppy(endpoint, 'GET', `/multipart/${uploadId}/1?${wrongKey}`)).status).toBe(404);
    expect((await uppy(`${app.baseUrl}/v1/uppy/upt_${'x'.repeat(32)}`, 'GET', '/params?filename=a&type=text%2Fplain')).status).toBe(401);
    // Preflight for the POSTs and the DELETE.
    const pre = await fetch(`${endpoint}/s3/multipart`, { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toContain('DELETE');
    await uppy(endpoint, 'DELETE', `/multipart/${uploadId}?${q}`);
  });
});

// Limits and hygiene of the Uppy routes that do not depend on the S3 engine: the embedded store only.
describe('Uppy endpoints: rate limits, input and logs', () => {
  let app: TestApp;
  let stop: () => Promise<void>;
  const logLines: string[] = [];
  beforeAll(async () => {
    const s = await apiTargets()[0]!.start();
    stop = s.stop;
    app = await startTestApp({
      s3Target: s.target,
      env: { RATE_LIMIT_CREATE: '2', RATE_LIMIT_SIGN: '2', RATE_LIMIT_COMPLETE: '2', RATE_LIMIT_WINDOW_SECONDS: '3600', LOG_LEVEL: 'info' },
      logDestination: { write: (line: string) => void logLines.push(line) },
    });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  async function endpointFor(ws: string): Promise<string> {
    const r = await app.api(ws, '/v1/uppy/tokens', { method: 'POST', json: {} });
    return ((await r.json()) as { endpoint: string }).endpoint;
  }

  test('creating and signing through the Uppy routes count against the workspace rate limits (429 past them)', async () => {
    const endpoint = await endpointFor(randomWorkspaceId());
    const params = () => fetch(`${endpoint}/s3/params?filename=a.txt&type=text%2Fplain`);
    expect([(await params()).status, (await params()).status]).toEqual([200, 200]);
    const limited = await params();
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    // Multipart creation is a create too: the same budget is spent.
    const create = await fetch(`${endpoint}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'b.bin', type: 'application/octet-stream' }) });
    expect(create.status).toBe(429);

    // Part signing has its own budget.
    const ws2 = randomWorkspaceId();
    const e2 = await endpointFor(ws2);
    const created = await fetch(`${e2}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'b.bin', type: 'application/octet-stream' }) });
    const { key, uploadId } = (await created.json()) as { key: string; uploadId: string };
    const sign = () => fetch(`${e2}/s3/multipart/${uploadId}/1?key=${encodeURIComponent(key)}`);
    expect([(await sign()).status, (await sign()).status, (await sign()).status]).toEqual([200, 200, 429]);
  });

  test('a repeated ?key= is a 400, not a skipped check', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const created = await fetch(`${endpoint}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'c.bin', type: 'application/octet-stream' }) });
    const { key, uploadId } = (await created.json()) as { key: string; uploadId: string };
    const r = await fetch(`${endpoint}/s3/multipart/${uploadId}?key=${encodeURIComponent(key)}&key=other`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  test('deeply nested metadata is a 400 (not a 500) and creates nothing', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const nested = '{"a":'.repeat(20_000) + '{}' + '}'.repeat(20_000);
    const r = await fetch(`${endpoint}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"filename":"d.bin","type":"application/octet-stream","metadata":${nested}}` });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/nested/);
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as { pendingCount: number };
    expect(usage.pendingCount).toBe(0);
  });

  test('method=PUT needs the size, and its URL is signed for exactly that size', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const noSize = await fetch(`${endpoint}/s3/params?filename=e.txt&type=text%2Fplain&method=PUT`);
    expect(noSize.status).toBe(400);
    const ok = await fetch(`${endpoint}/s3/params?filename=e.txt&type=text%2Fplain&method=PUT&size=5`);
    expect(ok.status).toBe(200);
    const p = (await ok.json()) as { method: string; url: string; headers: Record<string, string> };
    expect(p.method).toBe('PUT');
    // The Content-Length is one of the signed headers: storage refuses any other size.
    expect(Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v]))['content-length']).toBe('5');
    expect(new URL(p.url).searchParams.get('X-Amz-SignedHeaders')).toContain('content-length');
    const put = await fetch(p.url, { method: 'PUT', headers: p.headers, body: 'hello' });
    expect(put.status).toBe(200);
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as { reservedBytes: number };
    expect(usage.reservedBytes).toBe(5);
  });

  test('an Uppy multipart upload (no declared size) completed through /v1 gets a 409 that says why', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const created = await fetch(`${endpoint}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'g.bin', type: 'application/octet-stream' }) });
    const { uploadId } = (await created.json()) as { uploadId: string };
    const r = await app.api(ws, `/v1/uploads/${uploadId}/complete`, { method: 'POST' });
    expect(r.status).toBe(409);
    const body = (await r.json()) as { error: { message: string; details: { sizeDeclared: boolean } } };
    expect(body.error.message).toMatch(/no declared size/);
    expect(body.error.details.sizeDeclared).toBe(false);
  });

  test("request logs never hold an upload token or the events secret", async () => {
    const endpoint = await endpointFor(randomWorkspaceId());
    const token = /\/uppy\/(upt_[^/]+)/.exec(endpoint)![1]!;
    await fetch(`${endpoint}/s3/params?filename=f.txt&type=text%2Fplain`);
    await fetch(`${app.baseUrl}/v1/events/s3?secret=topsecret-value`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const all = logLines.join('');
    expect(all).toContain('/uppy/upt_[redacted]/s3/params');
    expect(all).toContain('secret=[redacted]');
    expect(all).not.toContain(token);
    expect(all).not.toContain('topsecret-value');
  });
});
