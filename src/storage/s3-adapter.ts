// StoragePort implemented with @aws-sdk/client-s3. Works against AWS S3, Ceph RGW, MinIO and the embedded store.
import {
  S3Client,
  HeadObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  CreateBucketCommand,
  PutBucketCorsCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { FastPresigner } from './fast-presign.ts';
import type { CorsRule, HeadResult, MultipartUploadInfo, StoragePort, UploadedPart } from './port.ts';

export interface S3AdapterOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  /** Per-request timeout for calls Stowage makes (not presigned URLs). */
  requestTimeoutMs?: number;
  /**
   * Delete in DeleteObjects batches of 1,000 (default), or one DeleteObject per key, 16 at a time — for stores where
   * the multi-object delete is missing or broken (radosgw 16 aborts on it when the bucket has notifications).
   */
  multiObjectDelete?: boolean;
}

export function createS3Client(o: Omit<S3AdapterOptions, 'bucket'>): S3Client {
  const cfg: S3ClientConfig = {
    region: o.region,
    forcePathStyle: o.forcePathStyle ?? true,
    // Real S3, RGW and the embedded store all accept plain payloads; the SDK defaults (aws-chunked trailers, a CRC32
    // of the empty body signed into presigned URLs) break RGW and presigned uploads.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // Resolve each command's middleware stack once, not on every call (an SDK option since 3.649): a call then costs
    // about half the CPU. Nothing here changes a client's middleware after its first call.
    cacheMiddleware: true,
  };
  if (o.endpoint) cfg.endpoint = o.endpoint;
  if (o.accessKeyId && o.secretAccessKey) {
    cfg.credentials = { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey };
  }
  return new S3Client(cfg);
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === 'NotFound' ||
    e?.name === 'NoSuchKey' ||
    e?.Code === 'NoSuchKey' ||
    e?.$metadata?.httpStatusCode === 404
  );
}

function isNoSuchUpload(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  // RGW answers NoSuchKey for an aborted upload where AWS says NoSuchUpload.
  return e?.name === 'NoSuchUpload' || e?.Code === 'NoSuchUpload' || isNotFound(err);
}

/**
 * The first `n` bytes of a GetObject body. A store that ignores Range sends the whole object: stop reading (and drop
 * the connection) once `n` bytes have arrived instead of buffering a large object.
 */
async function readAtMost(body: unknown, n: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Buffer[] = [];
  let got = 0;
  const stream = body as Readable;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    // More than asked for: the store ignored Range. (Exactly n: keep reading to the end, so the socket is reused.)
    if (got > n) {
      stream.destroy();
      break;
    }
  }
  const all = Buffer.concat(chunks);
  return all.length > n ? all.subarray(0, n) : all;
}

function stripQuotes(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '');
}

export class S3Storage implements StoragePort {
  readonly bucket: string;
  readonly client: S3Client;
  private readonly presigner: FastPresigner;
  private readonly multiObjectDelete: boolean;

  constructor(opts: S3AdapterOptions, client?: S3Client) {
    this.bucket = opts.bucket;
    this.multiObjectDelete = opts.multiObjectDelete ?? true;
    this.client = client ?? createS3Client(opts);
    this.presigner = new FastPresigner(this.client, this.bucket);
  }

