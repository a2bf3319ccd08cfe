// Tenant isolation: a table-driven attack over every route. Another workspace's file ids, upload ids, part numbers,
// keys and download URLs; ids that do not exist; malformed ids; forged, altered, unsigned, expired and not-yet-valid
// tokens. Every case must answer exactly like an id that does not exist (status, body, headers) and change nothing.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget } from '../helpers/s3-targets.ts';
import { startEdge, type EdgeHandle } from '../../src/edge/server.ts';
import { PNG_1x1, uploadPut } from '../api/support.ts';
import { b64url, fingerprintOf, isErrorShape, raw, type RawAnswer } from './helpers.ts';

type Json = any;

const kp = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KID = 'KISOLATION0001';

/** Every route that takes an id. `body` is sent as JSON. */
const ID_ROUTES: { name: string; method: string; path: (id: string) => string; body?: unknown }[] = [
  { name: 'GET file', method: 'GET', path: (id) => `/v1/files/${id}` },
  { name: 'DELETE file', method: 'DELETE', path: (id) => `/v1/files/${id}` },
  { name: 'GET download', method: 'GET', path: (id) => `/v1/files/${id}/download` },
  { name: 'GET download redirect', method: 'GET', path: (id) => `/v1/files/${id}/download?redirect=1&disposition=attachment` },
  { name: 'POST complete', method: 'POST', path: (id) => `/v1/uploads/${id}/complete` },
  { name: 'DELETE upload', method: 'DELETE', path: (id) => `/v1/uploads/${id}` },
  { name: 'POST sign parts', method: 'POST', path: (id) => `/v1/uploads/${id}/parts`, body: { partNumbers: [1, 2] } },
  { name: 'GET parts', method: 'GET', path: (id) => `/v1/uploads/${id}/parts` },
];

