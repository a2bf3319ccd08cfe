import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { s3err } from './errors.ts';

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_EXPIRES = 7 * 24 * 3600;

/** AWS URI encoding: everything but A-Z a-z 0-9 - . _ ~ is percent-encoded (and '/' unless kept). */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH = /^[A-Za-z0-9\-._~/]*$/;
export function uriEncode(s: string, keepSlash = false): string {
  // Most keys and query values need no encoding at all: skip the encode-and-replace.
  if ((keepSlash ? UNRESERVED_OR_SLASH : UNRESERVED).test(s)) return s;
  let out = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  if (keepSlash) out = out.replace(/%2F/g, '/');
  return out;
}

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw s3err('InvalidArgument', 'Invalid URI encoding');
  }
}

/** Query parameters in order, decoded ('+' is kept literally, as S3 clients percent-encode spaces). */
export function parseQuery(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    const v = i < 0 ? '' : part.slice(i + 1);
    out.push([safeDecode(k), safeDecode(v)]);
  }
  return out;
}

export function sha256hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

const keyCache = new Map<string, Buffer>();
export function signingKey(secret: string, date: string, region: string, service = 's3'): Buffer {
  const ck = `${secret}\0${date}\0${region}\0${service}`;
  let k = keyCache.get(ck);
  if (!k) {
    k = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(ck, k);
  }
  return k;
}

export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

export function sigEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Parses an ISO8601 basic timestamp 20240101T000000Z. */
export function parseAmzDate(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

export function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface AuthInfo {
  accessKeyId: string;
  secretAccessKey: string;
  key: Buffer;
  amzDate: string;
  scope: string;
  signature: string;
  /** the payload hash named by the request: hex, UNSIGNED-PAYLOAD or a STREAMING-* mode */
  payloadHash: string;
  presigned: boolean;
  signedHeaders: string[];
}

export interface AuthInput {
  method: string;
  rawPath: string;
  query: Array<[string, string]>;
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
}

export interface AuthConfig {
  credentials: Map<string, string>;
  region: string;
  now: () => number;
}

function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((seg) => uriEncode(safeDecode(seg)))
    .join('/');
}

function canonicalQuery(query: Array<[string, string]>, skip?: string): string {
  const pairs = query.filter(([k]) => k !== skip).map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValues(rawHeaders: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const v = rawHeaders[i + 1].trim().replace(/\s+/g, ' ');
    const arr = m.get(name);
    if (arr) arr.push(v);
    else m.set(name, [v]);
  }
  return m;
}

function canonicalRequest(input: AuthInput, signed: string[], payloadHash: string, skipQuery?: string): string {
  const hv = headerValues(input.rawHeaders);
  const canonHeaders = signed.map((h) => `${h}:${(hv.get(h) ?? []).join(',')}\n`).join('');
  return [
    input.method,
    canonicalUri(input.rawPath),
    canonicalQuery(input.query, skipQuery),
    canonHeaders,
    signed.join(';'),
    payloadHash,
  ].join('\n');
}

