// The fast presigner must produce what the SDK's getSignedUrl produces for the same request: same origin and path,
// same query parameters (signature included), for path-style and virtual-hosted endpoints and real AWS. No network:
// presigning is local computation.
import { PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { encodeKeyPath, FastPresigner } from '../../src/storage/fast-presign.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const signingDate = new Date('2026-12-01T10:20:30Z');

const clients: Record<string, () => S3Client> = {
  'path-style endpoint': () =>
    new S3Client({ endpoint: 'http://127.0.0.1:3900', region: 'us-east-1', credentials, forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
  'virtual-hosted endpoint': () =>
    new S3Client({ endpoint: 'https://storage.example.com', region: 'auto', credentials, forcePathStyle: false,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
  'temporary credentials (session token signed into the query)': () =>
    new S3Client({ endpoint: 'http://127.0.0.1:3900', region: 'us-east-1', forcePathStyle: true,
      credentials: { ...credentials, sessionToken: 'FwoGZXIvYXdzEXAMPLE//token+with/odd=chars' },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
  'AWS (no endpoint)': () =>
    new S3Client({ region: 'eu-west-1', credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
};

function parts(url: string) {
  const u = new URL(url);
  return { base: `${u.origin}${u.pathname}`, query: Object.fromEntries([...u.searchParams.entries()].sort()) };
}

const key = 'workspaces/ws-1/files/0b6f1a2e-5a6b-4c1d-9e8f-123456789abc.png';

describe.each(Object.entries(clients))('fast presign equals getSignedUrl — %s', (_name, make) => {
  it('PutObject with signed Content-Type, Content-Length, Content-Disposition, If-None-Match and checksum', async () => {
    const client = make();
    const checksum = 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=';
    const disposition = `attachment; filename="a b.txt"; filename*=UTF-8''a%20b.txt`;
    const sdk = await getSignedUrl(
      client,
      new PutObjectCommand({ Bucket: 'stowage', Key: key, ContentType: 'image/png', ContentLength: 1234, IfNoneMatch: '*',
        ChecksumSHA256: checksum, ContentDisposition: disposition }),
      {
        expiresIn: 900,
        signingDate,
        signableHeaders: new Set(['content-type', 'content-length', 'if-none-match', 'x-amz-checksum-sha256', 'content-disposition']),
        unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
      },
    );
    const fast = await new FastPresigner(client, 'stowage').presign({
      method: 'PUT', key, operation: 'PutObject', expiresIn: 900, signingDate,
      headers: { 'Content-Type': 'image/png', 'Content-Length': '1234', 'Content-Disposition': disposition, 'If-None-Match': '*', 'x-amz-checksum-sha256': checksum },
    });
    expect(parts(fast)).toEqual(parts(sdk));
    client.destroy();
  });

  it('UploadPart with a signed Content-Length', async () => {
    const client = make();
    const uploadId = 'VXBsb2FkIElE+/=ZXhhbXBsZQ';
    const sdk = await getSignedUrl(
      client,
      new UploadPartCommand({ Bucket: 'stowage', Key: key, UploadId: uploadId, PartNumber: 7, ContentLength: 16777216 }),
      { expiresIn: 3600, signingDate, signableHeaders: new Set(['content-length']), unhoistableHeaders: new Set() },
    );
    const fast = await new FastPresigner(client, 'stowage').presign({
      method: 'PUT', key, operation: 'UploadPart', query: { partNumber: '7', uploadId }, expiresIn: 3600, signingDate,
      headers: { 'Content-Length': '16777216' },
    });
    expect(parts(fast)).toEqual(parts(sdk));
    client.destroy();
  });

  it('keys with characters that need encoding', async () => {
    const client = make();
    const odd = "workspaces/w/files/a b+c(1)!*'~é.txt";
    const sdk = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'stowage', Key: odd, ContentType: 'text/plain' }), {
      expiresIn: 60, signingDate, signableHeaders: new Set(['content-type']),
    });
    const fast = await new FastPresigner(client, 'stowage').presign({
      method: 'PUT', key: odd, operation: 'PutObject', expiresIn: 60, signingDate, headers: { 'Content-Type': 'text/plain' },
    });
    expect(parts(fast)).toEqual(parts(sdk));
    client.destroy();
  });
});

describe('encodeKeyPath', () => {
  it('keeps slashes and encodes RFC 3986 reserved characters', () => {
    expect(encodeKeyPath("a/b c/d+e!'()*~")).toBe('a/b%20c/d%2Be%21%27%28%29%2A~');
  });
});
