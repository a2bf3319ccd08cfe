// Which strategy stores the Content-Disposition on the object, what value, and when a CloudFront URL overrides it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CloudFrontSigner } from '../../src/cdn/cloudfront.ts';
import { createEdgeSigner } from '../../src/cdn/edge.ts';
import {
  contentDisposition,
  dispositionOverride,
  storedContentDisposition,
  storesDisposition,
} from '../../src/domain/disposition.ts';

describe('storesDisposition / storedContentDisposition', () => {
  it('only cloudfront stores it (edge and s3 set it per URL; no downloads section behaves as s3)', () => {
    expect(storesDisposition('cloudfront')).toBe(true);
    expect(storesDisposition('edge')).toBe(false);
    expect(storesDisposition('s3')).toBe(false);
    expect(storesDisposition(undefined)).toBe(false);
    for (const s of ['edge', 's3', undefined] as const) {
      expect(storedContentDisposition(s, { filename: 'a.png', contentType: 'image/png' })).toBeNull();
    }
  });

  it.each([
    ['notes.txt', 'text/plain', `attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`],
    ['Pixel ünïcode.png', 'image/png', `inline; filename="Pixel unicode.png"; filename*=UTF-8''Pixel%20%C3%BCn%C3%AFcode.png`],
    ['page.html', 'text/html', `attachment; filename="page.html"; filename*=UTF-8''page.html`],
    ['logo.svg', 'image/svg+xml', `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`],
    ['report.pdf', 'application/pdf', `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`],
    ['clip.mp4', 'video/mp4', `inline; filename="clip.mp4"; filename*=UTF-8''clip.mp4`],
    ['日本語.bin', 'application/octet-stream', `attachment; filename="download.bin"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.bin`],
  ])('cloudfront: %s (%s) → the default disposition of the type', (filename, contentType, expected) => {
    expect(storedContentDisposition('cloudfront', { filename, contentType })).toBe(expected);
    expect(storedContentDisposition('cloudfront', { filename, contentType })).toBe(contentDisposition({ filename, contentType }).header);
  });

  it('the value is a plain ASCII header value (browsers and S3 accept it as a request header / form field)', () => {
    const v = storedContentDisposition('cloudfront', { filename: 'a "quoted"; name\\ é 😀.png', contentType: 'image/png' })!;
    expect(v).toMatch(/^[\x20-\x7e]+$/);
    expect(v).not.toMatch(/[\r\n]/);
  });
});

describe('dispositionOverride', () => {
  it('only when the request is stricter than the stored default', () => {
    const png = { filename: 'p.png', contentType: 'image/png' };
    expect(dispositionOverride({ ...png, requested: 'attachment' })).toBe(`attachment; filename="p.png"; filename*=UTF-8''p.png`);
    expect(dispositionOverride({ ...png, requested: 'inline' })).toBeNull();
    expect(dispositionOverride({ ...png, requested: null })).toBeNull();
    expect(dispositionOverride(png)).toBeNull();
    const txt = { filename: 'n.txt', contentType: 'text/plain' };
    for (const requested of ['attachment', 'inline', null] as const) expect(dispositionOverride({ ...txt, requested })).toBeNull();
  });
});

describe('CloudFront signer with stored dispositions', () => {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const base = { baseUrl: 'https://d1.cloudfront.net', keyPairId: 'K1', privateKey };
  const now = new Date('2026-11-24T05:00:01Z');
  const sign = (s: CloudFrontSigner, contentType: string, disposition?: 'attachment' | 'inline' | null) =>
    new URL(s.signSync({ key: 'workspaces/w/files/f.x', filename: 'f.x', contentType, disposition, ttlSeconds: 60, now }).url);

  it('cloudfront: a signed response-content-disposition only for ?disposition=attachment on a safe-inline type', () => {
    const s = new CloudFrontSigner(base);
    expect([...sign(s, 'image/png').searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    expect([...sign(s, 'image/png', 'inline').searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    const att = sign(s, 'image/png', 'attachment');
    expect([...att.searchParams.keys()]).toEqual(['response-content-disposition', 'Expires', 'Signature', 'Key-Pair-Id']);
    expect(att.searchParams.get('response-content-disposition')).toBe(`attachment; filename="f.x"; filename*=UTF-8''f.x`);
    for (const d of ['attachment', 'inline', null] as const) {
      expect([...sign(s, 'text/html', d).searchParams.keys()]).toEqual(['Expires', 'Signature', 'Key-Pair-Id']);
    }
  });

  it('edge (responseParams) keeps both parameters on every URL', () => {
    const e = createEdgeSigner(base);
    const u = sign(e, 'image/png');
    expect(u.searchParams.get('response-content-disposition')).toMatch(/^inline; /);
    expect(u.searchParams.get('response-content-type')).toBe('image/png');
  });
});
