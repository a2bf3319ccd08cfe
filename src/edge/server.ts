// The local CDN edge: verifies CloudFront-format signed URLs / cookies, then streams the object from storage over
// the S3 API. Request path = `/<object key>` (each segment percent-encoded). Never buffers whole bodies.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { formatContentDisposition, dispositionType } from '../domain/disposition.ts';
import { cloudFrontCookies, loadPublicKeys, splitRequestTarget, verifySignedRequest, type Credentials } from './verify.ts';

export interface EdgeS3Options {
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  bucket: string;
  forcePathStyle?: boolean;
}

export interface EdgeLogger {
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

export interface EdgeOptions {
  port?: number;
  host?: string;
  s3: EdgeS3Options;
  /** Key-pair id → PEM public key (a private key PEM is accepted too; its public half is used). */
  publicKeys: Record<string, string | Buffer>;
  /**
   * Public base URL the URLs are signed for (e.g. https://files.example.com or https://example.com/files). Its
   * origin replaces the Host header when rebuilding the signed resource, and its path (if any) is stripped before
   * mapping to the object key. Default: `http://<Host header>`.
   */
  publicUrl?: string;
  /** Honour X-Forwarded-Proto / X-Forwarded-Host / X-Forwarded-For (only behind a trusted proxy). */
  trustProxy?: boolean;
  /** Upper bound for Cache-Control max-age (the URL's remaining lifetime is used when shorter). Default 86400. */
  maxAgeSeconds?: number;
  logger?: EdgeLogger;
  /** Clock (tests). */
  now?: () => Date;
  /** Provide a ready S3 client instead of building one from `s3` (bucket is still read from `s3`). */
  client?: S3Client;
}

export interface EdgeHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'content-length, content-range, content-disposition, etag, last-modified, accept-ranges',
} as const;

const RANGE_RE = /^bytes=(\d{0,19})-(\d{0,19})$/;
/** A plain host[:port] (name, IPv4, or bracketed IPv6): nothing that could carry a path, query or userinfo. */
const HOST_RE = /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d+)?$/; // `_`: container service names

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(text);
}

/** Maps a raw (percent-encoded) path below the base path to an object key; null when not canonical. */
export function keyFromPath(rawPath: string, basePath: string): string | null {
  if (!rawPath.startsWith(basePath + '/')) return null;
  const raw = rawPath.slice(basePath.length + 1);
  if (raw === '') return null;
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      return null;
    }
    // Dot segments could be normalised by something downstream, an encoded slash would make two paths one key,
    // NUL is never a key character: refuse them all so one URL always names exactly one key.
    if (d === '.' || d === '..' || d.includes('/') || d.includes('\0')) return null;
    out.push(d);
  }
  return out.join('/');
}

function safeHeaderValue(v: string): boolean {
  // Visible latin-1 plus space/tab only (what node will put on the wire unchanged).
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(v);
}

