// Embedded store: the hardening cases of the 2025 review (unauthenticated POST memory, unsigned headers, signed
// trailers, the data-directory lock, durability, DeleteBucket racing a PUT, presigned x-amz-* parameters, status codes,
// checksum mismatches). Cases AWS documents are in the conformance suites; these need the embedded store's internals
// (its data directory, or requests the SDK will not craft).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Client } from '@aws-sdk/client-s3';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { errorCode, rawRequest } from './raw-s3.ts';

describe('hardening [embedded]', () => {
  let t: EmbeddedS3Target;
  let s3: S3Client;
  let bucket: string;
  beforeAll(async () => {
    t = embeddedTarget();
    await t.start();
    s3 = t.client();
    bucket = await t.createBucket('harden');
  });
  afterAll(() => t.stop());

  const form = (parts: Array<[string, string]>, boundary = 'XXBOUNDARYXX') => {
    let body = '';
    for (const [name, value] of parts) body += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    body += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nhello\r\n--${boundary}--\r\n`;
    return { body: Buffer.from(body), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
  };

  it('unauthenticated POST: part headers and names count toward the pre-file cap; at most 1000 fields (MaxPostPreDataLengthExceeded)', async () => {
    void s3;
    // 1001 tiny fields: only 1001 short values, far below the byte cap
    const many = form(Array.from({ length: 1001 }, (_, i) => [`f${i}`, '']));
    const r1 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...many.headers, 'content-length': String(many.body.length) }, many.body);
    expect(r1.status).toBe(400);
    expect(errorCode(r1.body)).toBe('MaxPostPreDataLengthExceeded');
    // 50 fields with 7 KB names and empty values: 350 KB of names, no value bytes
    const named = form(Array.from({ length: 50 }, (_, i) => [`f${i}${'a'.repeat(7000)}`, '']));
    const r2 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...named.headers, 'content-length': String(named.body.length) }, named.body);
    expect(r2.status).toBe(400);
    expect(errorCode(r2.body)).toBe('MaxPostPreDataLengthExceeded');
    // a normal-sized anonymous form is still refused for what it is: no policy
    const small = form([['key', 'x']]);
    const r3 = await rawRequest(`${t.endpoint}/${bucket}`, 'POST', { ...small.headers, 'content-length': String(small.body.length) }, small.body);
    expect(r3.status).toBe(403);
    void randomBytes;
  });
});
