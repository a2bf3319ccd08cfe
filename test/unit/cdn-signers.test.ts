import { generateKeyPairSync } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createCloudFrontSigner } from '../../src/cdn/cloudfront.ts';
import { cannedPolicy, cfBase64Decode, cfBase64Encode, matchesResourcePattern } from '../../src/cdn/cloudfront-format.ts';
import { createEdgeSigner } from '../../src/cdn/edge.ts';
import { createS3PresignSigner } from '../../src/cdn/s3-presign.ts';
import { cloudFrontCookies, loadPublicKeys, splitRequestTarget, verifySignedRequest } from '../../src/edge/verify.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const other = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const KID = 'KTESTKEYPAIR01';
const keys = loadPublicKeys({ [KID]: publicKey });
const BASE = 'https://d111111abcdef8.cloudfront.net';
const now = new Date('2026-11-24T05:00:01Z'); // not on a window boundary

function verifyUrl(url: string, at = now, clientIp = '127.0.0.1') {
  const u = new URL(url);
  const split = splitRequestTarget(u.pathname + u.search);
  const q = split.signing!;
  return verifySignedRequest({
    resource: u.origin + split.rawPath + (split.rawQuery ? `?${split.rawQuery}` : ''),
    creds: { expires: q.Expires, policy: q.Policy, signature: q.Signature, keyPairId: q['Key-Pair-Id'], hashAlgorithm: q['Hash-Algorithm'] },
    keys,
    now: at,
    clientIp,
  });
}

describe('CloudFront base64', () => {
  it('round-trips and uses - _ ~', () => {
    for (let n = 0; n < 64; n++) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff));
      const e = cfBase64Encode(b);
      expect(e).not.toMatch(/[+=/]/);
      expect(cfBase64Decode(e)!.equals(b)).toBe(true);
    }
    expect(cfBase64Decode('ab+c')).toBeNull();
    expect(cfBase64Decode('abc')).toBeNull();
  });

  it('canned policy has the documented shape', () => {
    expect(cannedPolicy('https://x/a', 1)).toBe('{"Statement":[{"Resource":"https://x/a","Condition":{"DateLessThan":{"AWS:EpochTime":1}}}]}');
  });

  it('wildcards', () => {
    expect(matchesResourcePattern('https://x/ws/a/*', 'https://x/ws/a/f.png?x=1')).toBe(true);
    expect(matchesResourcePattern('https://x/ws/a/*', 'https://x/ws/ab/f.png')).toBe(false);
    expect(matchesResourcePattern('http*://x/a?c', 'https://x/abc')).toBe(true);
    expect(matchesResourcePattern('https://x/a', 'https://x/a/b')).toBe(false);
    expect(matchesResourcePattern('*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000))).toBe(false);
  });
});

