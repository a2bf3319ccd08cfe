// A tiny, independent SigV4 client for the conformance suite: crafts requests the SDK will not (signed payload hashes,
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunk signatures, trailers, skewed clocks, half-sent bodies).
import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { S3Credentials } from '../helpers/s3-targets.ts';

const sha256 = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
export const EMPTY_SHA = sha256('');

function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export interface SignInput {
  endpoint: string;
  region: string;
  credentials: S3Credentials;
  method: string;
  /** decoded path, e.g. /bucket/key with spaces */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  payloadHash: string;
  date?: Date;
}

export interface Signed {
  url: string;
  headers: Record<string, string>;
  signature: string;
  signingKey: Buffer;
  amzDate: string;
  scope: string;
}

export function sign(i: SignInput): Signed {
  const u = new URL(i.endpoint);
  const date = i.date ?? new Date();
  const amzDate = date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${i.region}/s3/aws4_request`;
  const headers: Record<string, string> = { ...(i.headers ?? {}), host: u.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': i.payloadHash };
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const names = Object.keys(lower).sort();
  const canonPath = i.path.split('/').map(enc).join('/');
  const q = Object.entries(i.query ?? {})
    .map(([k, v]) => [enc(k), enc(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const creq = [i.method, canonPath, q, names.map((n) => `${n}:${lower[n]}\n`).join(''), names.join(';'), i.payloadHash].join('\n');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + i.credentials.secretAccessKey, day), i.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  lower.authorization = `AWS4-HMAC-SHA256 Credential=${i.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  delete lower.host;
  return { url: `${u.origin}${canonPath}${q ? '?' + q : ''}`, headers: lower, signature, signingKey: key, amzDate, scope };
}

/** aws-chunked body with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function signedChunks(data: Buffer, chunkSize: number, s: Signed, tamper?: (chunks: Buffer[]) => void): Buffer {
  const parts: Buffer[] = [];
  let prev = s.signature;
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  chunks.push(Buffer.alloc(0));
  const sigs: string[] = [];
  for (const c of chunks) {
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, prev, EMPTY_SHA, sha256(c)].join('\n');
    prev = createHmac('sha256', s.signingKey).update(sts).digest('hex');
    sigs.push(prev);
  }
  const sent = chunks.map((c) => Buffer.from(c));
  tamper?.(sent);
  sent.forEach((c, i) => {
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sigs[i]}\r\n`), c, Buffer.from('\r\n'));
  });
  return Buffer.concat(parts);
}

/**
 * aws-chunked body with chunk signatures and signed trailing headers (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER):
 * `0;chunk-signature=…`, the trailer lines, then `x-amz-trailer-signature` unless `signature` is false; `after` lines are
 * appended after the signature (a holder tampering with the trailer).
 */
export function signedTrailerChunks(data: Buffer, chunkSize: number, s: Signed, trailer: Array<[string, string]>, opts: { signature?: boolean; after?: Array<[string, string]> } = {}): Buffer {
  const parts: Buffer[] = [];
  let prev = s.signature;
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  chunks.push(Buffer.alloc(0));
  for (const c of chunks) {
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, prev, EMPTY_SHA, sha256(c)].join('\n');
    prev = createHmac('sha256', s.signingKey).update(sts).digest('hex');
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${prev}\r\n`), c);
    if (c.length) parts.push(Buffer.from('\r\n'));
  }
  const lines = trailer.map(([k, v]) => `${k}:${v}`);
  let text = lines.map((l) => l + '\r\n').join('');
  if (opts.signature !== false) {
    const sts = ['AWS4-HMAC-SHA256-TRAILER', s.amzDate, s.scope, prev, sha256(lines.map((l) => l + '\n').join(''))].join('\n');
    text += `x-amz-trailer-signature:${createHmac('sha256', s.signingKey).update(sts).digest('hex')}\r\n`;
  }
  for (const [k, v] of opts.after ?? []) text += `${k}:${v}\r\n`;
  parts.push(Buffer.from(text + '\r\n'));
  return Buffer.concat(parts);
}

/** aws-chunked body without signatures, with a trailing checksum header (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export function unsignedTrailerChunks(data: Buffer, chunkSize: number, trailerName: string, trailerValue: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailerName}:${trailerValue}\r\n\r\n`));
  return Buffer.concat(parts);
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends a request with node:http (so the test controls Content-Length and framing exactly). */
export function rawRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts a request, writes `sendBytes` of a body declared as `declared` bytes, then destroys the socket. */
export function killedRequest(url: string, method: string, headers: Record<string, string>, sendBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(Buffer.alloc(sendBytes, 7), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
  });
}

export function errorCode(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}