interface S3ErrorLike {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

export function createEdgeHandler(opts: EdgeOptions): {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  client: S3Client;
  destroy(): void;
} {
  const keys = loadPublicKeys(opts.publicKeys);
  if (keys.size === 0) throw new Error('edge: at least one public key is required');
  const ownClient = !opts.client;
  const client =
    opts.client ??
    new S3Client({
      endpoint: opts.s3.endpoint,
      region: opts.s3.region ?? 'us-east-1',
      credentials: opts.s3.credentials,
      forcePathStyle: opts.s3.forcePathStyle ?? true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
      },
    });
  const bucket = opts.s3.bucket;
  const base = opts.publicUrl ? new URL(opts.publicUrl) : null;
  const basePath = base ? base.pathname.replace(/\/+$/, '') : '';
  const maxAge = opts.maxAgeSeconds ?? 86_400;
  const now = opts.now ?? (() => new Date());
  const log = opts.logger ?? {};

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      // CORS preflight (e.g. fetch with Range from a page). A signed URL is a bearer credential usable from anywhere;
      // cookies are never sent cross-origin with `*`, so this grants nothing new.
      res.writeHead(204, {
        ...CORS_HEADERS,
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': 'range, if-range, if-match, if-none-match, if-modified-since, if-unmodified-since',
        'access-control-max-age': '86400',
      });
      res.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const target = req.url ?? '/';
    if (!target.startsWith('/')) {
      sendText(res, 400, 'bad request\n');
      return;
    }
    if (target === '/healthz') {
      sendText(res, 200, 'ok\n');
      return;
    }
    const split = splitRequestTarget(target);
    if (!split.signing) {
      sendText(res, 403, 'access denied: repeated signing parameter\n');
      return;
    }
    const q = split.signing;
    let creds: Credentials | null = null;
    if (q.Signature !== undefined || q['Key-Pair-Id'] !== undefined || q.Expires !== undefined || q.Policy !== undefined) {
      creds = {
        expires: q.Expires,
        policy: q.Policy,
        signature: q.Signature,
        keyPairId: q['Key-Pair-Id'],
        hashAlgorithm: q['Hash-Algorithm'],
      };
    } else {
      creds = cloudFrontCookies(firstHeader(req.headers.cookie));
    }
    if (!creds) {
      sendText(res, 403, 'access denied: missing signature\n');
      return;
    }
    // Without a public URL, Host / X-Forwarded-Host become part of the URL the signature is checked against: only a
    // plain host[:port] (with one, they are not used at all).
    const hostHeader = req.headers.host;
    const fwdHost = opts.trustProxy ? firstHeader(req.headers['x-forwarded-host'])?.split(',')[0]?.trim() : undefined;
    if (!base && ((hostHeader !== undefined && !HOST_RE.test(hostHeader)) || (fwdHost !== undefined && fwdHost !== '' && !HOST_RE.test(fwdHost)))) {
      sendText(res, 400, 'bad request: invalid Host\n');
      return;
    }
    let origin: string;
    if (base) origin = base.origin;
    else {
      const fwdProto = opts.trustProxy ? firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase() : undefined;
      const proto = fwdProto === 'https' || fwdProto === 'http' ? fwdProto : 'http';
      const host = fwdHost || hostHeader;
      if (!host) {
        sendText(res, 400, 'missing host\n');
        return;
      }
      origin = `${proto}://${host}`;
    }
    // The object key comes from the path alone; the signature is checked against origin and path separately, so
    // nothing in the Host can change which key a policy pattern is matched against.
    const key = keyFromPath(split.rawPath, basePath);
    if (key === null) {
      sendText(res, 403, 'access denied: path is not an object key\n');
      return;
    }
    const resourcePath = split.rawPath + (split.rawQuery ? `?${split.rawQuery}` : '');
    let clientIp = req.socket.remoteAddress;
    if (opts.trustProxy) {
      const xff = firstHeader(req.headers['x-forwarded-for']);
      // The last entry is the one our (trusted) proxy added; earlier ones are whatever the client sent.
      if (xff) clientIp = xff.split(',').at(-1)!.trim();
    }
    const verdict = verifySignedRequest({ origin, path: resourcePath, creds, keys, now: now(), clientIp });
    if (!verdict.ok) {
      log.info?.({ reason: verdict.reason, path: split.rawPath }, 'edge: denied');
      sendText(res, 403, `access denied: ${verdict.reason}\n`);
      return;
    }
    const params = new URLSearchParams(split.rawQuery);
    let dispositionParam: string | undefined;
    let typeParam: string | undefined;
    for (const name of ['response-content-disposition', 'response-content-type'] as const) {
      const all = params.getAll(name);
      if (all.length > 1 || (all[0] !== undefined && !safeHeaderValue(all[0]))) {
        sendText(res, 400, `bad ${name}\n`);
        return;
      }
      if (name === 'response-content-disposition') dispositionParam = all[0];
      else typeParam = all[0];
    }
    // response-* overrides are trusted only when the signature covers them exactly (canned policy, or a custom
    // policy whose Resource is this very URL). Under a wildcard (signed cookies, `workspaces/<id>/*` policies) the
    // query string is unsigned: the stored type is served, with the default disposition for it; a request for
    // `attachment` is still honoured (it can only make the answer stricter), with the filename taken from the key.
    let forceAttachment = false;
    if (!verdict.exact) {
      forceAttachment = dispositionParam !== undefined && /^\s*attachment\s*(;|$)/i.test(dispositionParam);
      dispositionParam = undefined;
      typeParam = undefined;
    }