describe('CloudFrontSigner', () => {
  const signer = createCloudFrontSigner({ baseUrl: BASE, keyPairId: KID, privateKey, windowSeconds: 300 });
  const input = { key: 'workspaces/w1/files/0b5c1c5e-4b7e-4d33-9d5e-3c0f1f6f7a11.pdf', filename: 'r.pdf', contentType: 'application/pdf', ttlSeconds: 3600, now };

  it('signs a canned-policy URL our verifier accepts', async () => {
    const { url, expiresAt } = await signer.sign(input);
    expect(url).toMatch(/^https:\/\/d111111abcdef8\.cloudfront\.net\/workspaces\/w1\/files\/[^?]+\.pdf\?Expires=\d+&Signature=[A-Za-z0-9\-_~]+&Key-Pair-Id=KTESTKEYPAIR01$/);
    expect(expiresAt.getTime()).toBeGreaterThanOrEqual(now.getTime() + 3600_000);
    expect(verifyUrl(url)).toMatchObject({ ok: true });
    expect(verifyUrl(url, new Date(expiresAt.getTime() + 1000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('same window → identical URL; next window → different', async () => {
    const a = await signer.sign(input);
    const b = await signer.sign({ ...input, now: new Date(now.getTime() + 10_000) });
    const c = await signer.sign({ ...input, now: new Date(now.getTime() + 301_000) });
    expect(b.url).toBe(a.url);
    expect(c.url).not.toBe(a.url);
  });

  it('refuses tampering, other keys and unknown key pairs', async () => {
    const { url } = await signer.sign(input);
    const sig = /Signature=([^&]+)/.exec(url)![1]!;
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    expect(verifyUrl(url.replace(sig, flipped))).toMatchObject({ ok: false });
    expect(verifyUrl(url.replace('/w1/', '/w2/'))).toMatchObject({ ok: false, reason: 'bad signature' });
    expect(verifyUrl(url.replace(/Expires=\d+/, (m) => `Expires=${Number(m.slice(8)) + 3600}`))).toMatchObject({ ok: false });
    expect(verifyUrl(url.replace(KID, 'KOTHER'))).toMatchObject({ ok: false, reason: 'unknown key pair id' });
    const forged = createCloudFrontSigner({ baseUrl: BASE, keyPairId: KID, privateKey: other.privateKey });
    expect(verifyUrl((await forged.sign(input)).url)).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('custom policy: wildcard, not-before, source IP', async () => {
    const { url } = await signer.sign({ ...input, policy: { resource: 'workspaces/w1/*' } });
    expect(url).toContain('Policy=');
    expect(url).not.toContain('Expires=');
    expect(verifyUrl(url)).toMatchObject({ ok: true });
    // The same policy + signature is good for any key under the prefix, and no other.
    expect(verifyUrl(url.replace('files/0b5c', 'files/ffff'))).toMatchObject({ ok: true });
    expect(verifyUrl(url.replace('/w1/', '/w2/'))).toMatchObject({ ok: false, reason: 'resource not covered by policy' });

    const later = await signer.sign({ ...input, policy: { notBefore: new Date(now.getTime() + 600_000) } });
    expect(verifyUrl(later.url)).toMatchObject({ ok: false, reason: 'not yet valid' });
    expect(verifyUrl(later.url, new Date(now.getTime() + 601_000))).toMatchObject({ ok: true });

    const ip = await signer.sign({ ...input, policy: { sourceIp: '10.1.0.0/16' } });
    expect(verifyUrl(ip.url, now, '10.1.2.3')).toMatchObject({ ok: true });
    expect(verifyUrl(ip.url, now, '::ffff:10.1.2.3')).toMatchObject({ ok: true });
    expect(verifyUrl(ip.url, now, '10.2.0.1')).toMatchObject({ ok: false, reason: 'source ip not allowed' });
  });

  it('SHA256 signatures carry Hash-Algorithm and verify', async () => {
    const s256 = createCloudFrontSigner({ baseUrl: BASE, keyPairId: KID, privateKey, algorithm: 'SHA256' });
    const { url } = await s256.sign(input);
    expect(url).toContain('&Hash-Algorithm=SHA256');
    expect(verifyUrl(url)).toMatchObject({ ok: true });
    expect(verifyUrl(url.replace('&Hash-Algorithm=SHA256', ''))).toMatchObject({ ok: false });
  });

  it('signed cookies are scoped to a workspace prefix', () => {
    const c = signer.signCookies({ prefix: 'workspaces/w1/', ttlSeconds: 600, now });
    expect(Object.keys(c.cookies).sort()).toEqual(['CloudFront-Key-Pair-Id', 'CloudFront-Policy', 'CloudFront-Signature']);
    expect(c.resource).toBe(`${BASE}/workspaces/w1/*`);
    const header = c.setCookie().map((s) => s.split(';')[0]).join('; ');
    expect(c.setCookie()[0]).toContain('Path=/workspaces/w1/');
    const creds = cloudFrontCookies(header)!;
    const ok = verifySignedRequest({ resource: `${BASE}/workspaces/w1/files/x.png`, creds, keys, now });
    expect(ok).toMatchObject({ ok: true });
    const no = verifySignedRequest({ resource: `${BASE}/workspaces/w10/files/x.png`, creds, keys, now });
    expect(no).toMatchObject({ ok: false });
    expect(() => signer.signCookies({ prefix: 'workspaces/w1', ttlSeconds: 600, now })).toThrow();
  });

  it('edge signer puts the disposition into the signed query', async () => {
    const edge = createEdgeSigner({ baseUrl: 'http://127.0.0.1:9999', keyPairId: KID, privateKey });
    const { url } = await edge.sign({ ...input, filename: 'naïve "x".html', contentType: 'text/html', disposition: null });
    const u = new URL(url);
    expect(u.searchParams.get('response-content-disposition')).toMatch(/^attachment; filename="na.ve _x_.html"; filename\*=UTF-8''/);
    expect(u.searchParams.get('response-content-type')).toBe('text/html');
    expect(verifyUrl(url)).toMatchObject({ ok: true });
    expect(verifyUrl(url.replace('attachment', 'inline'))).toMatchObject({ ok: false });
    expect(verifyUrl(url + '&extra=1')).toMatchObject({ ok: false });
  });

  it('keys with spaces and unicode are encoded once and verify', async () => {
    const { url } = await signer.sign({ ...input, key: "dir/a b+c'ü (1).pdf" });
    expect(url).toContain("/dir/a%20b%2Bc'%C3%BC%20(1).pdf?");
    expect(verifyUrl(url)).toMatchObject({ ok: true });
  });
});

describe('S3PresignSigner', () => {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' },
  });
  const signer = createS3PresignSigner({ client, bucket: 'b', windowSeconds: 300 });
  const input = { key: 'workspaces/w1/files/x.svg', filename: 'logo.svg', contentType: 'image/svg+xml', ttlSeconds: 900, now };

  it('carries disposition and type as response-* parameters', async () => {
    const { url, expiresAt } = await signer.sign(input);
    const u = new URL(url);
    expect(u.searchParams.get('response-content-disposition')).toBe(`attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`);
    expect(u.searchParams.get('response-content-type')).toBe('image/svg+xml');
    const signedAt = u.searchParams.get('X-Amz-Date')!;
    const start = Date.parse(signedAt.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    expect(start).toBeLessThanOrEqual(now.getTime());
    expect(start + Number(u.searchParams.get('X-Amz-Expires')) * 1000).toBe(expiresAt.getTime());
  });

  it('same window → identical URL', async () => {
    const a = await signer.sign(input);
    const b = await signer.sign({ ...input, now: new Date(now.getTime() + 30_000) });
    expect(b.url).toBe(a.url);
  });
});
