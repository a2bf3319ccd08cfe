// The narrow interface Stowage needs from S3. Services depend on this, never on the AWS SDK directly.

export interface HeadResult {
  size: number;
  contentType: string | undefined;
  /** The stored Content-Disposition (set at upload when downloads go through a CDN that serves it as stored). */
  contentDisposition: string | undefined;
  etag: string | undefined;
  /** base64 SHA-256 of the whole object when the store reports one (full-object checksums only). */
  checksumSha256: string | undefined;
  checksumType: string | undefined;
  lastModified: Date | undefined;
  metadata: Record<string, string>;
}

export interface PresignedPut {
  url: string;
  /** Exactly the headers the client must send with the PUT. */
  headers: Record<string, string>;
}

export interface PresignedPost {
  url: string;
  /** Form fields to send before the `file` field. */
  fields: Record<string, string>;
}

export interface CorsRule {
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number;
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date | undefined;
  etag: string | undefined;
}

export interface UploadedPart {
  partNumber: number;
  size: number;
  etag: string;
  checksumSha256?: string;
}

export interface MultipartUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date | undefined;
}

export interface StoragePort {
  readonly bucket: string;
  /** Object metadata, or null if there is no such object. */
  head(key: string, opts?: { checksum?: boolean }): Promise<HeadResult | null>;
  /**
   * The object's metadata and its first `length` bytes in ONE ranged GET (what completion needs, without a HEAD), or
   * null if there is no such object. The whole-object checksum is not included (stores report it only for full reads):
   * ask `head` with `checksum` for it.
   */
  sample(key: string, length: number): Promise<{ head: HeadResult; bytes: Uint8Array } | null>;
  /** Bytes [start, endInclusive] (shorter if the object is shorter), or null if there is no such object. */
  rangeGet(key: string, start: number, endInclusive: number): Promise<Uint8Array | null>;
  /** Deletes an object; succeeds when it does not exist. */
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<{ failed: { key: string; error: string }[] }>;
  presignPut(input: {
    key: string;
    contentType: string;
    /** Signed when given; omitted only for uploads of undeclared size (measured and checked when settled). */
    contentLength: number | null;
    checksumSha256?: string | null;
    /** Stored on the object; signed, so the client must send exactly this header. */
    contentDisposition?: string | null;
    expiresIn: number;
  }): Promise<PresignedPut>;
  presignPost(input: {
    key: string;
    contentType: string;
    /** Exact size, or the range the policy's content-length-range allows (uploads of undeclared size). */
    contentLength: number | { min: number; max: number };
    /** Stored on the object; a form field pinned by the policy. */
    contentDisposition?: string | null;
    expiresIn: number;
  }): Promise<PresignedPost>;
  listObjects(prefix: string, opts?: { continuationToken?: string; maxKeys?: number; startAfter?: string }): Promise<{
    objects: ListedObject[];
    nextContinuationToken: string | undefined;
  }>;
  // Multipart uploads.
  createMultipart(input: {
    key: string;
    contentType: string;
    checksumSha256?: boolean;
    /** Stored on the completed object. */
    contentDisposition?: string | null;
  }): Promise<{ uploadId: string }>;
  presignPart(input: {
    key: string;
    uploadId: string;
    partNumber: number;
    /** Signed when known (Stowage's own plan); null for parts of undeclared size (Uppy), checked at completion. */
    contentLength: number | null;
    checksumSha256?: string | null;
    expiresIn: number;
  }): Promise<PresignedPut>;
  /** All parts uploaded so far (follows pagination). Null when the upload does not exist. */
  listParts(key: string, uploadId: string): Promise<UploadedPart[] | null>;
  completeMultipart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string; checksumSha256?: string }[],
  ): Promise<{ etag: string | undefined }>;
  /** Aborts; succeeds when the upload no longer exists. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  listMultipartUploads(prefix: string, opts?: { keyMarker?: string; uploadIdMarker?: string }): Promise<{
    uploads: MultipartUploadInfo[];
    nextKeyMarker: string | undefined;
    nextUploadIdMarker: string | undefined;
  }>;
  /** Cheap reachability check (HeadBucket). Throws when unreachable. */
  ping(): Promise<void>;
  /** Creates the bucket if missing and applies CORS rules. */
  ensureBucket(opts: { cors?: CorsRule[] }): Promise<void>;
}
