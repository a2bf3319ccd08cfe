// Presigned PUT / UploadPart URLs without running the SDK's middleware stack for every URL.
//
// `getSignedUrl` builds each URL by resolving the endpoint through the S3 rule set and running serialisation and
// a dozen middlewares: measured ~1.5 ms of CPU per URL, the largest single cost of POST /v1/uploads and of signing
// parts; even the SDK's bare `S3RequestPresigner` costs 50–100 µs per URL. Only the object key changes between two
// URLs of one bucket, so the endpoint (scheme, host, path prefix, signing region) is learned ONCE per process from a
// real `getSignedUrl` of a probe key, and each URL is then signed here with SigV4 query signing (the same primitives
// the embedded store verifies with; the signing key is cached per day), ~10 µs per URL, with the credentials the
// client resolves (session tokens included) and the same headers, query and `x-id` the SDK would produce.
// test/unit/fast-presign.test.ts checks the result against `getSignedUrl` parameter for parameter.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { hmacHex, sha256hex, signingKey, toAmzDate, UNSIGNED_PAYLOAD, uriEncode } from '../objectstore/sigv4.ts';

const PROBE_KEY = 'stowage-presign-probe';

interface Target {
  protocol: string;
  /** Path up to and including the `/` before the key. */
  pathPrefix: string;
  region: string;
  /** `host` as signed: the hostname, with the port when the endpoint names one. */
  host: string;
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

/** A key as the SDK puts it in the path: RFC 3986 encoding of each segment, slashes kept. */
export function encodeKeyPath(key: string): string {
  return uriEncode(key, true);
}

export class FastPresigner {
  private target: Promise<Target> | undefined;
  /** The last X-Amz-Date and the second it stands for: URLs signed in the same second share it. */
  private date = { second: NaN, amzDate: '' };

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
          pathPrefix: probe.pathname.slice(0, probe.pathname.length - PROBE_KEY.length),
          region,
          host: probe.port ? `${probe.hostname}:${probe.port}` : probe.hostname,
        };
      })();
      this.target.catch(() => {
        this.target = undefined;
      });
    }
    return this.target;
  }

  private amzDate(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.date.second) this.date = { second, amzDate: toAmzDate(ms) };
    return this.date.amzDate;
  }

  async presign(input: FastPresignInput): Promise<string> {
    const t = await this.resolveTarget();
    const creds = await this.client.config.credentials();
    const amzDate = this.amzDate((input.signingDate ?? new Date()).getTime());
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${t.region}/s3/aws4_request`;
    const headers: Record<string, string> = { host: t.host };
    for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v.trim().replace(/\s+/g, ' ');
    const signed = Object.keys(headers).sort();
    const query: Record<string, string> = {
      ...input.query,
      'x-id': input.operation,
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Content-Sha256': UNSIGNED_PAYLOAD,
      'X-Amz-Credential': `${creds.accessKeyId}/${scope}`,
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': String(input.expiresIn),
      'X-Amz-SignedHeaders': signed.join(';'),
      ...(creds.sessionToken ? { 'X-Amz-Security-Token': creds.sessionToken } : {}),
    };
    const canonicalQuery = Object.entries(query)
      .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const path = t.pathPrefix + encodeKeyPath(input.key);
    const canonicalRequest = [
      input.method,
      path,
      canonicalQuery,
      signed.map((h) => `${h}:${headers[h]}\n`).join(''),
      signed.join(';'),
      UNSIGNED_PAYLOAD,
    ].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
    const signature = hmacHex(signingKey(creds.secretAccessKey, day, t.region, 's3'), stringToSign);
    return `${t.protocol}//${t.host}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
  }
}
