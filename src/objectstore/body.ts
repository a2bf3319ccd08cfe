import { createHash } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder } from './chunked.ts';
import { checksumHeader, newHasher, parseAlgorithm, validChecksumValue, type ChecksumAlgorithm, type Hasher } from './checksums.ts';
import { S3Error, s3err } from './errors.ts';
import {
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  type AuthInfo,
} from './sigv4.ts';

/** Pass-through that counts bytes, feeds the hashers and refuses more than `limit` bytes. */
class HashTap extends Transform {
  size = 0;
  private readonly hs: Array<{ update(b: Uint8Array): unknown }>;
  constructor(
    private readonly limit: number,
    private readonly maxSize: number,
    hashers: Array<{ update(b: Uint8Array): unknown } | undefined>,
  ) {
    super();
    this.hs = hashers.filter((h): h is { update(b: Uint8Array): unknown } => h !== undefined);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      cb(this.size > this.maxSize ? s3err('EntityTooLarge', undefined, { MaxSizeAllowed: String(this.maxSize) }) : s3err('IncompleteBody', 'The request body is longer than the declared length'));
      return;
    }
    for (const h of this.hs) h.update(chunk);
    cb(null, chunk);
  }
}

export interface BodyPlan {
  /** decoded payload length (Content-Length or x-amz-decoded-content-length) */
  length: number;
  chunked: boolean;
  contentMd5?: string;
  /** checksum algorithm to compute, with the expected value (header) or undefined (from trailer / none) */
  checksum?: { alg: ChecksumAlgorithm; expected?: string; trailer: boolean };
  /** hex sha256 the payload was signed with */
  sha256?: string;
}

export interface BodyResult {
  size: number;
  md5: Buffer;
  checksum?: { alg: ChecksumAlgorithm; value: string };
}

