// DOWNLOAD_STRATEGY=cloudfront: CloudFront serves what the S3 origin returns, so every upload path stores the file's
// RFC 6266 Content-Disposition on the object (signed PUT header, policy-pinned POST field, CreateMultipartUpload) and
// completion checks it. Through the real HTTP server, real Postgres, real S3 (embedded store; RGW when configured).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { makeS3Client } from '../helpers/s3-targets.ts';
import { apiTargets, PNG_1x1, uploadPost, uploadPut } from './support.ts';
import { createClient } from '../../src/client/index.ts';

const kp = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KID = 'KCFDISPTEST01';
const CDN = 'https://d111111abcdef8.cloudfront.net';

const TXT = Buffer.from('plain notes, <script>alert(1)</script>\n');
const TXT_DISPOSITION = `attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`;
const PNG_NAME = 'Pixel ünïcode.png';
const PNG_DISPOSITION = `inline; filename="Pixel unicode.png"; filename*=UTF-8''Pixel%20%C3%BCn%C3%AFcode.png`;

describe.each(apiTargets())('stored Content-Disposition (cloudfront strategy) on $name', (t) => {
  // Recorded RGW 16 deviation: a POST upload's Content-Disposition (and Cache-Control) form fields are not stored
  // (HeadObject shows none), where AWS stores them. Completion then refuses the object (disposition_mismatch) instead
  // of letting CloudFront serve it inline: the verification catching a store that dropped a signed field.
  const postStoresDisposition = t.name !== 'rgw';
  let cf: TestApp;
  let edge: TestApp;
  let s3: S3Client;
  let bucket: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const s = await t.start();
    stop = s.stop;
    bucket = s.target.bucket!;
    cf = await startTestApp({
      s3Target: s.target,
      env: {
        DOWNLOAD_STRATEGY: 'cloudfront',
        CDN_BASE_URL: CDN,
        CLOUDFRONT_KEY_PAIR_ID: KID,
        CLOUDFRONT_PRIVATE_KEY: kp.privateKey,
        DOWNLOAD_URL_TTL_SECONDS: '600',
      },
    });
    // The default strategy, on the same bucket and database (also used to create an upload before a "switch").
    edge = await startTestApp({
      s3Target: s.target,
      env: { DOWNLOAD_STRATEGY: 'edge', CDN_BASE_URL: 'http://127.0.0.1:1', CLOUDFRONT_KEY_PAIR_ID: KID, CLOUDFRONT_PRIVATE_KEY: kp.privateKey },
    });
    s3 = makeS3Client(s.target.endpoint, s.target.region ?? 'us-east-1', {
      accessKeyId: s.target.accessKeyId,
      secretAccessKey: s.target.secretAccessKey,
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await edge?.close();
    await cf?.close();
    await stop?.();
  });

  async function json(app: TestApp, ws: string, path: string, init: RequestInit & { json?: unknown } = {}) {
    const r = await app.api(ws, path, init);
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as any };
  }

  async function create(app: TestApp, ws: string, filename: string, contentType: string, body: Buffer, method: string) {
    const c = await json(app, ws, '/v1/uploads', { method: 'POST', json: { filename, contentType, size: body.length, method } });
    expect(c.status).toBe(201);
    return c.body as { file: { id: string }; upload: any };
  }

  /** HeadObject straight through S3 (not through Stowage's adapter). */
  async function storedDisposition(key: string): Promise<string | undefined> {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return h.ContentDisposition;
  }

  async function keyOf(app: TestApp, ws: string, id: string): Promise<string> {
    const row = await app.deps.db.query('SELECT object_key FROM files WHERE id = $1 AND workspace_id = $2', [id, ws]);
    return row.rows[0].object_key as string;
  }

  async function complete(app: TestApp, ws: string, id: string) {
    return json(app, ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
  }

  test.each([
    ['notes.txt', 'text/plain', TXT, TXT_DISPOSITION],
    [PNG_NAME, 'image/png', PNG_1x1, PNG_DISPOSITION],
  ])('PUT %s (%s): the signed header is in upload.headers and stored on the object', async (filename, type, body, expected) => {
    const ws = randomWorkspaceId();
    const c = await create(cf, ws, filename, type, body, 'put');
    expect(c.upload.method).toBe('PUT');
    expect(c.upload.headers['Content-Disposition']).toBe(expected);
    expect(new URL(c.upload.url).searchParams.get('X-Amz-SignedHeaders')).toContain('content-disposition');
    expect((await uploadPut(c.upload, body)).status).toBe(200);
    const done = await complete(cf, ws, c.file.id);
    expect(done.status).toBe(200);
    expect(done.body.file.status).toBe('available');
    expect(await storedDisposition(await keyOf(cf, ws, c.file.id))).toBe(expected);
  });

  test.each([
    ['without the Content-Disposition header', (h: Record<string, string>) => { delete h['Content-Disposition']; }],
    ['with the Content-Disposition changed to inline', (h: Record<string, string>) => { h['Content-Disposition'] = h['Content-Disposition']!.replace(/^attachment/, 'inline'); }],
    ['with another filename', (h: Record<string, string>) => { h['Content-Disposition'] = `attachment; filename="notes.html"`; }],
  ])('a PUT %s is refused by storage (403) and the upload never becomes available', async (_name, bend) => {
    const ws = randomWorkspaceId();
    const c = await create(cf, ws, 'notes.txt', 'text/plain', TXT, 'put');
    const headers = { ...c.upload.headers } as Record<string, string>;
    bend(headers);
    const put = await fetch(c.upload.url, { method: "PUT", headers, body: TXT as BodyInit });
    expect(put.status).toBe(403);
    expect(await put.text()).toMatch(/SignatureDoesNotMatch|AccessDenied/);
    const done = await complete(cf, ws, c.file.id);
    expect(done.status).toBe(409);
    expect(done.body.error.code).toBe('upload_not_found_in_storage');
    expect((await json(cf, ws, `/v1/files/${c.file.id}`)).body.file.status).toBe('pending');
    expect((await cf.api(ws, `/v1/files/${c.file.id}/download`)).status).toBe(404);
    // The header as signed still works.
    expect((await uploadPut(c.upload, TXT)).status).toBe(200);
    expect((await complete(cf, ws, c.file.id)).body.file.status).toBe('available');
  });

  test.each([
    ['notes.txt', 'text/plain', TXT, TXT_DISPOSITION],
    [PNG_NAME, 'image/png', PNG_1x1, PNG_DISPOSITION],
  ])('POST %s (%s): the policy-pinned field is stored on the object', async (filename, type, body, expected) => {
    const ws = randomWorkspaceId();
    const c = await create(cf, ws, filename, type, body, 'post');
    expect(c.upload.method).toBe('POST');
    expect(c.upload.fields['Content-Disposition']).toBe(expected);
    const post = await uploadPost(c.upload, body, filename);
    expect(post.status).toBeLessThan(300);
    const done = await complete(cf, ws, c.file.id);
    if (!postStoresDisposition) {
      expect(done.status).toBe(422);
      expect(done.body.error.details.reason).toBe('disposition_mismatch');
      return;
    }
    expect(done.body.file.status).toBe('available');
    expect(await storedDisposition(await keyOf(cf, ws, c.file.id))).toBe(expected);
  });

  test('a POST form without (or with a changed) Content-Disposition field is refused by the policy', async () => {
    const ws = randomWorkspaceId();
    const c = await create(cf, ws, 'notes.txt', 'text/plain', TXT, 'post');
    const { 'Content-Disposition': _dropped, ...without } = c.upload.fields as Record<string, string>;
    expect((await uploadPost({ url: c.upload.url, fields: without }, TXT)).status).toBe(403);
    const changed = { ...c.upload.fields, 'Content-Disposition': 'inline' };
    expect((await uploadPost({ url: c.upload.url, fields: changed }, TXT)).status).toBe(403);
    expect((await complete(cf, ws, c.file.id)).status).toBe(409);
  });

  test.each([
    ['notes.txt', 'text/plain', TXT, TXT_DISPOSITION],
    [PNG_NAME, 'image/png', PNG_1x1, PNG_DISPOSITION],
  ])('multipart %s (%s): the completed object carries the disposition', async (filename, type, body, expected) => {
    const ws = randomWorkspaceId();
    const c = await create(cf, ws, filename, type, body, 'multipart');
    expect(c.upload).toMatchObject({ method: 'MULTIPART', partCount: 1 });
    const signed = await json(cf, ws, `/v1/uploads/${c.file.id}/parts`, { method: 'POST', json: { partNumbers: [1] } });
    expect(signed.status).toBe(200);
    // Parts carry no Content-Disposition: it was set at CreateMultipartUpload.
    expect(Object.keys(signed.body.parts[0].headers).map((h) => h.toLowerCase())).not.toContain('content-disposition');
    const put = await fetch(signed.body.parts[0].url, { method: 'PUT', headers: signed.body.parts[0].headers, body });
    expect(put.status).toBe(200);
    expect((await complete(cf, ws, c.file.id)).body.file.status).toBe('available');
    expect(await storedDisposition(await keyOf(cf, ws, c.file.id))).toBe(expected);
  });

  test('Uppy/Companion: POST params, PUT params and multipart all store the disposition', async () => {
    const ws = randomWorkspaceId();
    const tok = await json(cf, ws, '/v1/uppy/tokens', { method: 'POST', json: {} });
    const endpoint = tok.body.endpoint as string;
    const uppy = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${endpoint}/s3${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as any };
    };
    const settle = async (key: string) => {
      const row = await cf.deps.db.query('SELECT id FROM files WHERE object_key = $1', [key]);
      const { settleUpload } = await import('../../src/services/complete-upload.ts');
      const { getFile } = await import('../../src/db/files.ts');
      const file = await getFile(cf.deps.db, ws, row.rows[0].id);
      return settleUpload(cf.deps, file!);
    };

    // Uppy 6: POST form with every field as given.
    const post = await uppy('GET', '/params?filename=notes.txt&type=text%2Fplain');
    expect(post.status).toBe(200);
    expect(post.body.fields['Content-Disposition']).toBe(TXT_DISPOSITION);
    expect((await uploadPost(post.body, TXT, 'notes.txt')).status).toBeLessThan(300);
    if (postStoresDisposition) {
      expect(await settle(post.body.fields.key)).toMatchObject({ status: 'available' });
      expect(await storedDisposition(post.body.fields.key)).toBe(TXT_DISPOSITION);
    } else {
      expect(await settle(post.body.fields.key)).toMatchObject({ status: 'rejected', rejectReason: 'disposition_mismatch' });
    }

    // Uppy 5 may ask for a PUT: the signed header is in `headers`, which it sends.
    const put = await uppy('GET', `/params?filename=${encodeURIComponent(PNG_NAME)}&type=image%2Fpng&method=PUT&size=${PNG_1x1.length}`);
    expect(put.body.method).toBe('PUT');
    expect(put.body.headers['Content-Disposition']).toBe(PNG_DISPOSITION);
    const key = new URL(put.body.url).pathname.split('/').slice(2).map(decodeURIComponent).join('/');
    const { 'Content-Disposition': _d, ...withoutDisposition } = put.body.headers as Record<string, string>;
    expect((await fetch(put.body.url, { method: 'PUT', headers: withoutDisposition, body: PNG_1x1 })).status).toBe(403);
    expect((await fetch(put.body.url, { method: 'PUT', headers: put.body.headers, body: PNG_1x1 })).status).toBe(200);
    expect(await settle(key)).toMatchObject({ status: 'available' });
    expect(await storedDisposition(key)).toBe(PNG_DISPOSITION);

    // Multipart (what Uppy does for big files; one small part is enough here).
    const created = await uppy('POST', '/multipart', { filename: PNG_NAME, type: 'image/png', metadata: {} });
    expect(created.status).toBe(200);
    const q = new URLSearchParams({ key: created.body.key }).toString();
    const signed = await uppy('GET', `/multipart/${created.body.uploadId}/1?${q}`);
    const part = await fetch(signed.body.url, { method: 'PUT', body: PNG_1x1 });
    expect(part.status).toBe(200);
    const done = await uppy('POST', `/multipart/${created.body.uploadId}/complete?${q}`, {
      parts: [{ PartNumber: 1, ETag: part.headers.get('etag')!.replace(/"/g, '') }],
    });
    expect(done.status).toBe(200);
    expect(await storedDisposition(created.body.key)).toBe(PNG_DISPOSITION);
  });

  test('the SDK sends every header of upload.headers (PUT) and every field (POST): the objects carry the disposition', async () => {
    const ws = randomWorkspaceId();
    const client = createClient({ baseUrl: cf.baseUrl, getToken: () => cf.tokenFor(ws) });
    const put = await client.upload(new Blob([TXT], { type: 'text/plain' }), { filename: 'notes.txt' }).done;
    expect(put).toMatchObject({ status: 'available', uploadMethod: 'put' });
    expect(await storedDisposition(await keyOf(cf, ws, put.id))).toBe(TXT_DISPOSITION);
    const post = client.upload(new Blob([PNG_1x1], { type: 'image/png' }), { filename: PNG_NAME, method: 'post' }).done;
    if (postStoresDisposition) {
      const file = await post;
      expect(file).toMatchObject({ status: 'available', uploadMethod: 'post' });
      expect(await storedDisposition(await keyOf(cf, ws, file.id))).toBe(PNG_DISPOSITION);
    } else {
      await expect(post).rejects.toThrow(/Content-Disposition/);
    }
    const mp = await client.upload(new Blob([PNG_1x1], { type: 'image/png' }), { filename: PNG_NAME, method: 'multipart' }).done;
    expect(mp).toMatchObject({ status: 'available', uploadMethod: 'multipart' });
    expect(await storedDisposition(await keyOf(cf, ws, mp.id))).toBe(PNG_DISPOSITION);
  });

  test('an object without the expected disposition (created before the switch to cloudfront) is rejected: disposition_mismatch', async () => {
    const ws = randomWorkspaceId();
    const c = await create(edge, ws, 'notes.txt', 'text/plain', TXT, 'put');
    expect(c.upload.headers['Content-Disposition']).toBeUndefined();
    expect((await uploadPut(c.upload, TXT)).status).toBe(200);
    const key = await keyOf(cf, ws, c.file.id);
    const done = await complete(cf, ws, c.file.id);
    expect(done.status).toBe(422);
    expect(done.body.error).toMatchObject({ code: 'verification_failed' });
    expect(done.body.error.details.reason).toBe('disposition_mismatch');
    expect((await json(cf, ws, `/v1/files/${c.file.id}`)).body.file).toMatchObject({ status: 'rejected', rejectReason: 'disposition_mismatch' });
    const usage = (await json(cf, ws, '/v1/usage')).body;
    expect(usage).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 });
    void key;
  });

  test('download URLs: the stored disposition is served; ?disposition=attachment on a safe type adds a signed response-content-disposition', async () => {
    const ws = randomWorkspaceId();
    const png = await create(cf, ws, PNG_NAME, 'image/png', PNG_1x1, 'put');
    expect((await uploadPut(png.upload, PNG_1x1)).status).toBe(200);
    expect((await complete(cf, ws, png.file.id)).status).toBe(200);
    const txt = await create(cf, ws, 'notes.txt', 'text/plain', TXT, 'put');
    expect((await uploadPut(txt.upload, TXT)).status).toBe(200);
    expect((await complete(cf, ws, txt.file.id)).status).toBe(200);

    const url = async (id: string, q = '') => new URL(((await json(cf, ws, `/v1/files/${id}/download${q}`)).body as { url: string }).url);
    const plain = await url(png.file.id);
    expect(plain.origin).toBe(CDN);
    expect([...plain.searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    const att = await url(png.file.id, '?disposition=attachment');
    expect(att.searchParams.get('response-content-disposition')).toBe(PNG_DISPOSITION.replace(/^inline/, 'attachment'));
    expect(att.searchParams.get('response-content-type')).toBeNull();
    expect(att.search.indexOf('response-content-disposition')).toBeLessThan(att.search.indexOf('Signature='));
    for (const q of ['', '?disposition=attachment', '?disposition=inline']) {
      expect([...(await url(txt.file.id, q)).searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    }
  });

  test('default edge strategy: nothing is stored, no Content-Disposition in upload.headers or fields', async () => {
    const ws = randomWorkspaceId();
    const put = await create(edge, ws, 'notes.txt', 'text/plain', TXT, 'put');
    expect(Object.keys(put.upload.headers).map((h) => h.toLowerCase())).not.toContain('content-disposition');
    expect((await uploadPut(put.upload, TXT)).status).toBe(200);
    expect((await complete(edge, ws, put.file.id)).body.file.status).toBe('available');
    expect(await storedDisposition(await keyOf(edge, ws, put.file.id))).toBeUndefined();
    const post = await create(edge, ws, 'p.png', 'image/png', PNG_1x1, 'post');
    expect(Object.keys(post.upload.fields).map((h) => h.toLowerCase())).not.toContain('content-disposition');
    const mp = await create(edge, ws, 'p.png', 'image/png', PNG_1x1, 'multipart');
    const signed = await json(edge, ws, `/v1/uploads/${mp.file.id}/parts`, { method: 'POST', json: { partNumbers: [1] } });
    expect((await fetch(signed.body.parts[0].url, { method: 'PUT', headers: signed.body.parts[0].headers, body: PNG_1x1 })).status).toBe(200);
    expect((await complete(edge, ws, mp.file.id)).body.file.status).toBe('available');
    expect(await storedDisposition(await keyOf(edge, ws, mp.file.id))).toBeUndefined();
    void randomBytes;
  });
});