const UNDECODABLE = new Set(['%ff%fe', '%E0%A4%A']);
const MALFORMED_IDS = ['not-a-uuid', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%00', `${randomUUID()}%00`, 'x'.repeat(4000), `${randomUUID()}.png`, "1'%20OR%20'1'='1", '%F0%9F%92%A9', '%ff%fe', '%E0%A4%A'];

describe('tenant isolation', () => {
  const t = embeddedTarget();
  let app: TestApp;
  let edge: EdgeHandle;
  const victim = randomWorkspaceId('victim');
  const attacker = randomWorkspaceId('attacker');
  const victimIds: Record<string, string> = {};
  let victimDownloadUrl = '';
  let victimKey = '';
  let attackerPut: { url: string; headers: Record<string, string> };
  let attackerAvailableId = '';
  let victimUsageBefore: Json;
  let victimFingerprint = '';

  async function call(token: string | null, method: string, path: string, body?: unknown): Promise<RawAnswer> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return raw(app.baseUrl, { method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }
  const as = async (ws: string, method: string, path: string, body?: unknown) => call(await app.tokenFor(ws), method, path, body);
  const json = (a: RawAnswer): Json => JSON.parse(a.body);

  async function completedFile(ws: string): Promise<{ id: string; key: string }> {
    const c = json(await as(ws, 'POST', '/v1/uploads', { filename: 'p.png', contentType: 'image/png', size: PNG_1x1.length }));
    expect((await uploadPut(c.upload, PNG_1x1)).status).toBe(200);
    expect((await as(ws, 'POST', `/v1/uploads/${c.file.id}/complete`)).status).toBe(200);
    return { id: c.file.id, key: decodeURIComponent(new URL(c.upload.url).pathname).split('/').slice(2).join('/') };
  }

  beforeAll(async () => {
    await t.start();
    const bucket = await t.createBucket('stowage-iso');
    edge = await startEdge({
      s3: { endpoint: t.endpoint, region: t.region, credentials: t.credentials, bucket },
      publicKeys: { [KID]: kp.publicKey },
    });
    app = await startTestApp({
      s3Target: { endpoint: t.endpoint, region: t.region, ...t.credentials, bucket },
      env: { DOWNLOAD_STRATEGY: 'edge', CDN_BASE_URL: edge.url, CLOUDFRONT_KEY_PAIR_ID: KID, CLOUDFRONT_PRIVATE_KEY: kp.privateKey },
    });
    // The victim: an available file, a pending single upload, a pending multipart upload with one part uploaded.
    const f = await completedFile(victim);
    victimIds.available = f.id;
    victimKey = f.key;
    victimFingerprint = `fp-${randomBytes(6).toString('hex')}`;
    victimIds.pending = json(await as(victim, 'POST', '/v1/uploads', { filename: 'q.png', contentType: 'image/png', size: 100, fingerprint: victimFingerprint })).file.id;
    const mp = json(await as(victim, 'POST', '/v1/uploads', { filename: 'm.bin', contentType: 'application/octet-stream', size: 12 * 1024 * 1024, method: 'multipart' }));
    victimIds.multipart = mp.file.id;
    const signed = json(await as(victim, 'POST', `/v1/uploads/${mp.file.id}/parts`, { partNumbers: [1] }));
    const part = signed.parts[0];
    const put = await fetch(part.url, { method: 'PUT', headers: part.headers, body: Buffer.alloc(part.size, 7) });
    expect(put.status).toBe(200);
    const deleted = await completedFile(victim);
    expect((await as(victim, 'DELETE', `/v1/files/${deleted.id}`)).status).toBe(204);
    victimIds.deleted = deleted.id;
    const d = json(await as(victim, 'GET', `/v1/files/${f.id}/download`));
    victimDownloadUrl = d.url;
    // The attacker has files of its own.
    attackerAvailableId = (await completedFile(attacker)).id;
    const c = json(await as(attacker, 'POST', '/v1/uploads', { filename: 'a.png', contentType: 'image/png', size: PNG_1x1.length }));
    attackerPut = c.upload;
    victimUsageBefore = json(await as(victim, 'GET', '/v1/usage'));
  });
  afterAll(async () => {
    await app?.close();
    await edge?.close();
    await t.stop();
  });

  // ---- another workspace's ids and malformed ids, on every route ----
  for (const route of ID_ROUTES) {
    test(`${route.name}: another workspace's ids and malformed ids answer like a missing id`, async () => {
      const missing = fingerprintOf(await as(attacker, route.method, route.path(randomUUID()), route.body));
      expect(missing.status).toBeGreaterThanOrEqual(400);
      expect(missing.status).toBeLessThan(500);
      for (const [what, id] of Object.entries(victimIds)) {
        for (const variant of [id, id.toUpperCase()]) {
          const got = fingerprintOf(await as(attacker, route.method, route.path(variant), route.body));
          expect(got, `${route.name} with the victim's ${what} id ${variant}`).toEqual(missing);
        }
      }
      for (const bad of MALFORMED_IDS) {
        const got = fingerprintOf(await as(attacker, route.method, route.path(bad), route.body));
        if (UNDECODABLE.has(bad)) {
          // A URL that cannot be percent-decoded names no resource at all: a documented 400, never a 5xx.
          expect(got.status, bad).toBe(400);
          expect(isErrorShape(got.body)).toBe(true);
          continue;
        }
        expect(got, `${route.name} with malformed id ${bad.slice(0, 60)}`).toEqual(missing);
      }
    });
  }

  test('part numbers of the victim\'s multipart upload cannot be signed or listed by the attacker', async () => {
    const missing = fingerprintOf(await as(attacker, 'POST', `/v1/uploads/${randomUUID()}/parts`, { partNumbers: [1], checksumsSha256: { 1: 'AAAA' } }));
    for (const body of [{ partNumbers: [1] }, { partNumbers: [1], checksumsSha256: { 1: 'AAAA' } }, { partNumbers: [10000] }]) {
      expect(fingerprintOf(await as(attacker, 'POST', `/v1/uploads/${victimIds.multipart}/parts`, body)).status).toBe(missing.status);
    }
  });

  // ---- tokens ----
  const secret = () => new TextEncoder().encode(app.config.auth.jwtSecret!);
  const now = () => Math.floor(Date.now() / 1000);
  async function signed(payload: Record<string, unknown>, key: Uint8Array = secret()): Promise<string> {
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
  }
  const TOKENS: { name: string; make: () => Promise<string | null> }[] = [
    { name: 'no Authorization header', make: async () => null },
    { name: 'workspace claim missing', make: () => signed({ sub: 'x', iat: now(), exp: now() + 600 }) },
    { name: 'workspace claim empty', make: () => signed({ sub: 'x', workspace_id: '', iat: now(), exp: now() + 600 }) },
    { name: 'workspace claim an array', make: () => signed({ sub: 'x', workspace_id: [victim], iat: now(), exp: now() + 600 }) },
    { name: 'workspace claim an object', make: () => signed({ sub: 'x', workspace_id: { id: victim }, iat: now(), exp: now() + 600 }) },
    { name: 'workspace claim a number', make: () => signed({ sub: 'x', workspace_id: 12345, iat: now(), exp: now() + 600 }) },
    { name: 'workspace claim with a path', make: () => signed({ sub: 'x', workspace_id: `${victim}/../${attacker}`, iat: now(), exp: now() + 600 }) },
    {
      name: 'claim altered to the victim (signature kept)',
      make: async () => {
        const [h, , s] = (await app.tokenFor(attacker)).split('.');
        return `${h}.${b64url(JSON.stringify({ sub: 'x', workspace_id: victim, iat: now(), exp: now() + 600 }))}.${s}`;
      },
    },
    { name: 'alg: none', make: async () => `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'x', workspace_id: victim, iat: now(), exp: now() + 600 }))}.` },
    {
      name: 'alg: none with a signature',
      make: async () => `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify({ workspace_id: victim, exp: now() + 600 }))}.${b64url('sig')}`,
    },
    {
      name: 'HS512 with the right secret',
      make: () => new SignJWT({ workspace_id: victim, exp: now() + 600 }).setProtectedHeader({ alg: 'HS512' }).sign(secret()),
    },
    { name: 'signed with another secret', make: () => signed({ sub: 'x', workspace_id: victim, iat: now(), exp: now() + 600 }, randomBytes(32)) },
    { name: 'expired', make: () => signed({ sub: 'x', workspace_id: victim, iat: now() - 7200, exp: now() - 3600 }) },
    { name: 'not yet valid (nbf)', make: () => signed({ sub: 'x', workspace_id: victim, iat: now(), nbf: now() + 3600, exp: now() + 7200 }) },
    { name: 'garbage', make: async () => 'abc.def.ghi' },
    { name: 'two tokens', make: async () => `${await app.tokenFor(victim)} ${await app.tokenFor(attacker)}` },
  ];

  for (const tok of TOKENS) {
    test(`token ${tok.name}: 401 everywhere, the same whether the id exists or not`, async () => {
      const token = await tok.make();
      for (const route of ID_ROUTES) {
        const missing = fingerprintOf(await call(token, route.method, route.path(randomUUID()), route.body));
        expect(missing.status, `${route.name}`).toBe(401);
        expect((missing.body as Json).error.code).toBe('unauthorized');
        for (const id of Object.values(victimIds)) {
          expect(fingerprintOf(await call(token, route.method, route.path(id), route.body)), `${route.name} ${id}`).toEqual(missing);
        }
      }
      for (const [method, path, body] of [
        ['POST', '/v1/uploads', { filename: 'a.png', contentType: 'image/png', size: 10 }],
        ['GET', '/v1/uploads', undefined],
        ['GET', '/v1/files', undefined],
        ['GET', '/v1/usage', undefined],
      ] as const) {
        const a = await call(token, method, path, body);
        expect(a.status, `${method} ${path}`).toBe(401);
      }
    });
  }

  // ---- lists, usage, fingerprints ----
  test('lists, the fingerprint search and usage show the attacker nothing of the victim', async () => {
    for (const path of ['/v1/files?limit=100', '/v1/files?status=pending', '/v1/uploads', `/v1/uploads?fingerprint=${victimFingerprint}`, '/v1/files?status=deleted']) {
      const a = await as(attacker, 'GET', path);
      expect(a.status, path).toBeLessThan(500);
      for (const id of Object.values(victimIds)) expect(a.body, path).not.toContain(id);
      expect(a.body).not.toContain(victim);
    }
    const u = json(await as(attacker, 'GET', '/v1/usage'));
    expect(u.usedBytes).toBe(PNG_1x1.length);
  });

  // ---- keys and signed URLs ----
  test('a signed download URL with its path edited answers the same whether the new key exists or not', async () => {
    const ok = await fetch(victimDownloadUrl);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(PNG_1x1)).toBe(true);
    const u = new URL(victimDownloadUrl);
    const edited = (path: string) => `${path}${u.search}`;
    const victimDir = u.pathname.slice(0, u.pathname.lastIndexOf('/') + 1);
    const attackerDir = victimDir.replace(victim, attacker);
    const baseline = fingerprintOf(await raw(edge.url, { method: 'GET', path: edited(`${victimDir}${randomUUID()}.png`) }));
    expect(baseline.status).toBe(403);
    for (const p of [
      `${attackerDir}${attackerAvailableId}.png`,
      `${attackerDir}${randomUUID()}.png`,
      `${victimDir}${victimIds.deleted}.png`,
      `${u.pathname}x`,
      `${u.pathname}/`,
      `${u.pathname.toUpperCase()}`,
      `${victimDir}..%2f..%2f${attacker}%2ffiles%2f${attackerAvailableId}.png`,
      `${victimDir}%2e%2e/${attackerAvailableId}.png`,
      `${u.pathname}%00`,
    ]) {
      const got = fingerprintOf(await raw(edge.url, { method: 'GET', path: edited(p) }));
      // Path-trick URLs may be refused as malformed (400, or 403 "path is not an object key") before the signature
      // check; what matters is that no answer depends on whether the key exists, and none serves bytes.
      expect(got.status, p).not.toBe(200);
      if (got.status === 403 && !String(got.body).includes('path is not an object key')) expect(got, p).toEqual(baseline);
    }
    // A malformed path is refused by its shape alone: the same answer for an existing and a made-up key.
    const trick = (id: string) => `${victimDir}..%2f..%2f${attacker}%2ffiles%2f${id}.png`;
    expect(fingerprintOf(await raw(edge.url, { method: 'GET', path: edited(trick(attackerAvailableId)) })))
      .toEqual(fingerprintOf(await raw(edge.url, { method: 'GET', path: edited(trick(randomUUID())) })));
    // The same signature on a different query (expiry pushed out) is refused too.
    const longer = new URL(victimDownloadUrl);
    longer.searchParams.set('Expires', String(Number(longer.searchParams.get('Expires')) + 86_400));
    expect((await fetch(longer)).status).toBe(403);
  });

  test("a presigned PUT whose path is edited to the victim's key is refused by storage and the victim's object is intact", async () => {
    const u = new URL(attackerPut.url);
    const parts = u.pathname.split('/');
    const bucket = parts[1];
    const toVictim = new URL(attackerPut.url);
    toVictim.pathname = `/${bucket}/${victimKey}`;
    const r = await fetch(toVictim, { method: 'PUT', headers: attackerPut.headers, body: PNG_1x1 });
    expect(r.status).toBe(403);
    const toMissing = new URL(attackerPut.url);
    toMissing.pathname = `/${bucket}/workspaces/${victim}/files/${randomUUID()}.png`;
    expect((await fetch(toMissing, { method: 'PUT', headers: attackerPut.headers, body: PNG_1x1 })).status).toBe(403);
    const again = await fetch(victimDownloadUrl);
    expect(Buffer.from(await again.arrayBuffer()).equals(PNG_1x1)).toBe(true);
  });

  test("Uppy tokens: another workspace's token cannot reach the victim's multipart upload", async () => {
    const probe = await as(attacker, 'POST', '/v1/uppy/tokens', {});
    if (probe.status === 404) {
      console.warn('[isolation] Uppy routes not registered: Uppy token cases skipped');
      return;
    }
    expect(probe.status).toBeLessThan(300);
    const ut = json(probe).token as string;
    const mpRow = json(await as(victim, 'GET', `/v1/files/${victimIds.multipart}`)).file;
    expect(mpRow.status).toBe('pending');
    // Companion S3 multipart routes with the attacker's token and the victim's upload id / key, against a random id.
    const mpDb = await app.deps.db.query<{ object_key: string; multipart_upload_id: string }>('SELECT object_key, multipart_upload_id FROM files WHERE id = $1', [victimIds.multipart]);
    const victimMpKey = mpDb.rows[0]!.object_key;
    const victimUploadId = mpDb.rows[0]!.multipart_upload_id;
    const routes = (uploadId: string, key: string) => [
      ['GET', `/v1/uppy/${ut}/s3/multipart/${uploadId}?key=${encodeURIComponent(key)}`],
      ['GET', `/v1/uppy/${ut}/s3/multipart/${uploadId}/1?key=${encodeURIComponent(key)}`],
      ['GET', `/v1/uppy/${ut}/s3/multipart/${uploadId}/batch?key=${encodeURIComponent(key)}&partNumbers=1,2`],
      ['POST', `/v1/uppy/${ut}/s3/multipart/${uploadId}/complete?key=${encodeURIComponent(key)}`],
      ['DELETE', `/v1/uppy/${ut}/s3/multipart/${uploadId}?key=${encodeURIComponent(key)}`],
    ] as const;
    const fake = routes(randomBytes(16).toString('hex'), `workspaces/${attacker}/files/${randomUUID()}.bin`);
    const real = routes(victimUploadId, victimMpKey);
    const realOwnKey = routes(victimUploadId, `workspaces/${attacker}/files/${randomUUID()}.bin`);
    const fakeVictimKey = routes(randomBytes(16).toString('hex'), victimMpKey);
    for (let i = 0; i < fake.length; i++) {
      const [m, p] = fake[i]!;
      const body = m === 'POST' ? { parts: [{ PartNumber: 1, ETag: '"x"' }] } : undefined;
      const missing = fingerprintOf(await raw(app.baseUrl, { method: m, path: p, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined }));
      const got = fingerprintOf(await raw(app.baseUrl, { method: real[i]![0], path: real[i]![1], headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined }));
      expect(missing.status, p).toBeLessThan(500);
      expect(got, real[i]![1]).toEqual(missing);
      for (const variant of [realOwnKey[i]!, fakeVictimKey[i]!]) {
        const v = fingerprintOf(await raw(app.baseUrl, { method: variant[0], path: variant[1], headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined }));
        expect(v, variant[1]).toEqual(missing);
      }
    }
    expect(json(await as(victim, 'GET', `/v1/files/${victimIds.multipart}`)).file.status).toBe('pending');
  });

  test('afterwards the victim is untouched: every resource and the usage counters as before', async () => {
    expect(json(await as(victim, 'GET', `/v1/files/${victimIds.available}`)).file.status).toBe('available');
    expect(json(await as(victim, 'GET', `/v1/files/${victimIds.pending}`)).file.status).toBe('pending');
    expect(json(await as(victim, 'GET', `/v1/files/${victimIds.multipart}`)).file.status).toBe('pending');
    expect(json(await as(victim, 'GET', `/v1/uploads/${victimIds.multipart}/parts`)).parts).toHaveLength(1);
    expect(json(await as(victim, 'GET', '/v1/usage'))).toEqual(victimUsageBefore);
  });
});