function checkScope(scopeParts: string[], amzDate: string, cfg: AuthConfig, malformed: string) {
  const [date, region, service, term] = scopeParts;
  if (scopeParts.length !== 4 || service !== 's3' || term !== 'aws4_request' || !/^\d{8}$/.test(date)) {
    throw s3err(malformed, 'The authorization header is malformed; the Credential is mal-formed.');
  }
  if (region !== cfg.region) {
    throw s3err(malformed, `The authorization header is malformed; the region '${region}' is wrong; expecting '${cfg.region}'`, {
      Region: cfg.region,
    });
  }
  if (amzDate.slice(0, 8) !== date) {
    throw s3err('SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`);
  }
}

const PAYLOAD_MODES = new Set([UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);

/** Verifies SigV4 (Authorization header or presigned query). Throws S3Error; returns the auth context. */
export function verifySigV4(input: AuthInput, cfg: AuthConfig): AuthInfo {
  const auth = input.headers.authorization;
  const q = new Map(input.query);
  if (auth !== undefined) return verifyHeader(input, cfg, auth);
  if (q.has('X-Amz-Signature') || q.has('X-Amz-Algorithm') || q.has('X-Amz-Credential')) return verifyPresigned(input, cfg, q);
  if (q.has('Signature') || q.has('AWSAccessKeyId')) {
    throw s3err('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  throw s3err('AccessDenied', 'Access Denied');
}

function verifyHeader(input: AuthInput, cfg: AuthConfig, auth: string): AuthInfo {
  if (!auth.startsWith('AWS4-HMAC-SHA256 ')) {
    if (auth.startsWith('AWS ')) {
      throw s3err('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
    throw s3err('AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const fields = new Map<string, string>();
  for (const part of auth.slice(17).split(',')) {
    const p = part.trim();
    const i = p.indexOf('=');
    if (i > 0) fields.set(p.slice(0, i), p.slice(i + 1));
  }
  const cred = fields.get('Credential');
  const signedHeadersRaw = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!cred || !signedHeadersRaw || !signature) {
    throw s3err('AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const credParts = cred.split('/');
  const accessKeyId = credParts[0];
  const secret = cfg.credentials.get(accessKeyId);
  if (secret === undefined) throw s3err('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  const amzDate = (input.headers['x-amz-date'] as string | undefined) ?? undefined;
  let ts = parseAmzDate(amzDate);
  let dateStr = amzDate;
  if (ts === undefined && !amzDate && input.headers.date) {
    const d = Date.parse(input.headers.date);
    if (!Number.isNaN(d)) {
      ts = d;
      dateStr = toAmzDate(d);
    }
  }
  if (ts === undefined || !dateStr) throw s3err('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const now = cfg.now();
  if (Math.abs(now - ts) > MAX_SKEW_MS) {
    throw s3err('RequestTimeTooSkewed', undefined, {
      RequestTime: dateStr,
      ServerTime: new Date(now).toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }
  checkScope(credParts.slice(1), dateStr, cfg, 'AuthorizationHeaderMalformed');
  const signed = signedHeadersRaw.split(';');
  if (!signed.includes('host')) throw s3err('AccessDenied', 'Host header must be signed');
  const payloadHash = input.headers['x-amz-content-sha256'] as string | undefined;
  if (!payloadHash) throw s3err('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (!PAYLOAD_MODES.has(payloadHash) && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw s3err('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.');
  }
  // x-amz-* headers change what a request does (x-amz-copy-source turns a PUT into a copy): all must be signed.
  requireSignedAmzHeaders(input, signed, true);
  const scope = credParts.slice(1).join('/');
  const creq = canonicalRequest(input, signed, payloadHash);
  const sts = ['AWS4-HMAC-SHA256', dateStr, scope, sha256hex(creq)].join('\n');
  const key = signingKey(secret, credParts[1], credParts[2]);
  const expected = hmacHex(key, sts);
  if (!sigEqual(expected, signature)) {
    throw s3err('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: signature, CanonicalRequest: creq });
  }
  return { accessKeyId, secretAccessKey: secret, key, amzDate: dateStr, scope, signature, payloadHash, presigned: false, signedHeaders: signed };
}

/**
 * AWS refuses a request carrying an x-amz-* header that is not in SignedHeaders (403 AccessDenied, HeadersNotSigned).
 * In header auth x-amz-content-sha256 may stay unsigned (AWS tolerates it: its value is the last line of the canonical
 * request, so the signature covers it anyway).
 */
function requireSignedAmzHeaders(input: AuthInput, signed: string[], headerAuth: boolean): void {
  const notSigned: string[] = [];
  for (const h of Object.keys(input.headers)) {
    if (!h.startsWith('x-amz-') || signed.includes(h)) continue;
    if (headerAuth && h === 'x-amz-content-sha256') continue;
    notSigned.push(h);
  }
  if (notSigned.length) {
    throw s3err('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: notSigned.join(', ') });
  }
}

function verifyPresigned(input: AuthInput, cfg: AuthConfig, q: Map<string, string>): AuthInfo {
  const alg = q.get('X-Amz-Algorithm');
  const cred = q.get('X-Amz-Credential');
  const amzDate = q.get('X-Amz-Date');
  const expiresRaw = q.get('X-Amz-Expires');
  const signedRaw = q.get('X-Amz-SignedHeaders');
  const signature = q.get('X-Amz-Signature');
  if (alg !== 'AWS4-HMAC-SHA256') {
    throw s3err('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  if (!cred || !amzDate || !expiresRaw || !signedRaw || !signature) {
    throw s3err('AuthorizationQueryParametersError', 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  const credParts = cred.split('/');
  const accessKeyId = credParts[0];
  const secret = cfg.credentials.get(accessKeyId);
  if (secret === undefined) throw s3err('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  const ts = parseAmzDate(amzDate);
  if (ts === undefined) throw s3err('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (!/^\d+$/.test(expiresRaw)) throw s3err('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  const expires = Number(expiresRaw);
  if (expires > MAX_PRESIGN_EXPIRES) {
    throw s3err('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
  }
  if (expires < 1) throw s3err('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative');
  checkScope(credParts.slice(1), amzDate, cfg, 'AuthorizationQueryParametersError');
  const now = cfg.now();
  if (ts - now > MAX_SKEW_MS) throw s3err('AccessDenied', 'Request is not valid yet');
  if (now > ts + expires * 1000) {
    throw s3err('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expiresRaw,
      Expires: new Date(ts + expires * 1000).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
  const signed = signedRaw.split(';');
  if (!signed.includes('host')) throw s3err('AccessDenied', 'Host header must be signed');
  // Headers that grant something (x-amz-*) must have been signed by the URL's issuer.
  requireSignedAmzHeaders(input, signed, false);
  const payloadHash = q.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
  const scope = credParts.slice(1).join('/');
  const creq = canonicalRequest(input, signed, payloadHash, 'X-Amz-Signature');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(creq)].join('\n');
  const key = signingKey(secret, credParts[1], credParts[2]);
  const expected = hmacHex(key, sts);
  if (!sigEqual(expected, signature)) {
    throw s3err('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: signature, CanonicalRequest: creq });
  }
  // a presigned URL never streams aws-chunked; a hex hash in the query is verified against the body
  return { accessKeyId, secretAccessKey: secret, key, amzDate, scope, signature, payloadHash, presigned: true, signedHeaders: signed };
}

export function chunkStringToSign(auth: AuthInfo, prevSig: string, chunkHashHex: string): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', auth.amzDate, auth.scope, prevSig, EMPTY_SHA256, chunkHashHex].join('\n');
}

export function trailerStringToSign(auth: AuthInfo, prevSig: string, trailerHashHex: string): string {
  return ['AWS4-HMAC-SHA256-TRAILER', auth.amzDate, auth.scope, prevSig, trailerHashHex].join('\n');
}