    const ifNoneMatch = firstHeader(req.headers['if-none-match']);
    const ifModifiedSince = firstHeader(req.headers['if-modified-since']);
    const ifMatch = firstHeader(req.headers['if-match']);
    const ifUnmodifiedSince = firstHeader(req.headers['if-unmodified-since']);
    const ifRange = firstHeader(req.headers['if-range']);
    const rangeHeader = firstHeader(req.headers.range);
    const range = rangeHeader && RANGE_RE.test(rangeHeader) && rangeHeader !== 'bytes=-' ? rangeHeader : undefined;
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);

    const remaining = Math.max(0, Math.floor(verdict.expiresEpoch - now().getTime() / 1000));
    const common = (contentType: string | undefined): Record<string, string> => {
      const type = typeParam ?? contentType ?? 'application/octet-stream';
      const disposition =
        dispositionParam ??
        formatContentDisposition(forceAttachment ? 'attachment' : dispositionType(type, null), key.slice(key.lastIndexOf('/') + 1));
      return {
        'content-type': type,
        'content-disposition': disposition,
        'x-content-type-options': 'nosniff',
        'cache-control': `private, max-age=${Math.min(remaining, maxAge)}`,
        'accept-ranges': 'bytes',
        ...CORS_HEADERS,
      };
    };

    let ifModSinceDate: Date | undefined;
    if (ifModifiedSince && !ifNoneMatch) {
      const d = new Date(ifModifiedSince);
      if (!Number.isNaN(d.getTime())) ifModSinceDate = d;
    }
    // RFC 9110 §13.1.4: If-Unmodified-Since is ignored when If-Match is present (and when it is not a valid date).
    let ifUnmodSinceDate: Date | undefined;
    if (ifUnmodifiedSince && !ifMatch) {
      const d = new Date(ifUnmodifiedSince);
      if (!Number.isNaN(d.getTime())) ifUnmodSinceDate = d;
    }
    const conditions = {
      // Storage gets a single strong tag only: `*` just asks that the object exists (a successful GET/HEAD shows it),
      // and lists are not understood by every store (Ceph RGW answers 412 to `"a", "b"` even when one matches);
      // whatever is not passed on is checked below on what storage returned.
      IfMatch: ifMatch !== undefined && /^\s*"[^",]*"\s*$/.test(ifMatch) ? ifMatch.trim() : undefined,
      IfUnmodifiedSince: ifUnmodSinceDate,
      IfNoneMatch: ifNoneMatch,
      IfModifiedSince: ifModSinceDate,
    };
    // Stores that ignore If-Match / If-Unmodified-Since: check them ourselves on what was returned.
    const preconditionFails = (etag: string | undefined, lastModified: Date | undefined): boolean =>
      (ifMatch !== undefined && etag !== undefined && !strongEtagListMatches(ifMatch, etag)) ||
      (ifUnmodSinceDate !== undefined && lastModified !== undefined && lastModified.getTime() > ifUnmodSinceDate.getTime());

    try {
      if (method === 'HEAD') {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...conditions }), {
          abortSignal: abort.signal,
        });
        if (preconditionFails(head.ETag, head.LastModified)) {
          sendText(res, 412, 'precondition failed\n');
          return;
        }
        const h = common(head.ContentType);
        if (head.ETag) h.etag = head.ETag;
        if (head.LastModified) h['last-modified'] = head.LastModified.toUTCString();
        if (head.ContentLength !== undefined) h['content-length'] = String(head.ContentLength);
        res.writeHead(200, h);
        res.end();
        return;
      }
      const getObject = (r: string | undefined) =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: r, ...conditions }), { abortSignal: abort.signal });
      // If-Range (RFC 9110 §13.1.5): the range is served only if the validator matches the object returned (strong
      // ETag comparison, or the exact Last-Modified date); otherwise the whole object, 200. The ranged answer carries
      // its own ETag / Last-Modified, so the check and the bytes always belong to the same version.
      let sendRange = range;
      let out;
      try {
        out = await getObject(range);
      } catch (err) {
        const e = err as S3ErrorLike;
        if (!(range && ifRange !== undefined && (e.$metadata?.httpStatusCode === 416 || e.name === 'InvalidRange'))) throw err;
        // Unsatisfiable range: that answer stands only if If-Range matches; otherwise the whole (changed) object.
        const full = await getObject(undefined);
        if (ifRangeMatches(ifRange, full.ETag, full.LastModified) && !preconditionFails(full.ETag, full.LastModified)) {
          (full.Body as Readable | undefined)?.destroy();
          const size = full.ContentLength;
          sendText(res, 416, 'range not satisfiable\n', size !== undefined ? { 'content-range': `bytes */${size}` } : {});
          return;
        }
        out = full;
        sendRange = undefined;
      }
      if (sendRange && ifRange !== undefined && !ifRangeMatches(ifRange, out.ETag, out.LastModified)) {
        (out.Body as Readable | undefined)?.destroy();
        out = await getObject(undefined);
        sendRange = undefined;
      }
      const body = out.Body as Readable | undefined;
      if (preconditionFails(out.ETag, out.LastModified)) {
        body?.destroy();
        sendText(res, 412, 'precondition failed\n');
        return;
      }
      const h = common(out.ContentType);
      if (out.ETag) h.etag = out.ETag;
      if (out.LastModified) h['last-modified'] = out.LastModified.toUTCString();
      // Stores that ignore conditional headers: answer 304 ourselves.
      if (ifNoneMatch && out.ETag && etagMatches(ifNoneMatch, out.ETag)) {
        body?.destroy();
        send304(res, h);
        return;
      }
      if (out.ContentLength !== undefined) h['content-length'] = String(out.ContentLength);
      const partial = Boolean(sendRange && out.ContentRange);
      if (partial) h['content-range'] = out.ContentRange!;
      res.writeHead(partial ? 206 : 200, h);
      if (!body) {
        res.end();
        return;
      }
      await pipeline(body, res);
    } catch (err) {
      const e = err as S3ErrorLike;
      const status = e.$metadata?.httpStatusCode;
      if (abort.signal.aborted || res.destroyed) {
        res.destroy();
        return;
      }
      if (status === 304 || e.name === 'NotModified' || e.name === '304') {
        const h = common(undefined);
        const etag = e.$response?.headers?.etag ?? (ifNoneMatch && !ifNoneMatch.includes(',') ? ifNoneMatch : undefined);
        if (etag) h.etag = etag;
        send304(res, h);
        return;
      }
      if (status === 412 || e.name === 'PreconditionFailed' || e.name === '412') {
        sendText(res, 412, 'precondition failed\n');
        return;
      }
      if (status === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound') {
        sendText(res, 404, 'not found\n');
        return;
      }
      if (status === 416 || e.name === 'InvalidRange') {
        const cr = e.$response?.headers?.['content-range'];
        sendText(res, 416, 'range not satisfiable\n', cr ? { 'content-range': cr } : {});
        return;
      }
      log.error?.({ err: String(err), name: e.name, status, key }, 'edge: storage error');
      sendText(res, 502, 'storage error\n');
    } finally {
      res.off('close', onClose);
    }
  }

  return {
    handler(req, res) {
      handle(req, res).catch((err) => {
        log.error?.({ err: String(err) }, 'edge: unexpected error');
        if (!res.headersSent) sendText(res, 500, 'internal error\n');
        else res.destroy();
      });
    },
    client,
    destroy() {
      if (ownClient) client.destroy();
    },
  };
}

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  const target = strip(etag);
  return header.split(',').some((t) => strip(t) === target);
}

