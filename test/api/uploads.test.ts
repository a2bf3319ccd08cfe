// The direct single-upload flow through the real HTTP server, real Postgres and a real S3 (embedded store, RGW).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { setWorkspaceLimits } from '../../src/db/workspaces.ts';
import { apiTargets, PNG_1x1, rawRequest, sha256b64, uploadPost, uploadPut } from './support.ts';

type Json = any; // response bodies are checked field by field

describe.each(apiTargets())('uploads on $name', (t) => {
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

  async function call(ws: string, method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
    const r = await app.api(ws, path, { method, ...(json !== undefined ? { json } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
  const create = (ws: string, body: Record<string, unknown>) => call(ws, 'POST', '/v1/uploads', body);
  const complete = (ws: string, id: string) => call(ws, 'POST', `/v1/uploads/${id}/complete`);
  const usage = async (ws: string) => (await call(ws, 'GET', '/v1/usage')).body;

  async function uploadedFile(ws: string, body: Buffer = PNG_1x1, contentType = 'image/png', filename = 'x.png') {
    const c = await create(ws, { filename, contentType, size: body.length });
    expect(c.status).toBe(201);
    expect((await uploadPut(c.body.upload, body)).status).toBe(200);
    const d = await complete(ws, c.body.file.id);
    expect(d.status).toBe(200);
    return { id: c.body.file.id as string, upload: c.body.upload, file: d.body.file };
  }

  test('the key is workspaces/{ws}/files/{id}{.ext} and the PUT signs exactly the headers returned', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'photo.PNG', contentType: 'image/png', size: PNG_1x1.length });
    expect(c.status).toBe(201);
    const url = new URL(c.body.upload.url);
    expect(decodeURIComponent(url.pathname)).toMatch(new RegExp(`/workspaces/${ws}/files/${c.body.file.id}\\.png$`));
    const signed = (url.searchParams.get('X-Amz-SignedHeaders') ?? '').split(';');
    expect(signed).toEqual(expect.arrayContaining(['content-length', 'content-type', 'host', 'if-none-match']));
    expect(c.body.upload.headers).toEqual({ 'Content-Type': 'image/png', 'Content-Length': String(PNG_1x1.length), 'If-None-Match': '*' });
    expect(new Date(c.body.upload.expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  test('a PUT with a different Content-Type is refused by storage', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'x.png', contentType: 'image/png', size: PNG_1x1.length });
    const r = await uploadPut(c.body.upload, PNG_1x1, { 'Content-Type': 'text/html' });
    expect(r.status).toBe(403);
    expect((await complete(ws, c.body.file.id)).body.error.code).toBe('upload_not_found_in_storage');
  });

  test('the PUT URL replayed after completion cannot overwrite (412)', async () => {
    const ws = randomWorkspaceId();
    const f = await uploadedFile(ws);
    const replay = await uploadPut(f.upload, PNG_1x1);
    expect(replay.status).toBe(412);
    const head = await app.deps.storage.head(`workspaces/${ws}/files/${f.id}.png`);
    expect(head?.size).toBe(PNG_1x1.length);
  });

  test('complete before the object exists → 409 upload_not_found_in_storage, file stays pending', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'x.png', contentType: 'image/png', size: PNG_1x1.length });
    const d = await complete(ws, c.body.file.id);
    expect(d.status).toBe(409);
    expect(d.body.error.code).toBe('upload_not_found_in_storage');
    expect((await call(ws, 'GET', `/v1/files/${c.body.file.id}`)).body.file.status).toBe('pending');
  });

  test.each([
    { name: 'HTML declared as image/png', contentType: 'image/png', body: '<!DOCTYPE html><html><script>alert(1)</script></html>', reason: 'active_content' },
    { name: 'SVG declared as image/png', contentType: 'image/png', body: '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', reason: 'active_content' },
    { name: 'text declared as image/jpeg', contentType: 'image/jpeg', body: 'just some text, not a jpeg', reason: 'content_type_mismatch' },
    { name: 'PNG declared as application/pdf', contentType: 'application/pdf', body: PNG_1x1, reason: 'content_type_mismatch' },
    { name: 'ELF executable declared as application/pdf', contentType: 'application/pdf', body: Buffer.concat([Buffer.from('7f454c4602010100', 'hex'), Buffer.alloc(120)]), reason: 'executable_content' },
  ])('$name → rejected ($reason), object deleted, reservation released', async ({ contentType, body, reason }) => {
    const ws = randomWorkspaceId();
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const c = await create(ws, { filename: 'evil', contentType, size: bytes.length });
    expect(c.status).toBe(201);
    expect((await uploadPut(c.body.upload, bytes)).status).toBe(200);
    const d = await complete(ws, c.body.file.id);
    expect(d.status).toBe(422);
    expect(d.body.error.code).toBe('verification_failed');
    expect(d.body.error.details.reason).toBe(reason);
    expect(d.body.error.details.file.status).toBe('rejected');
    // Repeated: the same answer.
    expect(await complete(ws, c.body.file.id)).toEqual(d);
    const key = new URL(c.body.upload.url).pathname.split('/').slice(2).join('/');
    expect(await app.deps.storage.head(decodeURIComponent(key))).toBeNull();
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 });
    const g = await call(ws, 'GET', `/v1/files/${c.body.file.id}`);
    expect(g.body.file).toMatchObject({ status: 'rejected', rejectReason: reason });
  });

  test('POST form: a declared checksum that does not match is rejected at complete', async () => {
    const ws = randomWorkspaceId();
    const body = Buffer.from('the real content\n');
    const c = await create(ws, { filename: 'a.txt', contentType: 'text/plain', size: body.length, method: 'post', checksumSha256: sha256b64('other content') });
    expect(c.status).toBe(201);
    expect((await uploadPost(c.body.upload, body)).status).toBeLessThan(300);
    const d = await complete(ws, c.body.file.id);
    expect(d.status).toBe(422);
    expect(d.body.error.details.reason).toBe('checksum_mismatch');
  });

  test('PUT: bytes that do not match the declared checksum never become available', async () => {
    const ws = randomWorkspaceId();
    const body = Buffer.from('actual bytes....');
    const declared = sha256b64(Buffer.from('other bytes.....'));
    const c = await create(ws, { filename: 'a.txt', contentType: 'text/plain', size: body.length, checksumSha256: declared });
    expect(c.body.upload.headers['x-amz-checksum-sha256']).toBe(declared);
    const put = await uploadPut(c.body.upload, body);
    const d = await complete(ws, c.body.file.id);
    if (put.status === 200) {
      // A store that does not check x-amz-checksum-sha256 itself: Stowage's own check rejects it.
      expect(d.status).toBe(422);
      expect(d.body.error.details.reason).toBe('checksum_mismatch');
    } else {
      expect(put.status).toBe(400); // BadDigest
      expect(d.body.error.code).toBe('upload_not_found_in_storage');
    }
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, fileCount: 0 });
  });

  test('POST form: a body of another size is refused by storage (content-length-range)', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'a.txt', contentType: 'text/plain', size: 5, method: 'post' });
    const r = await uploadPost(c.body.upload, Buffer.from('more than five bytes'));
    expect(r.status).toBeGreaterThanOrEqual(400);
  });

  test('concurrent completes make one transition and all get the same answer', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename: 'x.png', contentType: 'image/png', size: PNG_1x1.length });
    await uploadPut(c.body.upload, PNG_1x1);
    const answers = await Promise.all(Array.from({ length: 12 }, () => complete(ws, c.body.file.id)));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(200);
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG_1x1.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
  });

  test('concurrent completes of a bad upload: one rejection, the same 422 for everyone', async () => {
    const ws = randomWorkspaceId();
    const html = Buffer.from('<html><body>hi</body></html>');
    const c = await create(ws, { filename: 'x.png', contentType: 'image/png', size: html.length });
    await uploadPut(c.body.upload, html);
    const answers = await Promise.all(Array.from({ length: 12 }, () => complete(ws, c.body.file.id)));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(422);
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 });
  });

  test.each([
    { limit: 'quota_bytes', limits: { quotaBytes: 7 * 1000 }, fits: 7 },
    { limit: 'max_pending', limits: { maxPending: 5 }, fits: 5 },
    { limit: 'max_files', limits: { maxFiles: 3 }, fits: 3 },
  ])('50 concurrent creates where $fits fit ($limit) → exactly $fits succeed, usage exact', async ({ limit, limits, fits }) => {
    const ws = randomWorkspaceId();
    await usage(ws); // creates the workspace with the defaults
    await setWorkspaceLimits(app.deps.db, ws, limits);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => create(ws, { filename: `f${i}.txt`, contentType: 'text/plain', size: 1000 })),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(ok).toHaveLength(fits);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('quota_exceeded');
      expect(r.body.error.details.limit).toBe(limit);
    }
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, reservedBytes: fits * 1000, pendingCount: fits, fileCount: 0 });
  });

  test('quota accounting: complete moves reserved to used; delete frees it; delete is idempotent', async () => {
    const ws = randomWorkspaceId();
    const f = await uploadedFile(ws);
    expect(await usage(ws)).toMatchObject({ usedBytes: PNG_1x1.length, reservedBytes: 0, fileCount: 1 });
    const del = await call(ws, 'DELETE', `/v1/files/${f.id}`);
    expect(del.status).toBe(204);
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 });
    expect(await app.deps.storage.head(`workspaces/${ws}/files/${f.id}.png`)).toBeNull();
    expect((await call(ws, 'DELETE', `/v1/files/${f.id}`)).status).toBe(204);
    expect((await call(ws, 'GET', `/v1/files/${f.id}`)).body.file.status).toBe('deleted');
    expect(await usage(ws)).toMatchObject({ usedBytes: 0, fileCount: 0 });
    // Deleting a pending upload releases its reservation.
    const c = await create(ws, { filename: 'p.txt', contentType: 'text/plain', size: 123 });
    expect(await usage(ws)).toMatchObject({ reservedBytes: 123, pendingCount: 1 });
    expect((await call(ws, 'DELETE', `/v1/files/${c.body.file.id}`)).status).toBe(204);
    expect(await usage(ws)).toMatchObject({ reservedBytes: 0, pendingCount: 0 });
    // Aborting (DELETE /v1/uploads/:id) a pending upload, twice.
    const c2 = await create(ws, { filename: 'q.txt', contentType: 'text/plain', size: 7 });
    expect((await call(ws, 'DELETE', `/v1/uploads/${c2.body.file.id}`)).status).toBe(204);
    expect((await call(ws, 'DELETE', `/v1/uploads/${c2.body.file.id}`)).status).toBe(204);
    expect(await usage(ws)).toMatchObject({ reservedBytes: 0, pendingCount: 0 });
  });

  test('files list: newest first, cursor pagination, status filter', async () => {
    const ws = randomWorkspaceId();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await uploadedFile(ws)).id);
    for (let i = 0; i < 2; i++) ids.push((await create(ws, { filename: `p${i}.txt`, contentType: 'text/plain', size: 3 })).body.file.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: Json } = await call(ws, 'GET', `/v1/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((f: Json) => f.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    const available = await call(ws, 'GET', '/v1/files?status=available');
    expect(available.body.items.map((f: Json) => f.id)).toEqual(ids.slice(0, 3).reverse());
    const pending = await call(ws, 'GET', '/v1/uploads?status=pending');
    expect(pending.body.items.map((f: Json) => f.id)).toEqual(ids.slice(3).reverse());
    expect((await call(ws, 'GET', '/v1/files?status=bogus')).status).toBe(400);
    expect((await call(ws, 'GET', '/v1/files?cursor=not-a-cursor')).status).toBe(400);
    expect((await call(ws, 'GET', '/v1/files?limit=0')).status).toBe(400);
  });

  test('every endpoint with another workspace\'s id answers exactly like an unknown id (404)', async () => {
    const owner = randomWorkspaceId('owner');
    const intruder = randomWorkspaceId('intruder');
    const f = await uploadedFile(owner);
    const pending = (await create(owner, { filename: 'p.txt', contentType: 'text/plain', size: 3 })).body.file.id;
    const unknown = '00000000-0000-4000-8000-000000000000';
    const endpoints: [string, (id: string) => string, unknown?][] = [
      ['GET', (id) => `/v1/files/${id}`],
      ['DELETE', (id) => `/v1/files/${id}`],
      ['GET', (id) => `/v1/files/${id}/download`],
      ['POST', (id) => `/v1/uploads/${id}/complete`],
      ['DELETE', (id) => `/v1/uploads/${id}`],
      ['GET', (id) => `/v1/uploads/${id}/parts`],
      ['POST', (id) => `/v1/uploads/${id}/parts`, { partNumbers: [1] }],
    ];
    for (const [method, path, json] of endpoints) {
      for (const id of [f.id, pending]) {
        const theirs = await call(intruder, method, path(id), json);
        const none = await call(intruder, method, path(unknown), json);
        expect({ method, path: path(':id'), status: theirs.status }).toEqual({ method, path: path(':id'), status: 404 });
        expect(theirs.body.error.code).toBe('not_found');
        expect(theirs.body).toEqual(none.body);
      }
    }
    // Nothing changed for the owner; the intruder sees nothing.
    expect((await call(owner, 'GET', `/v1/files/${f.id}`)).body.file.status).toBe('available');
    expect((await call(owner, 'GET', `/v1/files/${pending}`)).body.file.status).toBe('pending');
    expect((await call(intruder, 'GET', '/v1/files')).body.items).toEqual([]);
    expect(await usage(intruder)).toMatchObject({ usedBytes: 0, reservedBytes: 0, fileCount: 0 });
    expect((await call(intruder, 'GET', '/v1/files/not-a-uuid')).status).toBe(404);
  });

  test.each([
    { name: 'path traversal', filename: '../../x', expected: 'x' },
    { name: 'Windows path', filename: '..\\..\\windows\\system32\\evil.png', expected: 'evil.png' },
    { name: 'NUL byte', filename: 'a\u0000b.png', expected: 'ab.png' },
    { name: 'RTL override', filename: 'invoice\u202Egnp.exe', expected: 'invoicegnp.exe' },
    { name: 'control characters', filename: 'new\r\nline\t.png', expected: 'newline.png' },
    { name: 'emoji', filename: '📸 holiday 🏖️.png', expected: '📸 holiday 🏖️.png' },
    { name: '10 KB name', filename: 'a'.repeat(10_000) + '.png', expected: undefined },
    { name: 'only dots', filename: '..', expected: 'file' },
    { name: 'quotes and header breakers', filename: 'a"b;c\r\nSet-Cookie: x=y.png', expected: undefined },
  ])('hostile filename ($name) is harmless', async ({ filename, expected }) => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { filename, contentType: 'image/png', size: PNG_1x1.length });
    expect(c.status).toBe(201);
    const stored: string = c.body.file.filename;
    if (expected !== undefined) expect(stored).toBe(expected);
    expect(stored).not.toMatch(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069/\\"]/u);
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(255);
    expect(stored.length).toBeGreaterThan(0);
    // The key never contains user text.
    expect(decodeURIComponent(new URL(c.body.upload.url).pathname)).toMatch(new RegExp(`/workspaces/${ws}/files/${c.body.file.id}\\.png$`));
    expect((await uploadPut(c.body.upload, PNG_1x1)).status).toBe(200);
    expect((await complete(ws, c.body.file.id)).body.file.filename).toBe(stored);
  });

  test.each([
    { name: 'size 0', body: { filename: 'a', contentType: 'text/plain', size: 0 }, status: 400, code: 'invalid_request' },
    { name: 'size not a number', body: { filename: 'a', contentType: 'text/plain', size: '5' }, status: 400, code: 'invalid_request' },
    { name: 'missing filename', body: { contentType: 'text/plain', size: 5 }, status: 400, code: 'invalid_request' },
    { name: 'bad content type', body: { filename: 'a', contentType: 'not a type', size: 5 }, status: 400, code: 'invalid_request' },
    { name: 'bad checksum', body: { filename: 'a', contentType: 'text/plain', size: 5, checksumSha256: 'abc' }, status: 400, code: 'invalid_request' },
    { name: 'bad method', body: { filename: 'a', contentType: 'text/plain', size: 5, method: 'ftp' }, status: 400, code: 'invalid_request' },
    { name: 'metadata not an object', body: { filename: 'a', contentType: 'text/plain', size: 5, metadata: [1] }, status: 400, code: 'invalid_request' },
    { name: 'too large', body: { filename: 'a', contentType: 'text/plain', size: 6 * 1024 ** 3 }, status: 413, code: 'file_too_large' },
    { name: 'type not allowed', body: { filename: 'a.html', contentType: 'text/html', size: 5 }, status: 415, code: 'content_type_not_allowed' },
  ])('create refuses $name → $status $code', async ({ body, status, code }) => {
    const ws = randomWorkspaceId();
    const r = await create(ws, body);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(await usage(ws)).toMatchObject({ reservedBytes: 0, pendingCount: 0 });
  });

  test('malformed JSON → 400 invalid_request', async () => {
    const r = await fetch(`${app.baseUrl}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await app.tokenFor(randomWorkspaceId())}`, 'content-type': 'application/json' },
      body: '{"filename":',
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as Json).error.code).toBe('invalid_request');
  });

  test('tokens: missing, malformed, expired, tampered, wrong key, alg none, no workspace claim → 401', async () => {
    const ws = randomWorkspaceId();
    const good = await app.tokenFor(ws);
    const [h, p, s] = good.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = [h, Buffer.from(JSON.stringify({ ...payload, workspace_id: 'someone-else' })).toString('base64url'), s].join('.');
    const none = [Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'), p, ''].join('.');
    const expired = await app.tokenFor(ws, { now: new Date(Date.now() - 7200_000), ttlSeconds: 60 });
    const { mintToken } = await import('../../src/http/auth.ts');
    const wrongKey = await mintToken({ secret: 'x'.repeat(40), workspaceId: ws });
    const noClaim = await app.tokenFor(ws, { extraClaims: {} }).then(async () =>
      mintToken({ secret: app.config.auth.jwtSecret!, workspaceId: ws, workspaceClaim: 'tenant' }),
    );
    const badWorkspace = await mintToken({ secret: app.config.auth.jwtSecret!, workspaceId: 'ok', extraClaims: {}, workspaceClaim: 'other' }).then(() =>
      mintToken({ secret: app.config.auth.jwtSecret!, workspaceId: '../etc' }),
    );
    const cases: [string, Record<string, string>][] = [
      ['missing', {}],
      ['malformed header', { authorization: 'Token abc' }],
      ['garbage', { authorization: 'Bearer not.a.jwt' }],
      ['expired', { authorization: `Bearer ${expired}` }],
      ['tampered', { authorization: `Bearer ${tampered}` }],
      ['alg none', { authorization: `Bearer ${none}` }],
      ['wrong key', { authorization: `Bearer ${wrongKey}` }],
      ['no workspace claim', { authorization: `Bearer ${noClaim}` }],
      ['unsafe workspace id', { authorization: `Bearer ${badWorkspace}` }],
    ];
    for (const [name, headers] of cases) {
      for (const path of ['/v1/usage', '/v1/files']) {
        const r = await fetch(app.baseUrl + path, { headers });
        expect({ name, path, status: r.status }).toEqual({ name, path, status: 401 });
        expect(((await r.json()) as Json).error.code).toBe('unauthorized');
      }
    }
    expect((await fetch(app.baseUrl + '/v1/usage', { headers: { authorization: `Bearer ${good}` } })).status).toBe(200);
  });

  test('health: /healthz and /readyz; responses carry a request id', async () => {
    const h = await fetch(app.baseUrl + '/healthz');
    expect(h.status).toBe(200);
    expect(h.headers.get('x-request-id')).toBeTruthy();
    const r = await fetch(app.baseUrl + '/readyz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
    const mine = await fetch(app.baseUrl + '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers.get('x-request-id')).toBe('abc-123');
  });
});
