import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { apiTargets, PNG_1x1, rawRequest, sha256b64, uploadPost, uploadPut } from './support.ts';

describe.each(apiTargets())('upload flow on $name', (t) => {
  let app: TestApp;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    const s = await t.start();
    stop = s.stop;
    app = await startTestApp({ s3Target: s.target });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  async function create(ws: string, body: Record<string, unknown>) {
    const r = await app.api(ws, '/v1/uploads', { method: 'POST', json: body });
    return { status: r.status, body: (await r.json()) as any };
  }

  test('PUT happy path: create → PUT → complete → available; usage counts it', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'pixel.png', contentType: 'image/png', size: PNG_1x1.length, checksumSha256: sha256b64(PNG_1x1) });
    expect(c.status).toBe(201);
    expect(c.body.file.status).toBe('pending');
    expect(c.body.upload.method).toBe('PUT');
    expect(Object.keys(c.body.upload.headers).map((h: string) => h.toLowerCase()).sort()).toEqual(
      ['content-length', 'content-type', 'if-none-match', 'x-amz-checksum-sha256'],
    );
    const put = await uploadPut(c.body.upload, PNG_1x1);
    expect(put.status).toBe(200);
    const done = await app.api(ws, `/v1/uploads/${c.body.file.id}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    const file = ((await done.json()) as any).file;
    expect(file.status).toBe('available');
    expect(file.size).toBe(PNG_1x1.length);
    const again = await app.api(ws, `/v1/uploads/${c.body.file.id}/complete`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).file).toEqual(file);
    const usage = (await (await app.api(ws, '/v1/usage')).json()) as any;
    expect(usage).toMatchObject({ usedBytes: PNG_1x1.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
  });

  test('POST form happy path', async () => {
    const ws = randomWorkspaceId();
    const body = Buffer.from('hello, stowage\n');
    const c = await create(ws, { filename: 'hello.txt', contentType: 'text/plain', size: body.length, method: 'post' });
    expect(c.status).toBe(201);
    expect(c.body.upload.method).toBe('POST');
    const r = await uploadPost(c.body.upload, body, 'hello.txt');
    expect(r.status).toBeLessThan(300);
    const done = await app.api(ws, `/v1/uploads/${c.body.file.id}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(((await done.json()) as any).file.status).toBe('available');
  });

  test('a body longer than declared is refused by storage', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'a.txt', contentType: 'text/plain', size: 10 });
    const body = Buffer.from('0123456789ABCDEF');
    const r = await rawRequest(c.body.upload.url, {
      method: 'PUT',
      headers: { ...c.body.upload.headers, 'Content-Length': String(body.length) },
      body,
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const done = await app.api(ws, `/v1/uploads/${c.body.file.id}/complete`, { method: 'POST' });
    expect(done.status).toBe(409);
    expect(((await done.json()) as any).error.code).toBe('upload_not_found_in_storage');
  });
});
