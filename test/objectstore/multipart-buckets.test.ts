// Conformance: multipart uploads (all operations and errors), buckets, CORS, presigned POST — embedded + RGW.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Target } from '../helpers/s3-targets.ts';
import { checksumOf } from '../../src/objectstore/index.ts';
import { errorCode } from './raw-s3.ts';
import { expectRefusal, forEachTarget, rgwDeviation, s3Error } from './targets.ts';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const multipartEtag = (parts: Buffer[]) => `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

forEachTarget('multipart & buckets', (t: S3Target) => {
  let s3: S3Client;
  let bucket: string;
  const big = randomBytes(5 * MiB);
  beforeAll(async () => {
    await t.start();
    s3 = t.client();
    bucket = await t.createBucket('conf-mp');
  });
  afterAll(() => t.stop());

  const create = async (Key: string, extra: Record<string, unknown> = {}) => (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ...extra }))).UploadId!;
  const part = async (Key: string, UploadId: string, PartNumber: number, Body: Buffer, extra: Record<string, unknown> = {}) =>
    s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body, ...extra }));
  const complete = (Key: string, UploadId: string, Parts: Array<{ PartNumber: number; ETag?: string; [k: string]: unknown }>, extra: Record<string, unknown> = {}) =>
    s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts }, ...extra }));

  // ------------------------------------------------------------------------------------------------ 6. multipart
  it('create → upload parts → ListParts (paginated) → complete: ETag md5-of-md5s-N, bytes and headers right', async () => {
    const key = 'mp/whole.bin';
    const last = randomBytes(1234);
    const id = await create(key, { ContentType: 'application/x-test', Metadata: { who: 'mp' } });
    const p1 = await part(key, id, 1, big);
    const p2 = await part(key, id, 2, last);
    expect(p1.ETag).toBe(`"${md5(big).toString('hex')}"`);
    const page1 = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id, MaxParts: 1 }));
    expect(page1.Parts!.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([[1, big.length, p1.ETag]]);
    expect(page1.IsTruncated).toBe(true);
    const page2 = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id, MaxParts: 1, PartNumberMarker: page1.NextPartNumberMarker }));
    expect(page2.Parts!.map((p) => [p.PartNumber, p.Size])).toEqual([[2, last.length]]);
    expect(page2.IsTruncated).toBe(false);
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/whole' }));
    expect(listed.Uploads!.map((u) => [u.Key, u.UploadId])).toEqual([[key, id]]);
    const done = await complete(key, id, [
      { PartNumber: 1, ETag: p1.ETag },
      { PartNumber: 2, ETag: p2.ETag },
    ]);
    const expected = multipartEtag([big, last]);
    if (t.name === 'rgw' && !done.ETag) rgwDeviation(t, 'CompleteMultipartUpload answers with an empty ETag (HeadObject afterwards is right)');
    else expect(done.ETag).toBe(expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ETag).toBe(expected);
    expect(head.ContentLength).toBe(big.length + last.length);
    expect(head.ContentType).toBe('application/x-test');
    expect(head.Metadata).toEqual({ who: 'mp' });
    // a range that spans the part boundary
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${big.length - 10}-${big.length + 9}` }));
    expect(Buffer.from(await g.Body!.transformToByteArray()).equals(Buffer.concat([big.subarray(-10), last.subarray(0, 10)]))).toBe(true);
    const all = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(createHash('md5').update(await all.Body!.transformToByteArray()).digest('hex')).toBe(createHash('md5').update(Buffer.concat([big, last])).digest('hex'));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/whole' }))).Uploads ?? []).toEqual([]);
  });

  it('re-uploading a part number replaces it; parts may be uploaded out of order', async () => {
    const key = 'mp/replace.bin';
    const id = await create(key);
    const b2 = await part(key, id, 2, Buffer.from('old last part'));
    const p1 = await part(key, id, 1, big);
    const n2 = await part(key, id, 2, Buffer.from('new last part!'));
    expect(n2.ETag).not.toBe(b2.ETag);
    await expectRefusal(t, complete(key, id, [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: b2.ETag }]), { status: 400, code: 'InvalidPart' }, 'Complete with a replaced part ETag');
    await complete(key, id, [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: n2.ETag }]);
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=-14' }));
    expect(await g.Body!.transformToString()).toBe('new last part!');
  });

  it('multipart errors: InvalidPartOrder, InvalidPart, EntityTooSmall, NoSuchUpload, part number limits, MalformedXML', async () => {
    const key = 'mp/errors.bin';
    const id = await create(key);
    const a = await part(key, id, 1, Buffer.from('small one'));
    const b = await part(key, id, 2, Buffer.from('small two'));
    await expectRefusal(t, complete(key, id, [{ PartNumber: 2, ETag: b.ETag }, { PartNumber: 1, ETag: a.ETag }]), { status: 400, code: 'InvalidPartOrder' }, 'Complete with parts out of order (small parts)');
    await expectRefusal(t, complete(key, id, [{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }]), { status: 400, code: 'InvalidPart' }, 'Complete with a wrong part ETag');
    await expectRefusal(t, complete(key, id, [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 3, ETag: b.ETag }]), { status: 400, code: 'InvalidPart' }, 'Complete naming a part never uploaded (with small parts)');
    expect(await s3Error(complete(key, id, [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 2, ETag: b.ETag }]))).toMatchObject({ status: 400, code: 'EntityTooSmall' });
    await expectRefusal(t, complete(key, id, []), { status: 400, code: 'MalformedXML' }, 'Complete with no parts');
    await expectRefusal(t, part(key, id, 10001, Buffer.from('x')), { status: 400, code: 'InvalidArgument' }, 'part number 10001');
    await expectRefusal(t, part(key, id, 0, Buffer.from('x')), { status: 400, code: 'InvalidArgument' }, 'part number 0');
    expect(await s3Error(part(key, 'no-such-upload-id', 1, Buffer.from('x')))).toMatchObject({ status: 404, code: 'NoSuchUpload' });
    await expectRefusal(t, complete(key, 'no-such-upload-id', [{ PartNumber: 1, ETag: a.ETag }]), { status: 404, code: 'NoSuchUpload' }, 'Complete of an unknown upload id');
    await expectRefusal(t, s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: 'no-such-upload-id' })), { status: 404, code: 'NoSuchUpload' }, 'ListParts of an unknown upload id');
    // a single small part is a valid (last) part
    const one = await complete(key, id, [{ PartNumber: 1, ETag: a.ETag }]).catch((e: Error) => e);
    if (t.name === 'rgw' && one instanceof Error) {
      rgwDeviation(t, `after accepting part numbers 0 and 10001, completing with part 1 alone fails: ${one.name}`);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
      return;
    }
    expect(one).not.toBeInstanceOf(Error);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength).toBe('small one'.length);
  });

  it('AbortMultipartUpload removes the upload and its parts; later calls say NoSuchUpload', async () => {
    const key = 'mp/abort.bin';
    const id = await create(key);
    await part(key, id, 1, Buffer.from('to be aborted'));
    expect((await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }))).$metadata.httpStatusCode).toBe(204);
    const lp = await s3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })));
    if (t.name === 'rgw' && lp.code === 'NoSuchKey') rgwDeviation(t, 'ListParts of an aborted upload says NoSuchKey (AWS: NoSuchUpload)');
    else expect(lp).toMatchObject({ status: 404, code: 'NoSuchUpload' });
    expect(await s3Error(part(key, id, 1, Buffer.from('x')))).toMatchObject({ status: 404, code: 'NoSuchUpload' });
    await expectRefusal(t, s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })), { status: 404, code: 'NoSuchUpload' }, 'second AbortMultipartUpload');
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp/abort' }))).Uploads ?? []).toEqual([]);
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).toMatchObject({ status: 404 });
  });

  it('ListMultipartUploads paginates by key-marker / upload-id-marker', async () => {
    const ids: string[] = [];
    for (const k of ['lmu/a', 'lmu/b', 'lmu/c']) ids.push(await create(k));
    const p1 = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/', MaxUploads: 2 }));
    expect(p1.Uploads!.map((u) => u.Key)).toEqual(['lmu/a', 'lmu/b']);
    expect(p1.IsTruncated).toBe(true);
    const p2 = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'lmu/', MaxUploads: 2, KeyMarker: p1.NextKeyMarker, UploadIdMarker: p1.NextUploadIdMarker }));
    expect(p2.Uploads!.map((u) => u.Key)).toEqual(['lmu/c']);
    for (const [i, k] of ['lmu/a', 'lmu/b', 'lmu/c'].entries()) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: k, UploadId: ids[i] }));
  });

  it('CompleteMultipartUpload honours If-None-Match: * (412 when the key exists)', async () => {
    const key = 'mp/cond.bin';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'existing' }));
    const id = await create(key);
    const p = await part(key, id, 1, Buffer.from('would overwrite'));
    const r = await complete(key, id, [{ PartNumber: 1, ETag: p.ETag }], { IfNoneMatch: '*' }).then(
      () => ({ status: 200, code: '' }),
      (e: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ status: e.$metadata?.httpStatusCode ?? 0, code: e.name }),
    );
    if (t.name === 'rgw' && r.status === 200) {
      rgwDeviation(t, 'If-None-Match is ignored on CompleteMultipartUpload (the object was overwritten; AWS: 412)');
      return;
    }
    expect(r).toMatchObject({ status: 412, code: 'PreconditionFailed' });
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await g.Body!.transformToString()).toBe('existing');
    // the upload is still there and can complete without the condition
    await complete(key, id, [{ PartNumber: 1, ETag: p.ETag }]);
    const g2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await g2.Body!.transformToString()).toBe('would overwrite');
  });

  it('multipart with x-amz-checksum-sha256 per part: composite checksum -N; a wrong part checksum is BadDigest; complete must name each part checksum', async () => {
    const key = 'mp/checksum.bin';
    const id = await create(key, { ChecksumAlgorithm: 'SHA256' });
    const d1 = big;
    const d2 = Buffer.from('tail');
    const c1 = checksumOf('SHA256', d1);
    const c2 = checksumOf('SHA256', d2);
    const r1 = await part(key, id, 1, d1, { ChecksumSHA256: c1 });
    if (t.name === 'rgw' && r1.ChecksumSHA256 === undefined) {
      rgwDeviation(t, 'UploadPart ignores x-amz-checksum-sha256 (no flexible checksums in RGW 16)');
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
      return;
    }
    expect(r1.ChecksumSHA256).toBe(c1);
    expect(await s3Error(part(key, id, 2, d2, { ChecksumSHA256: c1 }))).toMatchObject({ status: 400, code: 'BadDigest' });
    const r2 = await part(key, id, 2, d2, { ChecksumSHA256: c2 });
    // As AWS: the complete request of such an upload must name each part's checksum.
    expect(await s3Error(complete(key, id, [{ PartNumber: 1, ETag: r1.ETag, ChecksumSHA256: c1 }, { PartNumber: 2, ETag: r2.ETag }]))).toMatchObject({
      status: 400,
      code: 'InvalidRequest',
    });
    const done = await complete(key, id, [
      { PartNumber: 1, ETag: r1.ETag, ChecksumSHA256: c1 },
      { PartNumber: 2, ETag: r2.ETag, ChecksumSHA256: c2 },
    ]);
    const composite = `${createHash('sha256').update(Buffer.concat([Buffer.from(c1, 'base64'), Buffer.from(c2, 'base64')])).digest('base64')}-2`;
    expect(done.ChecksumSHA256).toBe(composite);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    expect(h.ChecksumSHA256).toBe(composite);
  });

  // ------------------------------------------------------------------------------------------------ 7. buckets
  it('UploadPart with a checksum on an upload created without a checksum algorithm → 400 InvalidRequest (Checksum Type mismatch)', async () => {
    const id = await create('mp/nochecksum.bin');
    const body = Buffer.from('part with a checksum');
    await expectRefusal(
      t,
      part('mp/nochecksum.bin', id, 1, body, { ChecksumCRC32: checksumOf('CRC32', body) }),
      { status: 400, code: 'InvalidRequest' },
      'UploadPart with x-amz-checksum-crc32 on an upload created without a checksum algorithm',
    );
    // without a checksum the part is accepted
    expect((await part('mp/nochecksum.bin', id, 1, body)).ETag).toBe(`"${md5(body).toString('hex')}"`);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp/nochecksum.bin', UploadId: id }));
  });

  it('CreateBucket / HeadBucket / ListBuckets / DeleteBucket (BucketNotEmpty, NoSuchBucket, InvalidBucketName)', async () => {
    const name = `conf-bkt-${randomBytes(6).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    expect((await s3.send(new HeadBucketCommand({ Bucket: name }))).$metadata.httpStatusCode).toBe(200);
    expect((await s3.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name)).toContain(name);
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'x', Body: 'x' }));
    expect(await s3Error(s3.send(new DeleteBucketCommand({ Bucket: name })))).toMatchObject({ status: 409, code: 'BucketNotEmpty' });
    await t.deleteBucket(name);
    expect(await s3Error(s3.send(new HeadBucketCommand({ Bucket: name })))).toMatchObject({ status: 404 });
    expect(await s3Error(s3.send(new DeleteBucketCommand({ Bucket: name })))).toMatchObject({ status: 404, code: 'NoSuchBucket' });
    await expectRefusal(t, s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name!' })), { status: 400, code: 'InvalidBucketName' }, 'CreateBucket with an invalid name');
  });

  it('CORS: Put/Get/DeleteBucketCors; preflight echoes the origin with methods, headers, max-age; ETag exposed', async () => {
    const origin = 'http://app.example.test';
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: bucket,
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin], AllowedMethods: ['GET', 'PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 }] },
      }),
    );
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: bucket }));
    expect(got.CORSRules![0].AllowedOrigins).toEqual([origin]);
    expect(got.CORSRules![0].ExposeHeaders).toEqual(['ETag']);
    const pre = await fetch(`${t.endpoint}/${bucket}/some/key.bin`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,x-amz-meta-a' },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    expect((pre.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toMatch(/content-type/);
    expect(pre.headers.get('access-control-max-age')).toBe('600');
    expect((pre.headers.get('access-control-expose-headers') ?? '').toLowerCase()).toContain('etag');
    const denied = await fetch(`${t.endpoint}/${bucket}/some/key.bin`, { method: 'OPTIONS', headers: { origin: 'http://evil.test', 'access-control-request-method': 'PUT' } });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    // an actual cross-origin request through a presigned URL carries the CORS headers
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cors.txt', Body: 'cors' }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'cors.txt' }), { expiresIn: 60 });
    const actual = await fetch(url, { headers: { origin } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get('access-control-allow-origin')).toBe(origin);
    expect((actual.headers.get('access-control-expose-headers') ?? '').toLowerCase()).toContain('etag');
    await actual.text();
    await s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    expect(await s3Error(s3.send(new GetBucketCorsCommand({ Bucket: bucket })))).toMatchObject({ status: 404, code: 'NoSuchCORSConfiguration' });
    const none = await fetch(`${t.endpoint}/${bucket}/some/key.bin`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' } });
    expect(none.status).toBe(403);
  });

  // ------------------------------------------------------------------------------------------------ 1. presigned POST
  const postForm = async (post: { url: string; fields: Record<string, string> }, file: Buffer, extra: Record<string, string> = {}, omit: string[] = []) => {
    const form = new FormData();
    for (const [k, v] of Object.entries({ ...post.fields, ...extra })) if (!omit.includes(k)) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(file)]), 'upload.bin');
    const res = await fetch(post.url, { method: 'POST', body: form, redirect: 'manual' });
    return { status: res.status, headers: res.headers, body: await res.text() };
  };

  it('presigned POST: policy with key, content-length-range, Content-Type, x-amz-meta; success 204 / 201 XML / 303 redirect', async () => {
    const post = await createPresignedPost(s3, {
      Bucket: bucket,
      Key: 'post/ok.bin',
      Conditions: [['content-length-range', 1, 1000], ['starts-with', '$Content-Type', 'image/'], { 'x-amz-meta-owner': 'alice' }],
      Fields: { 'Content-Type': 'image/png', 'x-amz-meta-owner': 'alice' },
      Expires: 300,
    });
    const file = randomBytes(500);
    const r = await postForm(post, file);
    expect(r.status).toBe(204);
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'post/ok.bin' }));
    expect(h.ETag).toBe(`"${md5(file).toString('hex')}"`);
    expect(h.ContentType).toBe('image/png');
    expect(h.Metadata).toEqual({ owner: 'alice' });
    const post201 = await createPresignedPost(s3, { Bucket: bucket, Key: 'post/201.bin', Conditions: [{ success_action_status: '201' }], Fields: { success_action_status: '201' }, Expires: 300 });
    const r201 = await postForm(post201, file);
    expect(r201.status).toBe(201);
    expect(r201.body).toMatch(/<Key>post\/201.bin<\/Key>/);
    expect(r201.body).toMatch(/<ETag>/);
    const redirect = 'http://app.example.test/done';
    const post303 = await createPresignedPost(s3, { Bucket: bucket, Key: 'post/303.bin', Conditions: [{ success_action_redirect: redirect }], Fields: { success_action_redirect: redirect }, Expires: 300 });
    const r303 = await postForm(post303, file);
    expect(r303.status).toBe(303);
    const loc = new URL(r303.headers.get('location')!);
    expect(loc.origin + loc.pathname).toBe(redirect);
    expect(loc.searchParams.get('key')).toBe('post/303.bin');
    expect(loc.searchParams.get('bucket')).toBe(bucket);
  });

  it('presigned POST refusals: too large, too small, wrong key, wrong Content-Type, extra field, tampered policy, expired', async () => {
    const mk = (Key: string, Conditions: unknown[] = [], Fields: Record<string, string> = {}, Expires = 300) =>
      createPresignedPost(s3, { Bucket: bucket, Key, Conditions: Conditions as never, Fields, Expires });
    const ranged = await mk('post/ranged.bin', [['content-length-range', 10, 100]]);
    const tooBig = await postForm(ranged, randomBytes(101));
    expect(tooBig.status).toBe(400);
    expect(errorCode(tooBig.body)).toBe('EntityTooLarge');
    const tooSmall = await postForm(ranged, randomBytes(5));
    expect(tooSmall.status).toBe(400);
    expect(errorCode(tooSmall.body)).toBe('EntityTooSmall');
    const prefixed = await createPresignedPost(s3, { Bucket: bucket, Key: 'post/user1/${filename}', Conditions: [['starts-with', '$key', 'post/user1/']], Expires: 300 });
    const okPrefixed = await postForm(prefixed, randomBytes(10));
    expect(okPrefixed.status).toBe(204);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'post/user1/upload.bin' }))).ContentLength).toBe(10);
    const wrongKey = await postForm(prefixed, randomBytes(10), { key: 'post/user2/x' });
    expect(wrongKey.status).toBe(403);
    expect(errorCode(wrongKey.body)).toBe('AccessDenied');
    const typed = await mk('post/typed.bin', [['eq', '$Content-Type', 'image/png']], { 'Content-Type': 'image/png' });
    const wrongType = await postForm(typed, randomBytes(10), { 'Content-Type': 'text/html' });
    expect(wrongType.status).toBe(403);
    const extra = await postForm(await mk('post/extra.bin'), randomBytes(10), { 'x-amz-meta-sneaky': '1' });
    if (t.name === 'rgw' && extra.status !== 403) rgwDeviation(t, `presigned POST accepts a form field not covered by the policy (${extra.status}; AWS: 403 Extra input fields)`);
    else expect(extra.status).toBe(403);
    const good = await mk('post/tamper.bin');
    const policy = JSON.parse(Buffer.from(good.fields.Policy, 'base64').toString()) as { conditions: unknown[] };
    policy.conditions = policy.conditions.filter((c) => !(typeof c === 'object' && c && 'key' in c));
    const tampered = await postForm(good, randomBytes(10), { Policy: Buffer.from(JSON.stringify(policy)).toString('base64'), key: 'post/elsewhere.bin' });
    expect(tampered.status).toBe(403);
    if (t.name === 'rgw' && errorCode(tampered.body) !== 'SignatureDoesNotMatch') rgwDeviation(t, `a tampered POST policy is ${errorCode(tampered.body)} (AWS: SignatureDoesNotMatch)`);
    else expect(errorCode(tampered.body)).toBe('SignatureDoesNotMatch');
    const expiredPost = await mk('post/expired.bin', [], {}, 1);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await postForm(expiredPost, randomBytes(10));
    expect(expired.status).toBe(403);
    expect(errorCode(expired.body)).toBe('AccessDenied');
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'post/expired.bin' })))).toMatchObject({ status: 404 });
    const anonymous = await postForm({ url: good.url, fields: { key: 'post/anon.bin' } }, randomBytes(10));
    expect(anonymous.status).toBe(403);
  });
});
