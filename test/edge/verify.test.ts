// verifySignedRequest: which URLs a policy covers, and whether the signature covers the URL exactly.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCloudFrontSigner } from '../../src/cdn/cloudfront.ts';
import { loadPublicKeys, splitRequestTarget, splitResource, verifySignedRequest } from '../../src/edge/verify.ts';

const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KID = 'KVERIFYTEST01';
const keys = loadPublicKeys({ [KID]: publicKey });
const BASE = 'https://files.example.com';
const signer = createCloudFrontSigner({ baseUrl: BASE, keyPairId: KID, privateKey, responseParams: true, strategy: 'edge' });
const now = new Date('2026-11-24T05:00:01Z');
const input = { key: 'workspaces/w1/files/a.png', filename: 'a.png', contentType: 'image/png', ttlSeconds: 600, now };

/** Verifies `url` as requested at origin + path (path = raw path + query without signing parameters). */
function verifyAt(url: string, origin = new URL(url).origin, pathOverride?: string) {
  const u = new URL(url);
  const split = splitRequestTarget(u.pathname + u.search);
  const q = split.signing!;
  const path = pathOverride ?? split.rawPath + (split.rawQuery ? `?${split.rawQuery}` : '');
  return verifySignedRequest({
    origin,
    path,
    creds: { expires: q.Expires, policy: q.Policy, signature: q.Signature, keyPairId: q['Key-Pair-Id'] },
    keys,
    now,
  });
}

describe('verifySignedRequest: exact coverage', () => {
  it('canned and exact custom policies cover the URL exactly; wildcard ones do not', async () => {
    expect(verifyAt((await signer.sign(input)).url)).toMatchObject({ ok: true, exact: true });
    expect(verifyAt((await signer.sign({ ...input, policy: { notBefore: new Date(now.getTime() - 1000) } })).url)).toMatchObject({
      ok: true,
      exact: true,
    });
    expect(verifyAt((await signer.sign({ ...input, policy: { resource: 'workspaces/w1/*' } })).url)).toMatchObject({ ok: true, exact: false });
    // `?` is a one-character wildcard: a Resource with `?` in it matches other URLs too.
    const resource = signer.resourceFor(input);
    const loose = `${resource.slice(0, -1)}?`;
    const { url } = await signer.sign({ ...input, policy: { resource: loose } });
    expect(verifyAt(url)).toMatchObject({ ok: true, exact: false });
  });
});

describe('verifySignedRequest: origin and path are matched separately', () => {
  it('a host wildcard cannot absorb a path', async () => {
    const { url } = await signer.sign({ ...input, policy: { resource: 'https://*/workspaces/w1/*' } });
    expect(verifyAt(url)).toMatchObject({ ok: true });
    expect(verifyAt(url, 'https://other.example.com')).toMatchObject({ ok: true });
    const r = verifyAt(url, BASE, '/workspaces/w2/files/secret.pdf?x=/workspaces/w1/');
    expect(r).toMatchObject({ ok: false, reason: 'resource not covered by policy' });
  });

  it('the origin must match the pattern origin, and the path the pattern path', async () => {
    const c = signer.signCookies({ prefix: 'workspaces/w1/', ttlSeconds: 600, now });
    const creds = { policy: c.cookies['CloudFront-Policy'], signature: c.cookies['CloudFront-Signature'], keyPairId: KID };
    const v = (origin: string, path: string) => verifySignedRequest({ origin, path, creds, keys, now });
    expect(v(BASE, '/workspaces/w1/files/x.png')).toMatchObject({ ok: true, exact: false });
    expect(v(BASE, '/workspaces/w2/files/x.png')).toMatchObject({ ok: false });
    // What a Host header of `files.example.com/workspaces/w1/` used to produce.
    expect(v(`${BASE}/workspaces/w1/`, '/workspaces/w2/files/x.png')).toMatchObject({ ok: false });
    expect(v('https://files.example.com.evil', '/workspaces/w1/files/x.png')).toMatchObject({ ok: false });
  });

  it('splitResource', () => {
    expect(splitResource('https://h:1/a/b?c=/d')).toEqual({ origin: 'https://h:1', path: '/a/b?c=/d' });
    expect(splitResource('https://*/ws/*')).toEqual({ origin: 'https://*', path: '/ws/*' });
    expect(splitResource('https://*')).toEqual({ origin: 'https://*', path: '*' });
    expect(splitResource('https://h')).toEqual({ origin: 'https://h', path: '' });
    expect(splitResource('*')).toEqual({ origin: '*', path: '*' });
  });
});
