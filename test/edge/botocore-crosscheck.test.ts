// Cross-check against an independent implementation: botocore's CloudFrontSigner (Debian python3-botocore) with an
// RSA SHA-1 signer from python3-cryptography.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudFrontSigner } from '../../src/cdn/cloudfront.ts';
import { createEdgeSigner } from '../../src/cdn/edge.ts';
import { resourceUrl } from '../../src/cdn/cloudfront-format.ts';
import { startEdge, type EdgeHandle } from '../../src/edge/server.ts';
import { edgeTargets, openEdgeTarget, type EdgeS3Target } from './s3-target.ts';

const PY = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./botocore_sign.py', import.meta.url));

function botocoreAvailable(): string | null {
  if (!existsSync(PY)) return `${PY} not found`;
  const r = spawnSync(PY, ['-c', 'import botocore.signers, cryptography.hazmat.primitives.asymmetric.padding'], { encoding: 'utf8' });
  return r.status === 0 ? null : `python3-botocore / python3-cryptography missing: ${r.stderr.trim().split('\n').pop()}`;
}
const missing = botocoreAvailable();
if (missing) console.warn(`botocore cross-check SKIPPED: ${missing} (apt-get install python3-botocore python3-cryptography)`);

function botoSign(req: object): { url: string; policy?: string } {
  return JSON.parse(execFileSync(PY, [SCRIPT], { input: JSON.stringify(req), encoding: 'utf8' }));
}

// PKCS#1 ("BEGIN RSA PRIVATE KEY"), the format CloudFront's console hands out; both sides must accept it.
const kp = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});
const KID = 'K2JCJMDEHXQW5F';

describe.skipIf(missing !== null)('CloudFront signer ≡ botocore', () => {
  const base = 'https://d111111abcdef8.cloudfront.net';
  const signer = createCloudFrontSigner({ baseUrl: base, keyPairId: KID, privateKey: kp.privateKey, windowSeconds: 60 });

  it.each([
    'workspaces/w1/files/0b5c1c5e-4b7e-4d33-9d5e-3c0f1f6f7a11.pdf',
    'workspaces/w-2/files/a b+c (1).png',
    'workspaces/w3/files/ünïcødé/日本.txt',
  ])('identical canned-policy URL for %s', (key) => {
    const now = new Date('2026-11-24T05:00:30Z');
    const ours = signer.signSync({ key, filename: 'f', contentType: 'application/pdf', ttlSeconds: 3600, now });
    const expires = Math.floor(ours.expiresAt.getTime() / 1000);
    const theirs = botoSign({ pem: kp.privateKey, keyPairId: KID, url: resourceUrl(base, key), expires });
    expect(ours.url).toBe(theirs.url);
  });

  it('identical URL with a signed query string (edge style, response-content-disposition)', () => {
    const edgeSigner = createEdgeSigner({ baseUrl: 'http://127.0.0.1:8788', keyPairId: KID, privateKey: kp.privateKey });
    const input = { key: 'workspaces/w1/files/x.html', filename: 'Ünsafe "page".html', contentType: 'text/html', ttlSeconds: 900, now: new Date('2026-11-24T05:00:30Z') };
    const ours = edgeSigner.signSync(input);
    const theirs = botoSign({
      pem: kp.privateKey,
      keyPairId: KID,
      url: edgeSigner.resourceFor(input),
      expires: ours.expiresAt.getTime() / 1000,
    });
    expect(ours.url).toBe(theirs.url);
  });
});

describe.skipIf(missing !== null).each(edgeTargets())('URLs signed by botocore are accepted by our edge on $name', (t) => {
  let s3: EdgeS3Target;
  let edge: EdgeHandle;
  const ws = `ws${randomUUID().slice(0, 8)}`;
  const key = `workspaces/${ws}/files/${randomUUID()}.txt`;
  const other = `workspaces/x${ws}/files/${randomUUID()}.txt`;

  beforeAll(async () => {
    s3 = await openEdgeTarget(t);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'hello from botocore', ContentType: 'text/plain' }));
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: other, Body: 'other', ContentType: 'text/plain' }));
    edge = await startEdge({
      s3: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, bucket: s3.bucket },
      publicKeys: { [KID]: kp.publicKey },
    });
  });
  afterAll(async () => {
    await edge?.close();
    await s3?.cleanup();
  });

  it('canned policy', async () => {
    const expires = Math.floor(Date.now() / 1000) + 600;
    const { url } = botoSign({ pem: kp.privateKey, keyPairId: KID, url: resourceUrl(edge.url, key), expires });
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('hello from botocore');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const expired = botoSign({ pem: kp.privateKey, keyPairId: KID, url: resourceUrl(edge.url, key), expires: Math.floor(Date.now() / 1000) - 5 });
    expect((await fetch(expired.url)).status).toBe(403);
  });

  it('custom policy with a wildcard, not-before and source IP', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { url, policy } = botoSign({
      pem: kp.privateKey,
      keyPairId: KID,
      url: resourceUrl(edge.url, key),
      policy: { resource: `${edge.url}/workspaces/${ws}/*`, expires: now + 600, notBefore: now - 60, ip: '127.0.0.1' },
    });
    expect(policy).toContain('"DateGreaterThan"');
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('hello from botocore');
    // The policy does not cover the other workspace.
    const moved = url.replace(`/workspaces/${ws}/files/${key.split('/').pop()}`, `/${other}`);
    expect((await fetch(moved)).status).toBe(403);
  });
});