  async head(key: string, opts: { checksum?: boolean } = {}): Promise<HeadResult | null> {
    try {
      const r = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(opts.checksum ? { ChecksumMode: 'ENABLED' as const } : {}),
        }),
      );
      return {
        size: r.ContentLength ?? 0,
        contentType: r.ContentType,
        contentDisposition: r.ContentDisposition,
        etag: stripQuotes(r.ETag),
        checksumSha256: r.ChecksumSHA256,
        checksumType: r.ChecksumType,
        lastModified: r.LastModified,
        metadata: r.Metadata ?? {},
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async sample(key: string, length: number): Promise<{ head: HeadResult; bytes: Uint8Array } | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${length - 1}` }));
      const bytes = await readAtMost(r.Body, length);
      // 206: "bytes 0-4099/12345" names the whole size; a store that ignores Range answers 200 with the whole object.
      const total = /\/(\d+)$/.exec(r.ContentRange ?? '')?.[1];
      const head: HeadResult = {
        size: total !== undefined ? Number(total) : (r.ContentLength ?? bytes.length),
        contentType: r.ContentType,
        contentDisposition: r.ContentDisposition,
        etag: stripQuotes(r.ETag),
        checksumSha256: undefined,
        checksumType: undefined,
        lastModified: r.LastModified,
        metadata: r.Metadata ?? {},
      };
      return { head, bytes };
    } catch (err) {
      if (isNotFound(err)) return null;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 416) throw err;
      // An empty object has no byte 0 (416 InvalidRange): its metadata comes from HEAD.
      const head = await this.head(key);
      return head ? { head, bytes: new Uint8Array(0) } : null;
    }
  }

  async rangeGet(key: string, start: number, endInclusive: number): Promise<Uint8Array | null> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${endInclusive}` }),
      );
      return await readAtMost(r.Body, endInclusive - start + 1);
    } catch (err) {
      if (isNotFound(err)) return null;
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 416) return new Uint8Array(0); // empty object
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async deleteMany(keys: string[]): Promise<{ failed: { key: string; error: string }[] }> {
    const failed: { key: string; error: string }[] = [];
    if (!this.multiObjectDelete) {
      for (let i = 0; i < keys.length; i += 16) {
        await Promise.all(keys.slice(i, i + 16).map(async (key) => {
          try {
            await this.delete(key);
          } catch (err) {
            failed.push({ key, error: String((err as Error).message ?? err) });
          }
        }));
      }
      return { failed };
    }
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      // DeleteObjects requires a Content-MD5 or checksum header: WHEN_REQUIRED makes the SDK add it.
      const r = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      for (const e of r.Errors ?? []) {
        if (e.Code === 'NoSuchKey') continue;
        failed.push({ key: e.Key ?? '', error: `${e.Code ?? 'Error'}: ${e.Message ?? ''}` });
      }
    }
    return { failed };
  }

  async presignPut(input: {
    key: string;
    contentType: string;
    contentLength: number | null;
    checksumSha256?: string | null;
    contentDisposition?: string | null;
    expiresIn: number;
  }): Promise<{ url: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = {
      'Content-Type': input.contentType,
      ...(input.contentLength !== null ? { 'Content-Length': String(input.contentLength) } : {}),
      ...(input.contentDisposition ? { 'Content-Disposition': input.contentDisposition } : {}),
      'If-None-Match': '*',
      ...(input.checksumSha256 ? { 'x-amz-checksum-sha256': input.checksumSha256 } : {}),
    };
    const url = await this.presigner.presign({ method: 'PUT', key: input.key, operation: 'PutObject', headers, expiresIn: input.expiresIn });
    return { url, headers };
  }

  async presignPost(input: {
    key: string;
    contentType: string;
    contentLength: number | { min: number; max: number };
    contentDisposition?: string | null;
    expiresIn: number;
  }): Promise<{ url: string; fields: Record<string, string> }> {
    const range = typeof input.contentLength === 'number' ? { min: input.contentLength, max: input.contentLength } : input.contentLength;
    const r = await createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: input.key,
      Expires: input.expiresIn,
      Conditions: [
        ['content-length-range', range.min, range.max],
        ['eq', '$Content-Type', input.contentType],
        ['eq', '$key', input.key],
        ...(input.contentDisposition ? [['eq', '$Content-Disposition', input.contentDisposition] as ['eq', string, string]] : []),
      ],
      Fields: { 'Content-Type': input.contentType, ...(input.contentDisposition ? { 'Content-Disposition': input.contentDisposition } : {}) },
    });
    return { url: r.url, fields: r.fields };
  }

  async listObjects(
    prefix: string,
    opts: { continuationToken?: string; maxKeys?: number; startAfter?: string } = {},
  ): Promise<{ objects: { key: string; size: number; lastModified: Date | undefined; etag: string | undefined }[]; nextContinuationToken: string | undefined }> {
    const r = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        ContinuationToken: opts.continuationToken,
        MaxKeys: opts.maxKeys,
        StartAfter: opts.startAfter,
      }),
    );
    return {
      objects: (r.Contents ?? []).map((o) => ({
        key: o.Key ?? '',
        size: o.Size ?? 0,
        lastModified: o.LastModified,
        etag: stripQuotes(o.ETag),
      })),
      nextContinuationToken: r.IsTruncated ? r.NextContinuationToken : undefined,
    };
  }

  async createMultipart(input: {
    key: string;
    contentType: string;
    checksumSha256?: boolean;
    contentDisposition?: string | null;
  }): Promise<{ uploadId: string }> {
    const r = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: input.key,
        ContentType: input.contentType,
        ...(input.contentDisposition ? { ContentDisposition: input.contentDisposition } : {}),
        ...(input.checksumSha256 ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
      }),
    );
    if (!r.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    return { uploadId: r.UploadId };
  }

  async presignPart(input: {
    key: string;
    uploadId: string;
    partNumber: number;
    contentLength: number | null;
    checksumSha256?: string | null;
    expiresIn: number;
  }): Promise<{ url: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = {
      ...(input.contentLength !== null ? { 'Content-Length': String(input.contentLength) } : {}),
      ...(input.checksumSha256 ? { 'x-amz-checksum-sha256': input.checksumSha256 } : {}),
    };
    const url = await this.presigner.presign({
      method: 'PUT',
      key: input.key,
      operation: 'UploadPart',
      query: { partNumber: String(input.partNumber), uploadId: input.uploadId },
      headers,
      expiresIn: input.expiresIn,
    });
    return { url, headers };
  }

  async listParts(key: string, uploadId: string): Promise<UploadedPart[] | null> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    try {
      for (;;) {
        const r = await this.client.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
        );
        for (const p of r.Parts ?? []) {
          parts.push({
            partNumber: p.PartNumber ?? 0,
            size: p.Size ?? 0,
            etag: stripQuotes(p.ETag) ?? '',
            ...(p.ChecksumSHA256 ? { checksumSha256: p.ChecksumSHA256 } : {}),
          });
        }
        if (!r.IsTruncated || !r.NextPartNumberMarker) break;
        marker = r.NextPartNumberMarker;
      }
    } catch (err) {
      if (isNoSuchUpload(err)) return null;
      throw err;
    }
    return parts;
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string; checksumSha256?: string }[],
  ): Promise<{ etag: string | undefined }> {
    const r = await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        IfNoneMatch: '*',
        MultipartUpload: {
          Parts: parts.map((p) => ({
            PartNumber: p.partNumber,
            ETag: `"${p.etag.replace(/^"|"$/g, '')}"`,
            ...(p.checksumSha256 ? { ChecksumSHA256: p.checksumSha256 } : {}),
          })),
        },
      }),
    );
    return { etag: stripQuotes(r.ETag) || undefined };
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (isNoSuchUpload(err)) return;
      throw err;
    }
  }

  async listMultipartUploads(
    prefix: string,
    opts: { keyMarker?: string; uploadIdMarker?: string } = {},
  ): Promise<{ uploads: MultipartUploadInfo[]; nextKeyMarker: string | undefined; nextUploadIdMarker: string | undefined }> {
    const r = await this.client.send(
      new ListMultipartUploadsCommand({
        Bucket: this.bucket,
        Prefix: prefix,
        KeyMarker: opts.keyMarker,
        UploadIdMarker: opts.uploadIdMarker,
      }),
    );
    return {
      uploads: (r.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '', initiated: u.Initiated })),
      nextKeyMarker: r.IsTruncated ? r.NextKeyMarker : undefined,
      nextUploadIdMarker: r.IsTruncated ? r.NextUploadIdMarker : undefined,
    };
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async ensureBucket(opts: { cors?: CorsRule[] } = {}): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
      }
    }
    if (opts.cors && opts.cors.length > 0) {
      await this.client.send(
        new PutBucketCorsCommand({
          Bucket: this.bucket,
          CORSConfiguration: {
            CORSRules: opts.cors.map((r) => ({
              AllowedOrigins: r.allowedOrigins,
              AllowedMethods: r.allowedMethods,
              AllowedHeaders: r.allowedHeaders,
              ExposeHeaders: r.exposeHeaders,
              MaxAgeSeconds: r.maxAgeSeconds,
            })),
          },
        }),
      );
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** CORS rules for direct browser uploads: PUT/POST from any origin, ETag and Location readable by scripts. */
export const DEFAULT_UPLOAD_CORS: CorsRule[] = [
  {
    allowedOrigins: ['*'],
    allowedMethods: ['GET', 'HEAD', 'PUT', 'POST'],
    allowedHeaders: ['*'],
    exposeHeaders: ['ETag', 'Location', 'x-amz-checksum-sha256', 'x-amz-version-id'],
    maxAgeSeconds: 3000,
  },
];
