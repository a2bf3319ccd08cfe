// GET /v1/files/:id/download through the real HTTP server, real Postgres, real S3 (embedded store + RGW), with the
// local edge serving the URLs (and the s3 strategy for presigned GETs).
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { startEdge, type EdgeHandle } from '../../src/edge/server.ts';
import { apiTargets, PNG_1x1, sha256b64, uploadPut } from './support.ts';
import { getWorkspaceDownloadCookies } from '../../src/services/get-download-url.ts';

const kp = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KID = 'KAPITEST000001';

describe.each(apiTargets())('downloads on $name', (t) => {
  let app: TestApp;
  let s3App: TestApp;
  let edge: EdgeHandle;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const s = await t.start();
    stop = s.stop;
    const bucket = `stowage-dl-${randomBytes(5).toString('hex')}`;
    edge = await startEdge({
      s3: {
        endpoint: s.target.endpoint,
        region: s.target.region ?? 'us-east-1',
        credentials: { accessKeyId: s.target.accessKeyId, secretAccessKey: s.target.secretAccessKey },
        bucket,
      },
      publicKeys: { [KID]: kp.publicKey },
    });
    app = await startTestApp({
      s3Target: { ...s.target, bucket },
      env: {
        DOWNLOAD_STRATEGY: 'edge',
        CDN_BASE_URL: edge.url,
        CLOUDFRONT_KEY_PAIR_ID: KID,
        CLOUDFRONT_PRIVATE_KEY: kp.privateKey,
        DOWNLOAD_URL_TTL_SECONDS: '600',
        DOWNLOAD_URL_WINDOW_SECONDS: '3600',
      },
    });
    s3App = await startTestApp({
      s3Target: { ...s.target, bucket },
      env: { DOWNLOAD_STRATEGY: 's3', DOWNLOAD_URL_TTL_SECONDS: '600', DOWNLOAD_URL_WINDOW_SECONDS: '3600' },
    });
  });
  afterAll(async () => {
    await s3App?.close();
    await app?.close();
    await edge?.close();
    await stop?.();
  });

  async function upload(ws: string, filename: string, contentType: string, body: Buffer): Promise<string> {
    const r = await app.api(ws, '/v1/uploads', {
      method: 'POST',
      json: { filename, contentType, size: body.length, checksumSha256: sha256b64(body) },
    });
    expect(r.status).toBe(201);
    const c = (await r.json()) as any;
    expect((await uploadPut(c.upload, body)).status).toBe(200);
    const done = await app.api(ws, `/v1/uploads/${c.file.id}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    return c.file.id as string;
  }

  test('available file → signed edge URL that serves the bytes inline; same window → same URL', async () => {
    const ws = randomWorkspaceId();
    const id = await upload(ws, 'Pixel ünïcode.png', 'image/png', PNG_1x1);
    const r = await app.api(ws, `/v1/files/${id}/download`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const a = (await r.json()) as { url: string; expiresAt: string };
    expect(a.url.startsWith(`${edge.url}/workspaces/${ws}/files/${id}`)).toBe(true);
    expect(a.url).toMatch(/&Expires=\d+&Signature=[A-Za-z0-9\-_~]+&Key-Pair-Id=KAPITEST000001$/);
    expect(Date.parse(a.expiresAt)).toBeGreaterThanOrEqual(Date.now() + 599_000);
    const got = await fetch(a.url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(PNG_1x1)).toBe(true);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(got.headers.get('content-disposition')).toBe(
      `inline; filename="Pixel unicode.png"; filename*=UTF-8''Pixel%20%C3%BCn%C3%AFcode.png`,
    );
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    const again = (await (await app.api(ws, `/v1/files/${id}/download`)).json()) as { url: string };
    expect(again.url).toBe(a.url);
  });

  test('?disposition=attachment, and active/unknown types are always attachment', async () => {
    const ws = randomWorkspaceId();
    const png = await upload(ws, 'p.png', 'image/png', PNG_1x1);
    const att = (await (await app.api(ws, `/v1/files/${png}/download?disposition=attachment`)).json()) as { url: string };
    expect((await fetch(att.url)).headers.get('content-disposition')).toMatch(/^attachment; filename="p.png"/);
    const txt = await upload(ws, 'notes.txt', 'text/plain', Buffer.from('<script>alert(1)</script>'));
    const inl = (await (await app.api(ws, `/v1/files/${txt}/download?disposition=inline`)).json()) as { url: string };
    const res = await fetch(inl.url);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await app.api(ws, `/v1/files/${png}/download?disposition=evil`)).status).toBe(400);
  });

  test('?redirect=1 → 302 to the signed URL', async () => {
    const ws = randomWorkspaceId();
    const id = await upload(ws, 'r.png', 'image/png', PNG_1x1);
    const plain = (await (await app.api(ws, `/v1/files/${id}/download`)).json()) as { url: string };
    const r = await app.api(ws, `/v1/files/${id}/download?redirect=1`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(plain.url);
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  test('404 for other workspaces, pending, deleted and unknown files; 401 without a token', async () => {
    const ws = randomWorkspaceId();
    const other = randomWorkspaceId();
    const id = await upload(ws, 'mine.png', 'image/png', PNG_1x1);
    const notMine = await app.api(other, `/v1/files/${id}/download`);
    expect(notMine.status).toBe(404);
    expect(((await notMine.json()) as any).error.code).toBe('not_found');
    expect((await app.api(ws, `/v1/files/${randomUUID()}/download`)).status).toBe(404);
    expect((await app.api(ws, `/v1/files/not-a-uuid/download`)).status).toBe(404);
    const pending = (await (
      await app.api(ws, '/v1/uploads', { method: 'POST', json: { filename: 'p.png', contentType: 'image/png', size: PNG_1x1.length } })
    ).json()) as any;
    expect((await app.api(ws, `/v1/files/${pending.file.id}/download`)).status).toBe(404);
    expect((await app.api(ws, `/v1/files/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.api(ws, `/v1/files/${id}/download`)).status).toBe(404);
    expect((await fetch(`${app.baseUrl}/v1/files/${id}/download`)).status).toBe(401);
  });

  test("a URL for one workspace's file cannot be bent to another's", async () => {
    const wsA = randomWorkspaceId();
    const wsB = randomWorkspaceId();
    const a = await upload(wsA, 'a.png', 'image/png', PNG_1x1);
    const b = await upload(wsB, 'b.png', 'image/png', Buffer.concat([PNG_1x1, Buffer.from('B')]));
    const urlA = ((await (await app.api(wsA, `/v1/files/${a}/download`)).json()) as { url: string }).url;
    const bent = urlA.replace(`/workspaces/${wsA}/files/${a}`, `/workspaces/${wsB}/files/${b}`);
    expect(bent).not.toBe(urlA);
    expect((await fetch(bent)).status).toBe(403);
  });

  test('workspace signed cookies open every file of the workspace on the edge, and only those', async () => {
    const wsA = randomWorkspaceId();
    const wsB = randomWorkspaceId();
    const a = await upload(wsA, 'a.png', 'image/png', PNG_1x1);
    const b = await upload(wsB, 'b.png', 'image/png', PNG_1x1);
    const c = await getWorkspaceDownloadCookies(app.deps, wsA);
    const cookie = Object.entries(c.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    const ok = await fetch(`${edge.url}/workspaces/${wsA}/files/${a}.png`, { headers: { cookie } });
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(PNG_1x1)).toBe(true);
    expect((await fetch(`${edge.url}/workspaces/${wsB}/files/${b}.png`, { headers: { cookie } })).status).toBe(403);
    await expect(getWorkspaceDownloadCookies(s3App.deps, wsA)).rejects.toThrow(/cloudfront or edge/);
  });

  test('s3 strategy: presigned GET with response-content-disposition, identical within the window', async () => {
    const ws = randomWorkspaceId();
    const id = await upload(ws, 'Résumé.pdf', 'application/pdf', Buffer.from('%PDF-1.4\n%%EOF\n'));
    const a = (await (await s3App.api(ws, `/v1/files/${id}/download?disposition=attachment`)).json()) as { url: string };
    const u = new URL(a.url);
    expect(u.searchParams.get('X-Amz-Signature')).toBeTruthy();
    expect(u.searchParams.get('response-content-disposition')).toBe(`attachment; filename="Resume.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf`);
    const got = await fetch(a.url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="Resume.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf`);
    expect(await got.text()).toBe('%PDF-1.4\n%%EOF\n');
    const b = (await (await s3App.api(ws, `/v1/files/${id}/download?disposition=attachment`)).json()) as { url: string };
    expect(b.url).toBe(a.url);
  });
});