/** Validates the body-related headers of an upload request before any byte is read. */
export function planBody(req: IncomingMessage, auth: AuthInfo, maxSize: number, opts: { checksumAlgorithm?: ChecksumAlgorithm } = {}): BodyPlan {
  const h = req.headers;
  const mode = auth.payloadHash;
  const chunked = mode === STREAMING_SIGNED || mode === STREAMING_SIGNED_TRAILER || mode === STREAMING_UNSIGNED_TRAILER;
  let length: number;
  if (chunked) {
    const d = h['x-amz-decoded-content-length'] as string | undefined;
    if (d === undefined) throw s3err('MissingContentLength', 'You must provide the x-amz-decoded-content-length header.');
    if (!/^\d+$/.test(d)) throw s3err('InvalidArgument', 'Invalid x-amz-decoded-content-length');
    length = Number(d);
  } else {
    const cl = h['content-length'];
    if (cl === undefined) throw s3err('MissingContentLength');
    if (!/^\d+$/.test(cl)) throw s3err('InvalidArgument', 'Invalid Content-Length');
    length = Number(cl);
  }
  if (length > maxSize) {
    throw s3err('EntityTooLarge', undefined, { ProposedSize: String(length), MaxSizeAllowed: String(maxSize) });
  }
  const plan: BodyPlan = { length, chunked };
  const md5 = h['content-md5'] as string | undefined;
  if (md5 !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(md5) || Buffer.from(md5, 'base64').length !== 16) throw s3err('InvalidDigest');
    plan.contentMd5 = md5;
  }
  // explicit checksum header (at most one)
  const given: Array<[ChecksumAlgorithm, string]> = [];
  for (const alg of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
    const v = h[checksumHeader(alg)] as string | undefined;
    if (v !== undefined) given.push([alg, v]);
  }
  if (h['x-amz-checksum-crc64nvme'] !== undefined) {
    throw s3err('InvalidRequest', 'The CRC64NVME checksum algorithm is not supported by this server.');
  }
  if (given.length > 1) throw s3err('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const sdkAlgRaw = h['x-amz-sdk-checksum-algorithm'] as string | undefined;
  const sdkAlg = sdkAlgRaw === undefined ? undefined : parseAlgorithm(sdkAlgRaw);
  if (sdkAlgRaw !== undefined && !sdkAlg) throw s3err('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
  const trailerHeader = (h['x-amz-trailer'] as string | undefined)?.trim().toLowerCase();
  if (given.length === 1) {
    const [alg, v] = given[0];
    if (!validChecksumValue(alg, v)) throw s3err('InvalidRequest', `Value for ${checksumHeader(alg)} header is invalid.`);
    if (sdkAlg && sdkAlg !== alg) throw s3err('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    plan.checksum = { alg, expected: v, trailer: false };
  } else if (trailerHeader) {
    const alg = parseAlgorithm(trailerHeader.replace(/^x-amz-checksum-/, ''));
    if (!alg || !trailerHeader.startsWith('x-amz-checksum-')) throw s3err('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    if (!chunked) throw s3err('InvalidRequest', 'x-amz-trailer requires an aws-chunked body');
    plan.checksum = { alg, trailer: true };
  } else if (sdkAlg) {
    // AWS: "When you send this header, there must be a corresponding x-amz-checksum-<algorithm> or x-amz-trailer
    // header sent. Otherwise, Amazon S3 fails the request with the HTTP status code 400 Bad Request."
    throw s3err('InvalidRequest', 'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.');
  } else if (opts.checksumAlgorithm) {
    plan.checksum = { alg: opts.checksumAlgorithm, trailer: false };
  }
  if ((mode === STREAMING_UNSIGNED_TRAILER || mode === STREAMING_SIGNED_TRAILER) && !trailerHeader) {
    throw s3err('InvalidRequest', 'x-amz-trailer header is required for trailer payloads');
  }
  if (/^[0-9a-f]{64}$/.test(mode)) plan.sha256 = mode;
  return plan;
}

/**
 * Streams the request body into `file`, hashing incrementally (MD5 always; the requested checksum; sha256 only when the
 * payload was signed with a hash), decoding aws-chunked framing and enforcing the declared length and `maxSize`.
 * On any failure the file is removed and an S3Error is thrown.
 */
export async function receiveBody(req: IncomingMessage, auth: AuthInfo, plan: BodyPlan, file: string, maxSize: number): Promise<BodyResult> {
  try {
    // flush: the data is fsynced before the stream closes (the object is acknowledged only once durable, as AWS does)
    return await receiveInto(req, auth, plan, createWriteStream(file, { flags: 'wx', flush: true }), maxSize);
  } catch (e) {
    await fsp.rm(file, { force: true }).catch(() => {});
    throw e;
  }
}

/**
 * receiveBody for small bodies (XML documents): the same decoding, length and digest checks, but the bytes are kept in
 * memory instead of going through a temp file. `maxSize` bounds the memory used.
 */
export async function receiveBodyToBuffer(req: IncomingMessage, auth: AuthInfo, plan: BodyPlan, maxSize: number): Promise<BodyResult & { body: Buffer }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const r = await receiveInto(req, auth, plan, sink, maxSize);
  return { ...r, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
}

async function receiveInto(req: IncomingMessage, auth: AuthInfo, plan: BodyPlan, sink: Writable, maxSize: number): Promise<BodyResult> {
  const md5 = createHash('md5');
  const hasher: Hasher | undefined = plan.checksum ? newHasher(plan.checksum.alg) : undefined;
  const sha = plan.sha256 ? createHash('sha256') : undefined;
  const trailers = new Map<string, string>();
  const decoder = plan.chunked
    ? new AwsChunkedDecoder({
        auth: auth.payloadHash === STREAMING_UNSIGNED_TRAILER ? undefined : auth,
        signedTrailer: auth.payloadHash === STREAMING_SIGNED_TRAILER,
        trailers,
      })
    : undefined;
  const limit = Math.min(plan.length, maxSize);
  // A Transform, not an async generator: measured ~2× faster for big bodies (no per-chunk promise round trips).
  const tap = new HashTap(limit, maxSize, [md5, hasher, sha]);
  try {
    await pipeFromRequest(req, decoder ? [decoder, tap] : [tap], sink);
    const size = tap.size;
    if (size !== plan.length) throw s3err('IncompleteBody');
    const md5d = md5.digest();
    if (plan.contentMd5 !== undefined && md5d.toString('base64') !== plan.contentMd5) throw s3err('BadDigest');
    if (sha && sha.digest('hex') !== plan.sha256) {
      throw s3err('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: plan.sha256 ?? '' });
    }
    let checksum: BodyResult['checksum'];
    if (plan.checksum && hasher) {
      const value = hasher.digest().toString('base64');
      let expected = plan.checksum.expected;
      if (plan.checksum.trailer) {
        expected = trailers.get(checksumHeader(plan.checksum.alg));
        if (expected === undefined) throw s3err('InvalidRequest', 'The trailing checksum was not received.');
        if (!validChecksumValue(plan.checksum.alg, expected)) throw s3err('InvalidRequest', `Value for ${checksumHeader(plan.checksum.alg)} trailing header is invalid.`);
      }
      if (expected !== undefined && expected !== value) {
        throw s3err('BadDigest', `The ${plan.checksum.alg} you specified did not match the calculated checksum.`);
      }
      checksum = { alg: plan.checksum.alg, value };
    }
    return { size, md5: md5d, checksum };
  } catch (e) {
    if (e instanceof S3Error) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.message === 'aborted') {
      throw s3err('IncompleteBody');
    }
    throw e;
  }
}

/**
 * req → stages → sink. The request itself is piped, not part of the pipeline: a refusal in a stage (EntityTooLarge,
 * a bad chunk signature) must not destroy the socket, so the S3 error can still be answered. A client that goes away
 * mid-body fails the pipeline (IncompleteBody).
 */
async function pipeFromRequest(req: IncomingMessage, stages: Transform[], sink: NodeJS.WritableStream): Promise<void> {
  const first = stages[0];
  const onClose = () => {
    if (!req.complete) first.destroy(s3err('IncompleteBody'));
  };
  const onError = (e: Error) => first.destroy(e);
  req.once('close', onClose);
  req.once('error', onError);
  req.pipe(first);
  try {
    await pipeline([...stages, sink] as unknown as Parameters<typeof pipeline>[0][]);
  } catch (e) {
    req.unpipe(first);
    throw e;
  } finally {
    req.off('close', onClose);
    req.off('error', onError);
  }
}

/** Reads a small body (XML) fully, refusing anything over `max` bytes. */
export async function readSmallBody(req: IncomingMessage, max = 2 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw s3err('MalformedXML', 'The XML you provided was too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Streams any byte source into `file` with MD5, enforcing `maxSize` (EntityTooLarge). Removes the file on failure. */
export async function receiveStream(source: AsyncIterable<Buffer>, file: string, maxSize: number): Promise<{ size: number; md5: Buffer }> {
  const md5 = createHash('md5');
  const tap = new HashTap(maxSize, maxSize, [md5]);
  try {
    await pipeline(source, tap, createWriteStream(file, { flags: 'wx', flush: true }));
    return { size: tap.size, md5: md5.digest() };
  } catch (e) {
    await fsp.rm(file, { force: true }).catch(() => {});
    throw e;
  }
}