/** If-Match: `*`, or a list of entity tags compared strongly (a weak tag never matches). */
function strongEtagListMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  if (etag.startsWith('W/')) return false;
  return header.split(',').some((t) => t.trim() === etag);
}

/** If-Range: a strong entity tag equal to the object's, or an HTTP-date equal to its Last-Modified. */
function ifRangeMatches(validator: string, etag: string | undefined, lastModified: Date | undefined): boolean {
  const v = validator.trim();
  if (v.startsWith('W/')) return false;
  if (v.startsWith('"')) return etag !== undefined && !etag.startsWith('W/') && v === etag;
  const d = Date.parse(v);
  return !Number.isNaN(d) && lastModified !== undefined && lastModified.getTime() === d;
}

function send304(res: ServerResponse, h: Record<string, string>): void {
  const keep: Record<string, string> = {};
  for (const k of ['etag', 'last-modified', 'cache-control', 'content-disposition', 'x-content-type-options', 'access-control-allow-origin']) {
    if (h[k] !== undefined) keep[k] = h[k];
  }
  res.writeHead(304, keep);
  res.end();
}

/** Starts the edge. `url` is the address it listens on (use `publicUrl` for what browsers see). */
export async function startEdge(opts: EdgeOptions): Promise<EdgeHandle> {
  const { handler, destroy } = createEdgeHandler(opts);
  const server = createServer({ keepAliveTimeout: 65_000 }, handler);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      destroy();
    },
  };
}
