import { generateKeyPairSync, randomUUID, createHash } from 'node:crypto';
import { request } from 'node:http';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeSigner } from '../../src/cdn/edge.ts';
import type { CloudFrontSigner } from '../../src/cdn/cloudfront.ts';
import { startEdge, type EdgeHandle } from '../../src/edge/server.ts';
import { edgeTargets, openEdgeTarget, type EdgeS3Target } from './s3-target.ts';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Raw GET (no URL normalisation, unlike fetch). `target` is the path + query exactly as sent. */
function get(base: string, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Res> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: target, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
const pathOf = (url: string) => url.slice(url.indexOf('/', url.indexOf('//') + 2));

function rsa() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

describe.each(edgeTargets())('local edge on $name (signed URLs through the edge)', (t) => {
  let s3: EdgeS3Target;
  const kp = rsa();
  const kp2 = rsa();
  const KID = 'KEDGETEST00001';
  const KID2 = 'KEDGETEST00002';
  let edge: EdgeHandle;
  let signer: CloudFrontSigner;
  let signer2: CloudFrontSigner;
  const wsA = `wsa${randomUUID().slice(0, 8)}`;
  const wsB = `wsb${randomUUID().slice(0, 8)}`;
  const keyA = `workspaces/${wsA}/files/${randomUUID()}.pdf`;
  const keyA2 = `workspaces/${wsA}/files/${randomUUID()}.png`;
  const keyB = `workspaces/${wsB}/files/${randomUUID()}.pdf`;
  const keyOdd = `workspaces/${wsA}/files/odd name+ü (1).txt`;
  const bodyA = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff));
  const bodyB = Buffer.from('workspace B secret\n');
  const now = () => new Date();
  const sign = (key: string, extra: Partial<Parameters<CloudFrontSigner['sign']>[0]> = {}) =>
    signer.sign({ key, filename: 'Résumé final.pdf', contentType: 'application/pdf', ttlSeconds: 600, now: now(), ...extra });

  beforeAll(async () => {
    s3 = await openEdgeTarget(t);
    for (const [Key, Body, ContentType] of [
      [keyA, bodyA, 'application/pdf'],
      [keyA2, Buffer.from('png-ish'), 'image/png'],
      [keyB, bodyB, 'application/pdf'],
      [keyOdd, Buffer.from('odd'), 'text/plain'],
    ] as const) {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body, ContentType }));
    }
    edge = await startEdge({
      port: 0,
      s3: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, bucket: s3.bucket },
      publicKeys: { [KID]: kp.publicKey, [KID2]: kp2.publicKey },
    });
    signer = createEdgeSigner({ baseUrl: edge.url, keyPairId: KID, privateKey: kp.privateKey, windowSeconds: 60 });
    signer2 = createEdgeSigner({ baseUrl: edge.url, keyPairId: KID2, privateKey: kp2.privateKey, windowSeconds: 60 });
  });
  afterAll(async () => {
    await edge?.close();
    await s3?.cleanup();
  });

  it(`200 with body, ETag, Last-Modified, Cache-Control, disposition, nosniff`, async () => {
    const { url, expiresAt } = await sign(keyA);
    const r = await get(edge.url, pathOf(url));
    expect(r.status).toBe(200);
    expect(createHash('sha256').update(r.body).digest('hex')).toBe(createHash('sha256').update(bodyA).digest('hex'));
    expect(r.headers['content-length']).toBe(String(bodyA.length));
    expect(r.headers['content-type']).toBe('application/pdf');
    expect(r.headers['content-disposition']).toBe(`inline; filename="Resume final.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf`);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(new Date(r.headers['last-modified'] as string).getTime()).toBeGreaterThan(Date.now() - 3600_000);
    const maxAge = Number(/max-age=(\d+)/.exec(r.headers['cache-control'] as string)![1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(Math.ceil((expiresAt.getTime() - Date.now()) / 1000));
  });

  it('active types are served as attachment, and the disposition in the URL is signed', async () => {
    const { url } = await sign(keyA2, { filename: 'x.svg', contentType: 'image/svg+xml' });
    const r = await get(edge.url, pathOf(url));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/svg+xml');
    expect(r.headers['content-disposition']).toMatch(/^attachment; /);
    const forged = pathOf(url).replace('response-content-disposition=attachment', 'response-content-disposition=inline');
    expect((await get(edge.url, forged)).status).toBe(403);
    const retyped = pathOf(url).replace('image%2Fsvg%2Bxml', 'image%2Fpng');
    expect((await get(edge.url, retyped)).status).toBe(403);
  });

  it('Range → 206 with Content-Range', async () => {
    const { url } = await sign(keyA);
    const r = await get(edge.url, pathOf(url), { range: 'bytes=1000-1999' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 1000-1999/${bodyA.length}`);
    expect(r.body.equals(bodyA.subarray(1000, 2000))).toBe(true);
    const tail = await get(edge.url, pathOf(url), { range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(bodyA.subarray(bodyA.length - 10))).toBe(true);
    const bad = await get(edge.url, pathOf(url), { range: `bytes=${bodyA.length + 10}-` });
    expect(bad.status).toBe(416);
  });

  it('If-None-Match → 304', async () => {
    const { url } = await sign(keyA);
    const first = await get(edge.url, pathOf(url));
    const r = await get(edge.url, pathOf(url), { 'if-none-match': first.headers.etag as string });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.headers.etag).toBe(first.headers.etag);
    const miss = await get(edge.url, pathOf(url), { 'if-none-match': '"0000"' });
    expect(miss.status).toBe(200);
  });

  it('If-Range: the range is served when the validator matches (strong ETag, exact Last-Modified), else the whole object', async () => {
    const p = pathOf((await sign(keyA)).url);
    const first = await get(edge.url, p);
    const etag = first.headers.etag as string;
    const lastModified = first.headers['last-modified'] as string;
    for (const validator of [etag, lastModified]) {
      const r = await get(edge.url, p, { range: 'bytes=100-199', 'if-range': validator });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes 100-199/${bodyA.length}`);
      expect(r.body.equals(bodyA.subarray(100, 200))).toBe(true);
    }
    for (const validator of ['"0000"', `W/${etag}`, 'Thu, 01 Jan 1970 00:00:00 GMT', new Date(Date.parse(lastModified) - 1000).toUTCString(), 'garbage']) {
      const r = await get(edge.url, p, { range: 'bytes=100-199', 'if-range': validator });
      expect(r.status).toBe(200);
      expect(r.headers['content-range']).toBeUndefined();
      expect(r.body.equals(bodyA)).toBe(true);
    }
    // Unsatisfiable range: 416 if If-Range matches, the whole object if it does not.
    const beyond = `bytes=${bodyA.length + 10}-`;
    const bad = await get(edge.url, p, { range: beyond, 'if-range': etag });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${bodyA.length}`);
    const changed = await get(edge.url, p, { range: beyond, 'if-range': '"0000"' });
    expect(changed.status).toBe(200);
    expect(changed.body.equals(bodyA)).toBe(true);
  });

  it('If-Match / If-Unmodified-Since → 412 when they fail (GET and HEAD)', async () => {
    const p = pathOf((await sign(keyA)).url);
    const first = await get(edge.url, p);
    const etag = first.headers.etag as string;
    const lastModified = first.headers['last-modified'] as string;
    for (const method of ['GET', 'HEAD']) {
      const failing: Record<string, string>[] = [
        { 'if-match': '"0000"' },
        { 'if-match': `W/${etag}` },
        { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
      ];
      for (const h of failing) {
        const r = await get(edge.url, p, h, method);
        expect(r.status, `${method} ${JSON.stringify(h)}`).toBe(412);
        expect(r.body.toString()).not.toContain(bodyA.subarray(0, 50).toString());
      }
      const passing: Record<string, string>[] = [
        { 'if-match': etag },
        { 'if-match': `"0000", ${etag}` },
        { 'if-match': '*' },
        { 'if-unmodified-since': lastModified },
        // If-Unmodified-Since is ignored when If-Match is present.
        { 'if-match': etag, 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
      ];
      for (const h of passing) {
        const r = await get(edge.url, p, h, method);
        expect(r.status, `${method} ${JSON.stringify(h)}`).toBe(200);
        if (method === 'GET') expect(r.body.equals(bodyA)).toBe(true);
      }
    }
    // A store that ignores the conditional headers: the edge checks them itself.
    const ignoring = {
      send(cmd: { input: Record<string, unknown> }, o?: unknown) {
        delete cmd.input.IfMatch;
        delete cmd.input.IfUnmodifiedSince;
        return (s3.client.send as (c: unknown, o?: unknown) => Promise<unknown>)(cmd, o);
      },
    } as unknown as S3Client;
    const lax = await startEdge({ s3: { bucket: s3.bucket }, client: ignoring, publicKeys: { [KID]: kp.publicKey } });
    try {
      const laxSigner = createEdgeSigner({ baseUrl: lax.url, keyPairId: KID, privateKey: kp.privateKey });
      const signed = await laxSigner.sign({ key: keyA, filename: 'a.pdf', contentType: 'application/pdf', ttlSeconds: 60, now: now() });
      const lp = pathOf(signed.url);
      for (const method of ['GET', 'HEAD']) {
        expect((await get(lax.url, lp, { 'if-match': '"0000"' }, method)).status).toBe(412);
        expect((await get(lax.url, lp, { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }, method)).status).toBe(412);
        expect((await get(lax.url, lp, { 'if-match': etag }, method)).status).toBe(200);
      }
    } finally {
      await lax.close();
    }
    // With a range: precondition first.
    expect((await get(edge.url, p, { range: 'bytes=0-9', 'if-match': '"0000"' })).status).toBe(412);
    expect((await get(edge.url, p, { range: 'bytes=0-9', 'if-match': etag })).status).toBe(206);
  });

  it('HEAD', async () => {
    const { url } = await sign(keyA);
    const r = await get(edge.url, pathOf(url), {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(bodyA.length));
    expect(r.body.length).toBe(0);
  });

  it('keys with spaces, + and unicode', async () => {
    const { url } = await sign(keyOdd, { filename: 'odd.txt', contentType: 'text/plain' });
    const r = await get(edge.url, pathOf(url));
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('odd');
  });

  it('tampered signature → 403', async () => {
    const p = pathOf((await sign(keyA)).url);
    const sig = /Signature=([^&]+)/.exec(p)![1]!;
    for (const bad of [sig.slice(0, -6) + (sig.at(-6) === 'A' ? 'B' : 'A') + sig.slice(-5), sig.slice(0, 100), '', 'not*base64']) {
      const r = await get(edge.url, p.replace(sig, bad));
      expect(r.status).toBe(403);
      expect(r.body.length).toBeLessThan(200);
    }
  });

  it('swapped key path (valid signature for another key) → 403', async () => {
    const p = pathOf((await sign(keyA)).url);
    const swapped = p.replace(keyA.split('/').pop()!, keyA2.split('/').pop()!);
    expect(swapped).not.toBe(p);
    expect((await get(edge.url, swapped)).status).toBe(403);
  });

  it("another workspace's path with a valid signature for a different key → 403", async () => {
    const a = pathOf((await sign(keyA)).url);
    const b = pathOf((await sign(keyB)).url);
    const aQuery = a.slice(a.indexOf('?'));
    const bPath = b.slice(0, b.indexOf('?'));
    const r = await get(edge.url, bPath + aQuery);
    expect(r.status).toBe(403);
    expect(r.body.toString()).not.toContain('workspace B secret');
    // ...and the same with the signing parameters only.
    const sigOnly = aQuery.slice(aQuery.indexOf('Expires='));
    const b2 = b.slice(0, b.indexOf('Expires=')) + sigOnly;
    expect((await get(edge.url, b2)).status).toBe(403);
  });

  it('expired URL → 403', async () => {
    const { url } = await sign(keyA, { now: new Date(Date.now() - 3 * 3600_000), ttlSeconds: 60 });
    const r = await get(edge.url, pathOf(url));
    expect(r.status).toBe(403);
    expect(r.body.toString()).toContain('expired');
  });

  it('wrong key → 403 (unknown key pair id, other key under a known id, extra parameters)', async () => {
    const p = pathOf((await sign(keyA)).url);
    expect((await get(edge.url, p.replace(`Key-Pair-Id=${KID}`, 'Key-Pair-Id=KUNKNOWN')))).toMatchObject({ status: 403 });
    expect((await get(edge.url, p.replace(`Key-Pair-Id=${KID}`, `Key-Pair-Id=${KID2}`)))).toMatchObject({ status: 403 });
    // Key 2 signs fine for itself.
    const p2 = pathOf((await signer2.sign({ key: keyA, filename: 'a.pdf', contentType: 'application/pdf', ttlSeconds: 60, now: now() })).url);
    expect((await get(edge.url, p2)).status).toBe(200);
    expect((await get(edge.url, p + '&x=1')).status).toBe(403);
    expect((await get(edge.url, p + '&Signature=abc')).status).toBe(403);
    expect((await get(edge.url, p.slice(0, p.indexOf('?')))).status).toBe(403);
  });

  it('dot segments and encoded slashes never reach storage', async () => {
    // Custom policy for the whole workspace; a path that escapes the prefix by `..` must still be refused.
    const { url } = await sign(keyA, { policy: { resource: `workspaces/${wsA}/*` } });
    const q = pathOf(url).slice(pathOf(url).indexOf('?'));
    for (const p of [
      `/workspaces/${wsA}/files/../../${wsB}/files/${keyB.split('/').pop()}`,
      `/workspaces/${wsA}/files/%2e%2e/%2e%2e/${wsB}/files/${keyB.split('/').pop()}`,
      `/workspaces/${wsA}/files%2F..%2F..%2F${wsB}%2Ffiles%2F${keyB.split('/').pop()}`,
    ]) {
      const r = await get(edge.url, p + q);
      expect(r.status).toBe(403);
      expect(r.body.toString()).toContain('path is not an object key'); // the signature matched the wildcard
      expect(r.body.toString()).not.toContain('secret');
    }
  });

  it('custom policy with a path wildcard grants the prefix and nothing else', async () => {
    const { url } = await sign(keyA, { policy: { resource: `workspaces/${wsA}/*` } });
    const p = pathOf(url);
    expect((await get(edge.url, p)).status).toBe(200);
    // Same Policy + Signature on another key under the prefix (without the response-* parameters).
    const creds = p.slice(p.indexOf('Policy='));
    expect((await get(edge.url, `/${keyA2}?${creds}`)).status).toBe(200);
    expect((await get(edge.url, `/${keyB}?${creds}`)).status).toBe(403);
    // Not-before in the future; source IP elsewhere.
    const nb = await sign(keyA, { policy: { notBefore: new Date(Date.now() + 600_000) } });
    expect((await get(edge.url, pathOf(nb.url))).status).toBe(403);
    const ip = await sign(keyA, { policy: { sourceIp: '10.0.0.0/8' } });
    expect((await get(edge.url, pathOf(ip.url))).status).toBe(403);
    const local = await sign(keyA, { policy: { sourceIp: '127.0.0.1' } });
    expect((await get(edge.url, pathOf(local.url))).status).toBe(200);
  });

  it('signed cookies scoped to a workspace prefix', async () => {
    const c = signer.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 300, now: now() });
    const cookie = c.setCookie({ secure: false }).map((s) => s.split(';')[0]).join('; ');
    const a = await get(edge.url, `/${keyA}`, { cookie });
    expect(a.status).toBe(200);
    expect(a.body.equals(bodyA)).toBe(true);
    expect((await get(edge.url, `/${keyA2}`, { cookie })).status).toBe(200);
    expect((await get(edge.url, `/${keyB}`, { cookie })).status).toBe(403);
    expect((await get(edge.url, `/${keyA}`, { cookie: cookie.replace(/CloudFront-Signature=./, 'CloudFront-Signature=Z') })).status).toBe(403);
    expect((await get(edge.url, `/${keyA}`)).status).toBe(403);
    // Default Content-Disposition without response-* parameters: by stored type, attachment for unknown.
    expect(a.headers['content-disposition']).toMatch(/^inline; filename=/);
    const old = signer.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 60, now: new Date(Date.now() - 3600_000) });
    const oldCookie = Object.entries(old.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    expect((await get(edge.url, `/${keyA}`, { cookie: oldCookie })).status).toBe(403);
  });

  it('valid signature for a missing object → 404; other methods → 405', async () => {
    const { url } = await sign(`workspaces/${wsA}/files/${randomUUID()}.pdf`);
    expect((await get(edge.url, pathOf(url))).status).toBe(404);
    expect((await get(edge.url, pathOf(url), {}, 'DELETE')).status).toBe(405);
    const pre = await get(edge.url, pathOf(url), { origin: 'https://app.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-headers']).toContain('range');
  });

  it('behind a proxy: public URL with a path prefix (signed for it, Host header ignored)', async () => {
    const proxied = await startEdge({
      s3: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, bucket: s3.bucket },
      publicKeys: { [KID]: kp.publicKey },
      publicUrl: 'https://cdn.example.com/files',
    });
    try {
      const cdn = createEdgeSigner({ baseUrl: 'https://cdn.example.com/files', keyPairId: KID, privateKey: kp.privateKey });
      const { url } = await cdn.sign({ key: keyA, filename: 'a.pdf', contentType: 'application/pdf', ttlSeconds: 60, now: now() });
      const p = url.slice('https://cdn.example.com'.length);
      expect(p.startsWith('/files/workspaces/')).toBe(true);
      const r = await get(proxied.url, p);
      expect(r.status).toBe(200);
      expect(r.body.equals(bodyA)).toBe(true);
      // The same URL against an edge that trusts the Host header does not verify (different origin signed).
      expect((await get(edge.url, p)).status).toBe(403);
      // A URL signed for the listening address is refused by the proxied edge.
      expect((await get(proxied.url, pathOf((await sign(keyA)).url))).status).toBe(403);
    } finally {
      await proxied.close();
    }
  });

  it('response-* overrides under a wildcard credential (cookies, wildcard policy) are ignored: stored type, never inline for attachment types', async () => {
    const c = signer.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 300, now: now() });
    const cookie = Object.entries(c.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    // PNG retyped as HTML, inline: the stored type wins.
    const html = await get(edge.url, `/${keyA2}?response-content-type=text%2Fhtml&response-content-disposition=inline`, { cookie });
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toBe('image/png');
    expect(html.headers['content-disposition']).toMatch(/^inline; filename="[^"]+\.png"/);
    // text/plain is served as attachment; an unsigned `inline` (or a safe type) cannot change that.
    const txt = await get(edge.url, `/${encodeURI(keyOdd).replace(/\+/g, '%2B')}?response-content-disposition=inline&response-content-type=image%2Fpng`, {
      cookie,
    });
    expect(txt.status).toBe(200);
    expect(txt.body.toString()).toBe('odd');
    expect(txt.headers['content-type']).toBe('text/plain');
    expect(txt.headers['content-disposition']).toMatch(/^attachment; /);
    // An unsigned `attachment` is still honoured (stricter), with the key's name, not the one in the query.
    const att = await get(edge.url, `/${keyA2}?response-content-disposition=attachment%3B%20filename%3D%22x.html%22`, { cookie });
    expect(att.status).toBe(200);
    expect(att.headers['content-disposition']).toBe(`attachment; filename="${keyA2.split('/').pop()}"; filename*=UTF-8''${keyA2.split('/').pop()}`);
    // HEAD likewise.
    const head = await get(edge.url, `/${keyA2}?response-content-type=text%2Fhtml`, { cookie }, 'HEAD');
    expect(head.headers['content-type']).toBe('image/png');

    // A wildcard custom policy in the query string: the response-* parameters are not signed either.
    const { url } = await sign(keyA2, { filename: 'a.png', contentType: 'image/png', policy: { resource: `workspaces/${wsA}/*` } });
    const swapped = pathOf(url).replace('response-content-type=image%2Fpng', 'response-content-type=text%2Fhtml');
    expect(swapped).not.toBe(pathOf(url));
    const r = await get(edge.url, swapped);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    const svg = await get(edge.url, `/${keyOdd.split('/').map(encodeURIComponent).join('/')}?response-content-disposition=inline&${pathOf(url).slice(pathOf(url).indexOf('Policy='))}`);
    expect(svg.status).toBe(200);
    expect(svg.headers['content-disposition']).toMatch(/^attachment; /);
  });

  it('response-* overrides signed exactly (canned, or a custom policy naming this URL) are honoured', async () => {
    for (const extra of [{}, { policy: { sourceIp: '127.0.0.1' } }]) {
      const { url } = await sign(keyA2, { filename: 'Photo é.png', contentType: 'image/png', disposition: 'attachment', ...extra });
      const r = await get(edge.url, pathOf(url));
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('image/png');
      expect(r.headers['content-disposition']).toBe(`attachment; filename="Photo e.png"; filename*=UTF-8''Photo%20%C3%A9.png`);
      // ...and cannot be changed.
      expect((await get(edge.url, pathOf(url).replace('response-content-type=image%2Fpng', 'response-content-type=text%2Fhtml'))).status).toBe(403);
    }
  });

  it('a Host (or trusted X-Forwarded-Host) that is not a plain host[:port] → 400; it cannot move a path into a wildcard', async () => {
    const c = signer.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 300, now: now() });
    const cookie = Object.entries(c.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    const hostport = new URL(edge.url).host;
    const r = await get(edge.url, `/${keyB}`, { cookie, host: `${hostport}/workspaces/${wsA}/` });
    expect(r.status).toBe(400);
    expect(r.body.toString()).not.toContain('secret');
    for (const host of [`${hostport}/x`, `${hostport}?a`, `user@${hostport}`, `${hostport}:1`, `${hostport}#`, `[::1`]) {
      expect((await get(edge.url, `/${keyA}`, { cookie, host })).status).toBe(400);
    }
    expect((await get(edge.url, `/${keyA}`, { cookie, host: hostport })).status).toBe(200);
    // Container service names carry underscores: a plain host too.
    const port = new URL(edge.url).port;
    const svc = createEdgeSigner({ baseUrl: `http://stowage_edge:${port}`, keyPairId: KID, privateKey: kp.privateKey });
    const sc = svc.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 300, now: now() });
    const scookie = Object.entries(sc.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
    expect((await get(edge.url, `/${keyA}`, { cookie: scookie, host: `stowage_edge:${port}` })).status).toBe(200);

    const proxied = await startEdge({
      s3: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, bucket: s3.bucket },
      publicKeys: { [KID]: kp.publicKey },
      trustProxy: true,
    });
    try {
      const cdn = createEdgeSigner({ baseUrl: 'https://files.example.com', keyPairId: KID, privateKey: kp.privateKey });
      const pc = cdn.signCookies({ prefix: `workspaces/${wsA}/`, ttlSeconds: 300, now: now() });
      const pcookie = Object.entries(pc.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
      const fwd = { cookie: pcookie, 'x-forwarded-proto': 'https' };
      expect((await get(proxied.url, `/${keyA}`, { ...fwd, 'x-forwarded-host': 'files.example.com' })).status).toBe(200);
      const bad = await get(proxied.url, `/${keyB}`, { ...fwd, 'x-forwarded-host': `files.example.com/workspaces/${wsA}/` });
      expect(bad.status).toBe(400);
      expect(bad.body.toString()).not.toContain('secret');
    } finally {
      await proxied.close();
    }
  });

  it('a policy with a host wildcard is matched on origin and path separately (the query cannot stand in for the path)', async () => {
    const { url } = await sign(keyA, { policy: { resource: `http://*/workspaces/${wsA}/*` } });
    const creds = pathOf(url).slice(pathOf(url).indexOf('Policy='));
    expect((await get(edge.url, `/${keyA}?${creds}`)).status).toBe(200);
    // `*` in the host part used to absorb `<host>/workspaces/<B>/…?x=` and match the rest against `/workspaces/<A>/`.
    const r = await get(edge.url, `/${keyB}?x=/workspaces/${wsA}/&${creds}`);
    expect(r.status).toBe(403);
    expect(r.body.toString()).not.toContain('secret');
  });

  it('same-window requests get the identical URL', async () => {
    const t = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 1000);
    const a = await sign(keyA, { now: t });
    const b = await sign(keyA, { now: new Date(t.getTime() + 30_000) });
    expect(b.url).toBe(a.url);
  });
});
