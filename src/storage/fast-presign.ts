// Presigned PUT / UploadPart URLs without running the SDK's middleware stack for every URL.
//
// `getSignedUrl` builds each URL by resolving the endpoint through the S3 rule set and running serialisation and
// a dozen middlewares: measured ~1.5 ms of CPU per URL, the largest single cost of POST /v1/uploads and of signing
// parts. Only the object key changes between two URLs of one bucket, so the endpoint (scheme, host, path prefix,
// signing region) is learned ONCE per process from a real `getSignedUrl` of a probe key, and each URL is then signed
// by the SDK's own S3 presigner (`S3RequestPresigner`, SigV4 with the signing key cached per day), with the same
// headers, hoisting rules and `x-id` query the SDK would produce. test/unit/fast-presign.test.ts checks the result
// against `getSignedUrl` parameter for parameter.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';

const PROBE_KEY = 'stowage-presign-probe';

interface Target {
  protocol: string;
  hostname: string;
  port: number | undefined;
  /** Path up to and including the `/` before the key. */
  pathPrefix: string;
  region: string;
  presigner: S3RequestPresigner;
}

export interface FastPresignInput {
  method: 'PUT';
  key: string;
  /** `x-id` the SDK adds for the operation (PutObject, UploadPart). */
  operation: string;
  /** Extra query parameters of the operation (partNumber, uploadId). */
  query?: Record<string, string>;
  /** Headers the client must send; all of them are signed. */
  headers: Record<string, string>;
  expiresIn: number;
  signingDate?: Date;
}

/** RFC 3986 encoding of one path segment, as the SDK encodes S3 keys. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

export class FastPresigner {
  private target: Promise<Target> | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  private resolveTarget(): Promise<Target> {
    if (!this.target) {
      this.target = (async () => {
        const probe = new URL(await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: PROBE_KEY }), { expiresIn: 60 }));
        const suffix = `/${PROBE_KEY}`;
        if (!probe.pathname.endsWith(suffix)) throw new Error(`unexpected presigned URL shape: ${probe.pathname}`);
        const credential = probe.searchParams.get('X-Amz-Credential') ?? '';
        const region = credential.split('/')[2];
        if (!region) throw new Error('presigned probe URL has no signing region');
        return {
          protocol: probe.protocol,
          hostname: probe.hostname,
          port: probe.port ? Number(probe.port) : undefined,
          pathPrefix: probe.pathname.slice(0, probe.pathname.length - PROBE_KEY.length),
          region,
          presigner: new S3RequestPresigner({ ...this.client.config, signingName: 's3', region: async () => region }),
        };
      })();
      this.target.catch(() => {
        this.target = undefined;
      });
    }
    return this.target;
  }

  async presign(input: FastPresignInput): Promise<string> {
    const t = await this.resolveTarget();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
    const signable = Object.keys(headers);
    const presigned = await t.presigner.presign(
      {
        method: input.method,
        protocol: t.protocol,
        hostname: t.hostname,
        port: t.port,
        path: t.pathPrefix + encodeKeyPath(input.key),
        query: { ...input.query, 'x-id': input.operation },
        headers,
      },
      {
        expiresIn: input.expiresIn,
        signableHeaders: new Set(signable),
        unhoistableHeaders: new Set(signable.filter((h) => h.startsWith('x-amz-'))),
        signingRegion: t.region,
        signingService: 's3',
        ...(input.signingDate ? { signingDate: input.signingDate } : {}),
      },
    );
    const query = Object.entries(presigned.query ?? {})
      .map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(String(v))}`)
      .join('&');
    const host = t.port !== undefined ? `${t.hostname}:${t.port}` : t.hostname;
    return `${t.protocol}//${host}${presigned.path}?${query}`;
  }
}
