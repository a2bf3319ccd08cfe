import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { planBody, readSmallBody, receiveBody, receiveBodyToBuffer } from './body.ts';
import { checksumHeader, newHasher, parseAlgorithm, validChecksumValue, type ChecksumAlgorithm, CHECKSUM_ALGORITHMS } from './checksums.ts';
import { corsHeaders, corsXml, matchCors, parseCors } from './cors.ts';
import { S3Error, s3err } from './errors.ts';
import { Notifier, notificationXml, parseNotificationConfig, type EventInput, type EventMarker, type S3EventRecord } from './notify.ts';
import { handlePostObject } from './post.ts';
import { FsStore, type EventHook, type ObjectHeaders, type ObjectMeta, type PartMeta } from './store.ts';
import { parseQuery, safeDecode, sha256hex, verifySigV4, type AuthInfo } from './sigv4.ts';
import { doc, el, esc, list, parseXml, text, type XmlNode } from './xml.ts';

export interface ObjectStoreLogger {
  info?: (obj: unknown, msg?: string) => void;
  warn?: (obj: unknown, msg?: string) => void;
  error?: (obj: unknown, msg?: string) => void;
}

export interface ObjectStoreOptions {
  dir: string;
  host?: string;
  port?: number;
  credentials: Array<{ accessKeyId: string; secretAccessKey: string }>;
  region?: string;
  /** largest object (single PUT is additionally capped at 5 GiB, like S3); default 5 TiB */
  maxObjectSize?: number;
  logger?: ObjectStoreLogger;
  /** smallest non-last multipart part; default 5 MiB as on S3 */
  minPartSize?: number;
  /** webhook retry backoff after the n-th failed attempt (ms); default 250 ms doubling up to 30 s */
  webhookBackoffMs?: (attempt: number) => number;
  /** clock (tests) */
  now?: () => number;
}

export interface ObjectStore {
  endpoint: string;
  port: number;
  close(): Promise<void>;
  subscribe(fn: (record: S3EventRecord) => void): () => void;
}

export type { S3EventRecord };

const GiB = 1024 ** 3;
const MAX_PUT = 5 * GiB;
const MAX_PART = 5 * GiB;
const MAX_PARTS = 10_000;
const READ_HWM = 1 << 20;
/** Keys of one DeleteObjects request deleted at once (each costs a couple of unlinks on the libuv pool). */
const DELETE_CONCURRENCY = 32;

export interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  requestId: string;
  hostId: string;
  bucket: string;
  key: string;
  query: Map<string, string>;
  resource: string;
  auth?: AuthInfo;
  corsOrigin?: string;
}

export interface Server {
  store: FsStore;
  notifier: Notifier;
  opts: Required<Pick<ObjectStoreOptions, 'region' | 'maxObjectSize' | 'minPartSize'>> & { now: () => number };
  credentials: Map<string, string>;
  ownerId: string;
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function quoteEtag(e: string): string {
  return `"${e}"`;
}

function normEtag(e: string): string {
  const t = e.trim();
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
}

function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((p) => {
    const v = p.trim().replace(/^W\//, '');
    return v === '*' || normEtag(v) === etag;
  });
}

function parseHttpDate(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** GET/HEAD precondition evaluation (RFC 7232 order, as S3 does). */
function checkReadConditions(h: http.IncomingHttpHeaders, meta: ObjectMeta): 304 | 412 | undefined {
  const lm = Math.floor(meta.lastModified / 1000) * 1000;
  const ifMatch = h['if-match'];
  const ifNoneMatch = h['if-none-match'];
  const ims = parseHttpDate(h['if-modified-since'] as string | undefined);
  const ius = parseHttpDate(h['if-unmodified-since'] as string | undefined);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) return 412;
  } else if (ius !== undefined && lm > ius) return 412;
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) return 304;
  } else if (ims !== undefined && lm <= ims) return 304;
  return undefined;
}

/** Write preconditions (If-None-Match: * / If-Match) on PutObject, CopyObject and CompleteMultipartUpload. */
function writeCondition(h: http.IncomingHttpHeaders): ((cur: ObjectMeta | undefined) => void) | undefined {
  const inm = h['if-none-match'];
  const im = h['if-match'];
  if (inm === undefined && im === undefined) return undefined;
  if (inm !== undefined && inm.trim() !== '*') throw s3err('NotImplemented', 'If-None-Match only supports *', { Header: 'If-None-Match' });
  return (cur) => {
    if (inm !== undefined && cur) throw s3err('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    if (im !== undefined) {
      if (!cur) throw s3err('NoSuchKey');
      if (!etagMatches(im, cur.etag)) throw s3err('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  };
}

const HEADER_FIELDS: Array<[keyof ObjectHeaders, string]> = [
  ['contentType', 'content-type'],
  ['contentDisposition', 'content-disposition'],
  ['cacheControl', 'cache-control'],
  ['contentEncoding', 'content-encoding'],
  ['contentLanguage', 'content-language'],
  ['expires', 'expires'],
];
const RESPONSE_NAMES: Record<keyof ObjectHeaders, string> = {
  contentType: 'Content-Type',
  contentDisposition: 'Content-Disposition',
  cacheControl: 'Cache-Control',
  contentEncoding: 'Content-Encoding',
  contentLanguage: 'Content-Language',
  expires: 'Expires',
};

/** Stored system headers and x-amz-meta-* from a request (or from form fields for POST). */
const PRESIGN_AUTH_PARAMS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token', 'x-amz-content-sha256']);

/**
 * A presigned URL may carry request headers as query parameters (the SDK presigner hoists x-amz-meta-*,
 * x-amz-checksum-*, x-amz-sdk-checksum-algorithm…). Every query parameter of a presigned URL is signed, so AWS treats
 * them as the headers they name: metadata is stored and checksums are verified. A header sent as well must agree.
 */
function promoteSignedQueryHeaders(ctx: Ctx): void {
  const h = ctx.req.headers;
  for (const [k, v] of ctx.query) {
    const name = k.toLowerCase();
    if (!name.startsWith('x-amz-') || PRESIGN_AUTH_PARAMS.has(name)) continue;
    const sent = h[name];
    if (sent === undefined) h[name] = v;
    else if (sent !== v) throw s3err('InvalidRequest', `The ${name} query parameter and header of this presigned request differ.`);
  }
}

export function collectHeaders(get: (name: string) => string | undefined, names: Iterable<string>): { headers: ObjectHeaders; userMeta: Record<string, string> } {
  const headers: ObjectHeaders = {};
  for (const [field, name] of HEADER_FIELDS) {
    let v = get(name);
    if (v === undefined) continue;
    if (field === 'contentEncoding') {
      v = v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s && s.toLowerCase() !== 'aws-chunked')
        .join(',');
      if (!v) continue;
    }
    headers[field] = v;
  }
  const userMeta: Record<string, string> = {};
  let metaSize = 0;
  for (const n of names) {
    const lower = n.toLowerCase();
    if (lower.startsWith('x-amz-meta-')) {
      const v = get(lower) ?? '';
      const k = lower.slice(11);
      userMeta[k] = v;
      metaSize += Buffer.byteLength(k) + Buffer.byteLength(v);
    }
  }
  if (metaSize > 2048) throw s3err('MetadataTooLarge', undefined, { Size: String(metaSize), MaxSizeAllowed: '2048' });
  return { headers, userMeta };
}

function headerGetter(req: http.IncomingMessage) {
  return (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
}

function md5Etag(md5: Buffer): string {
  return md5.toString('hex');
}

export function objectResponseHeaders(meta: ObjectMeta, checksumMode: boolean): Record<string, string> {
  const h: Record<string, string> = {
    ETag: quoteEtag(meta.etag),
    'Last-Modified': httpDate(meta.lastModified),
    'Accept-Ranges': 'bytes',
    'Content-Type': meta.headers.contentType ?? 'binary/octet-stream',
  };
  for (const [field] of HEADER_FIELDS) {
    const v = meta.headers[field];
    if (v !== undefined && field !== 'contentType') h[RESPONSE_NAMES[field]] = v;
  }
  for (const [k, v] of Object.entries(meta.userMeta)) h[`x-amz-meta-${k}`] = v;
  if (meta.partsCount) h['x-amz-mp-parts-count'] = String(meta.partsCount);
  if (checksumMode && meta.checksum) {
    h[checksumHeader(meta.checksum.alg)] = meta.checksum.value;
    h['x-amz-checksum-type'] = meta.checksum.type;
  }
  return h;
}

export class S3Server implements Server {
  store: FsStore;
  notifier: Notifier;
  opts: Server['opts'];
  credentials: Map<string, string>;
  ownerId: string;
  private log: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  private http?: http.Server;

  constructor(private readonly o: ObjectStoreOptions) {
    if (!o.credentials?.length) throw new Error('objectstore: at least one credential is required');
    this.credentials = new Map(o.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
    this.opts = {
      region: o.region ?? 'us-east-1',
      maxObjectSize: o.maxObjectSize ?? 5 * 1024 * GiB,
      minPartSize: o.minPartSize ?? 5 * 1024 * 1024,
      now: o.now ?? Date.now,
    };
    this.ownerId = createHash('sha256').update(o.credentials[0].accessKeyId).digest('hex');
    const logger = o.logger;
    this.log = (level, msg, extra) => {
      const fn = logger?.[level];
      if (fn) fn.call(logger, extra ?? {}, msg);
    };
    this.store = new FsStore(o.dir, this.log);
    this.notifier = new Notifier({ dir: o.dir, region: this.opts.region, log: this.log, backoffMs: o.webhookBackoffMs });
  }

  async start(): Promise<ObjectStore> {
    await this.store.open();
    try {
      return await this.listen();
    } catch (e) {
      this.notifier.close();
      await this.store.close();
      throw e;
    }
  }

  private async listen(): Promise<ObjectStore> {
    await this.notifier.open((m) => this.store.committed(m));
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 } as http.ServerOptions, (req, res) => {
      void this.handle(req, res);
    });
    // an idle socket (no bytes either way) for 5 minutes is dropped; a slow but moving 5 GiB part is never cut off
    server.setTimeout(300_000, (socket) => socket.destroy());
    this.http = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const endpoint = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`;
    this.log('info', `objectstore listening on ${endpoint}`, { dir: this.o.dir });
    return {
      endpoint,
      port: addr.port,
      subscribe: (fn) => this.notifier.subscribe(fn),
      close: () => this.close(),
    };
  }

  private closing?: Promise<void>;
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        const server = this.http;
        if (server) {
          const done = new Promise<void>((r) => server.close(() => r()));
          // in-flight requests finish; keep-alive sockets are closed as soon as they go idle; stragglers after 10 s
          server.closeIdleConnections();
          const idle = setInterval(() => server.closeIdleConnections(), 50);
          const t = setTimeout(() => server.closeAllConnections(), 10_000);
          await done;
          clearInterval(idle);
          clearTimeout(t);
        }
        this.notifier.close();
        await this.store.close();
      })();
    }
    return this.closing;
  }

  // ------------------------------------------------------------------------------------------------ dispatch
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(24).toString('base64');
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', hostId);
    res.setHeader('Server', 'StowageS3');
    const ctx: Ctx = { req, res, requestId, hostId, bucket: '', key: '', query: new Map(), resource: '/' };
    try {
      const url = req.url ?? '/';
      const qi = url.indexOf('?');
      const rawPath = qi < 0 ? url : url.slice(0, qi);
      const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
      if (!rawPath.startsWith('/')) throw s3err('InvalidURI', 'Couldn\'t parse the specified URI.');
      const query = parseQuery(rawQuery);
      ctx.query = new Map(query);
      const slash = rawPath.indexOf('/', 1);
      ctx.bucket = safeDecode(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
      ctx.key = slash < 0 ? '' : safeDecode(rawPath.slice(slash + 1));
      ctx.resource = ctx.bucket ? `/${ctx.bucket}${ctx.key ? '/' + ctx.key : ''}` : '/';
      const origin = req.headers.origin;
      if (origin && ctx.bucket) ctx.corsOrigin = origin;
      const method = req.method ?? 'GET';
      if (method === 'OPTIONS') return this.preflight(ctx);
      if (method === 'POST' && ctx.bucket && !ctx.key && /^multipart\/form-data/i.test(req.headers['content-type'] ?? '') && !ctx.query.has('delete')) {
        return await handlePostObject(this, ctx);
      }
      ctx.auth = verifySigV4(
        { method, rawPath, query, rawHeaders: req.rawHeaders, headers: req.headers },
        { credentials: this.credentials, region: this.opts.region, now: this.opts.now },
      );
      if (ctx.auth.presigned) promoteSignedQueryHeaders(ctx);
      // X-Amz-* (auth, or hoisted headers) and x-id are not sub-resources: they never select an operation
      for (const k of [...ctx.query.keys()]) if (/^x-amz-/i.test(k) || k === 'x-id') ctx.query.delete(k);
      if (Buffer.byteLength(ctx.key) > 1024) throw s3err('KeyTooLongError', undefined, { Size: String(Buffer.byteLength(ctx.key)), MaxSizeAllowed: '1024' });
      await this.route(ctx, method);
    } catch (e) {
      this.sendError(ctx, e);
    }
  }

  private async route(ctx: Ctx, method: string): Promise<void> {
    const q = ctx.query;
    if (!ctx.bucket) {
      if (method === 'GET') return this.listBuckets(ctx);
      throw s3err('MethodNotAllowed');
    }
    if (!ctx.key) {
      switch (method) {
        case 'PUT':
          if (q.has('cors')) return this.putCors(ctx);
          if (q.has('notification')) return this.putNotification(ctx);
          if (q.size > 0) throw s3err('NotImplemented', 'This bucket sub-resource is not implemented');
          return this.createBucket(ctx);
        case 'GET':
          if (q.has('cors')) return this.getCors(ctx);
          if (q.has('notification')) return this.getNotification(ctx);
          if (q.has('uploads')) return this.listUploads(ctx);
          if (q.has('location')) return this.getLocation(ctx);
          if (q.has('versioning')) {
            this.store.bucket(ctx.bucket);
            return this.sendXml(ctx, 200, doc('VersioningConfiguration', ''));
          }
          for (const sub of ['acl', 'policy', 'tagging', 'lifecycle', 'website', 'replication', 'encryption', 'object-lock', 'logging', 'ownershipControls', 'publicAccessBlock', 'accelerate', 'requestPayment', 'analytics', 'metrics', 'inventory', 'intelligent-tiering', 'versions']) {
            if (q.has(sub)) throw s3err('NotImplemented', `The bucket sub-resource ${sub} is not implemented`);
          }
          return this.listObjects(ctx, q.get('list-type') === '2');
        case 'HEAD':
          this.store.bucket(ctx.bucket);
          ctx.res.writeHead(200, { 'x-amz-bucket-region': this.opts.region, 'Content-Length': '0' });
          ctx.res.end();
          return;
        case 'DELETE':
          if (q.has('cors')) return this.deleteCors(ctx);
          if (q.size > 0) throw s3err('NotImplemented', 'This bucket sub-resource is not implemented');
          await this.store.deleteBucket(ctx.bucket);
          ctx.res.writeHead(204);
          ctx.res.end();
          return;
        case 'POST':
          if (q.has('delete')) return this.deleteObjects(ctx);
          throw s3err('MethodNotAllowed');
        default:
          throw s3err('MethodNotAllowed');
      }
    }
    switch (method) {
      case 'PUT':
        if (q.has('uploadId') || q.has('partNumber')) {
          if (ctx.req.headers['x-amz-copy-source'] !== undefined) throw s3err('NotImplemented', 'UploadPartCopy is not implemented');
          return this.uploadPart(ctx);
        }
        if (q.has('tagging') || q.has('acl') || q.has('retention') || q.has('legal-hold')) throw s3err('NotImplemented', 'This object sub-resource is not implemented');
        if (ctx.req.headers['x-amz-copy-source'] !== undefined) return this.copyObject(ctx);
        return this.putObject(ctx);
      case 'GET':
        if (q.has('uploadId')) return this.listParts(ctx);
        if (q.has('tagging') || q.has('acl') || q.has('attributes') || q.has('torrent')) throw s3err('NotImplemented', 'This object sub-resource is not implemented');
        return this.getObject(ctx, false);
      case 'HEAD':
        return this.getObject(ctx, true);
      case 'DELETE':
        if (q.has('uploadId')) return this.abortUpload(ctx);
        return this.deleteObject(ctx);
      case 'POST':
        if (q.has('uploads')) return this.createUpload(ctx);
        if (q.has('uploadId')) return this.completeUpload(ctx);
        throw s3err('MethodNotAllowed');
      default:
        throw s3err('MethodNotAllowed');
    }
  }

  // ------------------------------------------------------------------------------------------------ responses
  corsFor(ctx: Ctx, method?: string): Record<string, string> {
    if (!ctx.corsOrigin || !this.store.hasBucket(ctx.bucket)) return {};
    const cfg = this.store.bucket(ctx.bucket);
    const rule = matchCors(cfg.cors, ctx.corsOrigin, method ?? ctx.req.method ?? 'GET');
    return rule ? corsHeaders(rule, ctx.corsOrigin, undefined) : {};
  }

  sendXml(ctx: Ctx, status: number, body: string, headers: Record<string, string> = {}): void {
    const buf = Buffer.from(body);
    ctx.res.writeHead(status, {
      ...this.corsFor(ctx),
      ...headers,
      'Content-Type': 'application/xml',
      'Content-Length': String(buf.length),
    });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : buf);
  }

  sendError(ctx: Ctx, e: unknown): void {
    let err: S3Error;
    if (e instanceof S3Error) err = e;
    else {
      this.log('error', 'objectstore: internal error', { err: e instanceof Error ? e.stack : String(e), requestId: ctx.requestId });
      err = s3err('InternalError');
    }
    const { res, req } = ctx;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const extra = Object.entries(err.extra)
      .map(([k, v]) => el(k, v))
      .join('');
    const body = doc(
      'Error',
      el('Code', err.code) + el('Message', err.message) + extra + el('Resource', ctx.resource) + el('RequestId', ctx.requestId) + el('HostId', ctx.hostId),
      false,
    );
    const buf = Buffer.from(body);
    const headers: Record<string, string> = {
      ...this.safeCors(ctx),
      ...err.headers,
      'Content-Type': 'application/xml',
      'Content-Length': String(buf.length),
    };
    // A request body that was never read: drain a small one so the client sees the answer; close on a big one.
    const unread = !req.readableEnded && !req.destroyed;
    const declared = Number(req.headers['content-length'] ?? (req.headers['transfer-encoding'] ? Infinity : 0));
    if (unread && declared > 1024 * 1024) headers['Connection'] = 'close';
    res.writeHead(err.status, headers);
    if (req.method === 'HEAD' || err.status === 304) res.end();
    else res.end(buf);
  }

  private safeCors(ctx: Ctx): Record<string, string> {
    try {
      return this.corsFor(ctx);
    } catch {
      return {};
    }
  }

  // ------------------------------------------------------------------------------------------------ CORS
  private preflight(ctx: Ctx): void {
    const origin = ctx.req.headers.origin;
    const reqMethod = ctx.req.headers['access-control-request-method'] as string | undefined;
    if (!ctx.bucket) throw s3err('AccessDenied');
    if (!origin || !reqMethod) {
      throw s3err('BadRequest', 'Insufficient information. Origin request header needed.');
    }
    const cfg = this.store.bucket(ctx.bucket);
    if (!cfg.cors) throw new S3Error('AccessForbidden', 403, 'CORSResponse: CORS is not enabled for this bucket.', { Method: reqMethod, ResourceType: ctx.key ? 'OBJECT' : 'BUCKET' });
    const reqHeaders = ((ctx.req.headers['access-control-request-headers'] as string | undefined) ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    const rule = matchCors(cfg.cors, origin, reqMethod, reqHeaders);
    if (!rule) throw new S3Error('AccessForbidden', 403, 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.', { Method: reqMethod, ResourceType: ctx.key ? 'OBJECT' : 'BUCKET' });
    ctx.corsOrigin = undefined;
    ctx.res.writeHead(200, { ...corsHeaders(rule, origin, { headers: reqHeaders }), 'Content-Length': '0' });
    ctx.res.end();
  }

  private async putCors(ctx: Ctx): Promise<void> {
    this.store.bucket(ctx.bucket);
    const rules = parseCors(await this.readXmlBody(ctx, true));
    await this.store.updateBucketConfig(ctx.bucket, (c) => (c.cors = rules));
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  }

  private getCors(ctx: Ctx): void {
    const cfg = this.store.bucket(ctx.bucket);
    if (!cfg.cors) throw s3err('NoSuchCORSConfiguration', undefined, { BucketName: ctx.bucket });
    this.sendXml(ctx, 200, doc('CORSConfiguration', corsXml(cfg.cors)));
  }

  private async deleteCors(ctx: Ctx): Promise<void> {
    await this.store.updateBucketConfig(ctx.bucket, (c) => delete c.cors);
    ctx.res.writeHead(204);
    ctx.res.end();
  }

  // ------------------------------------------------------------------------------------------------ notifications
  private async putNotification(ctx: Ctx): Promise<void> {
    this.store.bucket(ctx.bucket);
    const targets = parseNotificationConfig(await this.readXmlBody(ctx, false));
    await this.store.updateBucketConfig(ctx.bucket, (c) => {
      if (targets.length) c.notifications = targets;
      else delete c.notifications;
    });
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  }

  private getNotification(ctx: Ctx): void {
    const cfg = this.store.bucket(ctx.bucket);
    this.sendXml(ctx, 200, doc('NotificationConfiguration', notificationXml(cfg.notifications ?? [])));
  }

  /**
   * The event notification of a commit: written as pending under the key's lock before the commit becomes visible
   * (a failure to write it fails the request), published right after it (see EventHook and Notifier.prepare).
   */
  events(ctx: Ctx, bucket: string, key: string, eventName: string): EventHook {
    return async (current, next) => {
      const cfg = this.store.hasBucket(bucket) ? this.store.bucket(bucket) : undefined;
      const ev: EventInput = {
        key,
        eventName,
        bucket,
        principal: ctx.auth?.accessKeyId ?? 'anonymous',
        sourceIp: ctx.req.socket.remoteAddress ?? '',
        requestId: ctx.requestId,
        hostId: ctx.hostId,
      };
      if (next) {
        ev.size = next.size;
        ev.etag = next.etag;
      }
      const marker: EventMarker = next ? { bucket, key, kind: 'created', version: next.version } : { bucket, key, kind: 'removed', version: current?.version ?? '' };
      return this.notifier.prepare(cfg?.notifications, [ev], marker);
    };
  }

  // ------------------------------------------------------------------------------------------------ buckets
  private listBuckets(ctx: Ctx): void {
    const buckets = this.store
      .listBuckets()
      .map((b) => `<Bucket>${el('Name', b.name)}${el('CreationDate', isoDate(b.created))}</Bucket>`)
      .join('');
    this.sendXml(ctx, 200, doc('ListAllMyBucketsResult', `<Owner>${el('ID', this.ownerId)}${el('DisplayName', ctx.auth?.accessKeyId)}</Owner><Buckets>${buckets}</Buckets>`));
  }

  private async createBucket(ctx: Ctx): Promise<void> {
    const body = await readSmallBody(ctx.req, 64 * 1024);
    // a signed payload hash covers this body too
    const signedHash = ctx.auth!.payloadHash;
    if (/^[0-9a-f]{64}$/.test(signedHash) && sha256hex(body) !== signedHash) {
      throw s3err('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: signedHash, S3ComputedContentSHA256: sha256hex(body) });
    }
    if (body.length) {
      const root = parseXml(body, 'CreateBucketConfiguration');
      const lc = text(root, 'LocationConstraint');
      if (lc && lc !== this.opts.region) {
        throw s3err('IllegalLocationConstraintException', `The ${lc} location constraint is incompatible for the region specific endpoint this request was sent to.`);
      }
    }
    await this.store.createBucket(ctx.bucket, this.opts.now());
    ctx.res.writeHead(200, { Location: `/${ctx.bucket}`, 'Content-Length': '0' });
    ctx.res.end();
  }

  private getLocation(ctx: Ctx): void {
    this.store.bucket(ctx.bucket);
    this.sendXml(ctx, 200, doc('LocationConstraint', this.opts.region === 'us-east-1' ? '' : esc(this.opts.region)));
  }

  // ------------------------------------------------------------------------------------------------ objects
  private async putObject(ctx: Ctx): Promise<void> {
    const { req } = ctx;
    this.store.bucket(ctx.bucket);
    const cond = writeCondition(req.headers);
    cond?.(this.store.head(ctx.bucket, ctx.key));
    const maxPut = Math.min(MAX_PUT, this.opts.maxObjectSize);
    const plan = planBody(req, ctx.auth!, maxPut);
    const { headers, userMeta } = collectHeaders(headerGetter(req), Object.keys(req.headers));
    const tmp = this.store.tmpFile();
    const body = await receiveBody(req, ctx.auth!, plan, tmp, maxPut);
    const file = await this.store.adoptTemp(ctx.bucket, tmp);
    const meta: ObjectMeta = {
      key: ctx.key,
      size: body.size,
      etag: md5Etag(body.md5),
      lastModified: this.opts.now(),
      headers,
      userMeta,
      checksum: body.checksum ? { ...body.checksum, type: 'FULL_OBJECT' } : undefined,
      segments: [{ file, size: body.size }],
      version: randomBytes(8).toString('hex'),
    };
    await this.store.commit(ctx.bucket, meta, cond, this.events(ctx, ctx.bucket, ctx.key, 'ObjectCreated:Put'));
    const out: Record<string, string> = { ...this.corsFor(ctx), ETag: quoteEtag(meta.etag), 'Content-Length': '0' };
    if (meta.checksum) {
      out[checksumHeader(meta.checksum.alg)] = meta.checksum.value;
      out['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    ctx.res.writeHead(200, out);
    ctx.res.end();
  }

  private async getObject(ctx: Ctx, head: boolean): Promise<void> {
    const { req, res, query } = ctx;
    this.store.bucket(ctx.bucket);
    const meta = this.store.head(ctx.bucket, ctx.key);
    if (!meta) {
      if (head) throw new S3Error('NoSuchKey', 404, 'Not Found');
      throw s3err('NoSuchKey', undefined, { Key: ctx.key });
    }
    const cond = checkReadConditions(req.headers, meta);
    if (cond === 412) throw s3err('PreconditionFailed', undefined, { Condition: req.headers['if-match'] !== undefined ? 'If-Match' : 'If-Unmodified-Since' });
    if (cond === 304) {
      res.writeHead(304, { ...this.corsFor(ctx), ETag: quoteEtag(meta.etag), 'Last-Modified': httpDate(meta.lastModified) });
      res.end();
      return;
    }
    let partNumber: number | undefined;
    if (query.has('partNumber')) {
      const pn = query.get('partNumber')!;
      if (!/^\d+$/.test(pn) || +pn < 1 || +pn > MAX_PARTS) throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: pn });
      partNumber = +pn;
      if (req.headers.range !== undefined) throw s3err('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    }
    const checksumMode = (req.headers['x-amz-checksum-mode'] as string | undefined)?.toUpperCase() === 'ENABLED';
    const headers = objectResponseHeaders(meta, checksumMode);
    for (const [q, h] of [
      ['response-content-type', 'Content-Type'],
      ['response-content-disposition', 'Content-Disposition'],
      ['response-cache-control', 'Cache-Control'],
      ['response-content-encoding', 'Content-Encoding'],
      ['response-content-language', 'Content-Language'],
      ['response-expires', 'Expires'],
    ] as const) {
      const v = query.get(q);
      if (v !== undefined) headers[h] = v;
    }
    const size = meta.size;
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (partNumber !== undefined) {
      // a part of a multipart object (or part 1 of a simple object)
      const segs = meta.partsCount ? meta.segments : [{ file: '', size }];
      if (partNumber > segs.length) throw s3err('InvalidPartNumber', 'The requested partnumber is not satisfiable', {}, { 'Content-Range': `bytes */${size}` });
      for (let i = 0; i < partNumber - 1; i++) start += segs[i].size;
      end = start + segs[partNumber - 1].size - 1;
      if (meta.partsCount) {
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      }
      delete headers[checksumHeader(meta.checksum?.alg ?? 'CRC32')];
    } else {
      const range = req.headers.range;
      const r = range ? parseRange(range, size) : undefined;
      if (r === 'unsatisfiable') {
        throw s3err('InvalidRange', undefined, { RangeRequested: range ?? '', ActualObjectSize: String(size) }, { 'Content-Range': `bytes */${size}` });
      }
      if (r) {
        [start, end] = r;
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
        if (meta.checksum) {
          delete headers[checksumHeader(meta.checksum.alg)];
          delete headers['x-amz-checksum-type'];
        }
      }
    }
    const length = end - start + 1;
    headers['Content-Length'] = String(Math.max(0, length));
    Object.assign(headers, this.corsFor(ctx));
    if (head || length <= 0) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const release = this.store.acquire(ctx.bucket, meta);
    try {
      res.writeHead(status, headers);
      const files = meta.segments.map((s) => ({ path: this.store.dataPath(ctx.bucket, s.file), size: s.size }));
      if (files.length === 1) {
        await pipeline(createReadStream(files[0].path, { start, end, highWaterMark: READ_HWM }), res);
      } else {
        await pipeline(Readable.from(readSegments(files, start, end)), res);
      }
    } catch (e) {
      if (!res.headersSent) throw e;
      res.destroy();
    } finally {
      release();
    }
  }

  private async deleteObject(ctx: Ctx): Promise<void> {
    this.store.bucket(ctx.bucket);
    await this.store.deleteObject(ctx.bucket, ctx.key, this.events(ctx, ctx.bucket, ctx.key, 'ObjectRemoved:Delete'));
    ctx.res.writeHead(204, this.corsFor(ctx));
    ctx.res.end();
  }

  /** Reads a small XML body, verifying Content-MD5 / x-amz-checksum-* / the signed payload hash when present. */
  private async readXmlBody(ctx: Ctx, requireDigest: boolean): Promise<Buffer> {
    const { req } = ctx;
    const tmpPlan = planBody(req, ctx.auth!, 4 * 1024 * 1024);
    if (requireDigest && !tmpPlan.contentMd5 && !(tmpPlan.checksum && tmpPlan.checksum.expected) && !tmpPlan.checksum?.trailer) {
      throw s3err('InvalidRequest', 'Missing required header for this request: Content-MD5');
    }
    // Kept in memory (≤ 4 MiB): the same length and digest checks as an object body, without a temp file round trip.
    return (await receiveBodyToBuffer(req, ctx.auth!, tmpPlan, 4 * 1024 * 1024)).body;
  }

  private async deleteObjects(ctx: Ctx): Promise<void> {
    this.store.bucket(ctx.bucket);
    const root = parseXml(await this.readXmlBody(ctx, true), 'Delete');
    const quiet = text(root, 'Quiet')?.trim().toLowerCase() === 'true';
    const objects = list(root, 'Object') as XmlNode[];
    if (objects.length === 0 || objects.length > 1000) throw s3err('MalformedXML');
    // The whole document is validated before any key is deleted: a malformed entry fails the request with nothing done.
    const keys = objects.map((o) => {
      const key = text(o, 'Key');
      if (key === undefined || key === '') throw s3err('MalformedXML');
      return key;
    });
    // Keys are deleted concurrently (bounded), each under its own key lock in the store — a key named twice is
    // deleted once and reported twice, as with sequential deletes. Results and events keep the request's order.
    const results: Array<{ removed: boolean } | S3Error> = new Array(keys.length);
    // The events of the keys that exist are written as pending first, in request order (so their sequencers and
    // deliveries follow the request); each is published if its key was removed, dropped otherwise.
    const prepared: Array<Awaited<ReturnType<EventHook>> | undefined> = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const current = Buffer.byteLength(keys[i]!) <= 1024 ? this.store.head(ctx.bucket, keys[i]!) : undefined;
      if (current) prepared[i] = await this.events(ctx, ctx.bucket, keys[i]!, 'ObjectRemoved:Delete')(current, undefined);
    }
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        const key = keys[i]!;
        try {
          if (Buffer.byteLength(key) > 1024) throw s3err('KeyTooLongError');
          results[i] = { removed: (await this.store.deleteObject(ctx.bucket, key)) !== undefined };
        } catch (e) {
          results[i] = e instanceof S3Error ? e : s3err('InternalError');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
    for (let i = 0; i < keys.length; i++) {
      const r = results[i]!;
      const removed = !(r instanceof S3Error) && r.removed;
      try {
        if (removed) {
          // a key created after the pending events were written has none yet
          const p = prepared[i] ?? (await this.events(ctx, ctx.bucket, keys[i]!, 'ObjectRemoved:Delete')(undefined, undefined));
          await p.promote();
        } else await prepared[i]?.discard();
      } catch (e) {
        this.log('error', 'objectstore: could not publish event notifications; they stay pending until the next start', { err: String(e) });
      }
    }
    let out = '';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const r = results[i]!;
      if (r instanceof S3Error) {
        out += `<Error>${el('Key', key)}${el('Code', r.code)}${el('Message', r.message)}</Error>`;
        continue;
      }
      if (!quiet) out += `<Deleted>${el('Key', key)}</Deleted>`;
    }
    this.sendXml(ctx, 200, doc('DeleteResult', out));
  }

  private async copyObject(ctx: Ctx): Promise<void> {
    const { req } = ctx;
    this.store.bucket(ctx.bucket);
    let src = String(req.headers['x-amz-copy-source']);
    const vi = src.indexOf('?');
    if (vi >= 0) src = src.slice(0, vi);
    src = safeDecode(src);
    if (src.startsWith('/')) src = src.slice(1);
    const si = src.indexOf('/');
    if (si <= 0 || si === src.length - 1) throw s3err('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
    const srcBucket = src.slice(0, si);
    const srcKey = src.slice(si + 1);
    this.store.bucket(srcBucket);
    const source = this.store.head(srcBucket, srcKey);
    if (!source) throw s3err('NoSuchKey', undefined, { Key: srcKey });
    const h = req.headers;
    const lm = Math.floor(source.lastModified / 1000) * 1000;
    const cim = h['x-amz-copy-source-if-match'] as string | undefined;
    const cinm = h['x-amz-copy-source-if-none-match'] as string | undefined;
    const cims = parseHttpDate(h['x-amz-copy-source-if-modified-since'] as string | undefined);
    const cius = parseHttpDate(h['x-amz-copy-source-if-unmodified-since'] as string | undefined);
    if (cim !== undefined && !etagMatches(cim, source.etag)) throw s3err('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-Match' });
    if (cim === undefined && cius !== undefined && lm > cius) throw s3err('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-Unmodified-Since' });
    if (cinm !== undefined && etagMatches(cinm, source.etag)) throw s3err('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-None-Match' });
    if (cinm === undefined && cims !== undefined && lm <= cims) throw s3err('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-Modified-Since' });
    if (source.size > MAX_PUT) {
      throw s3err('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT}`);
    }
    const directive = ((h['x-amz-metadata-directive'] as string | undefined) ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw s3err('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' });
    if (srcBucket === ctx.bucket && srcKey === ctx.key && directive === 'COPY') {
      throw s3err('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
    }
    const cond = writeCondition(h);
    cond?.(this.store.head(ctx.bucket, ctx.key));
    const { headers, userMeta } = directive === 'REPLACE' ? collectHeaders(headerGetter(req), Object.keys(h)) : { headers: source.headers, userMeta: source.userMeta };
    const release = this.store.acquire(srcBucket, source);
    let meta: ObjectMeta;
    try {
      const segments = [];
      try {
        for (const s of source.segments) segments.push({ file: await this.store.linkData(ctx.bucket, this.store.dataPath(srcBucket, s.file)), size: s.size });
      } catch (e) {
        for (const s of segments) await (await import('node:fs')).promises.rm(this.store.dataPath(ctx.bucket, s.file), { force: true });
        throw e;
      }
      let etag = source.etag;
      let checksum = source.checksum;
      if (source.partsCount) {
        // a copy is a single-part object: its ETag is the MD5 of the bytes (and a composite checksum becomes full-object)
        const md5 = createHash('md5');
        const hasher = checksum ? newHasher(checksum.alg) : undefined;
        for await (const c of readSegments(source.segments.map((s) => ({ path: this.store.dataPath(srcBucket, s.file), size: s.size })), 0, source.size - 1)) {
          md5.update(c);
          hasher?.update(c);
        }
        etag = md5.digest('hex');
        if (checksum && hasher) checksum = { alg: checksum.alg, value: hasher.digest().toString('base64'), type: 'FULL_OBJECT' };
      }
      meta = {
        key: ctx.key,
        size: source.size,
        etag,
        lastModified: this.opts.now(),
        headers,
        userMeta,
        checksum,
        segments,
        version: randomBytes(8).toString('hex'),
      };
    } finally {
      release();
    }
    await this.store.commit(ctx.bucket, meta, cond, this.events(ctx, ctx.bucket, ctx.key, 'ObjectCreated:Copy'));
    const cs = meta.checksum ? el(`Checksum${meta.checksum.alg}`, meta.checksum.value) : '';
    this.sendXml(ctx, 200, doc('CopyObjectResult', el('LastModified', isoDate(meta.lastModified)) + el('ETag', quoteEtag(meta.etag)) + cs));
  }

  // ------------------------------------------------------------------------------------------------ listing
  private listObjects(ctx: Ctx, v2: boolean): void {
    const q = ctx.query;
    this.store.bucket(ctx.bucket);
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const encodingType = q.get('encoding-type');
    if (encodingType !== undefined && encodingType !== 'url') throw s3err('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: encodingType });
    const enc = (s: string) => (encodingType === 'url' ? encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+') : s);
    const maxRaw = q.get('max-keys');
    if (maxRaw !== undefined && !/^\d+$/.test(maxRaw)) throw s3err('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: maxRaw });
    const maxKeys = Math.min(1000, maxRaw === undefined ? 1000 : Number(maxRaw));
    let after: string | undefined;
    const token = q.get('continuation-token');
    if (v2) {
      if (token !== undefined) {
        try {
          const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
          if (typeof parsed.k !== 'string') throw new Error('bad');
          after = parsed.k;
        } catch {
          throw s3err('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
        }
      } else after = q.get('start-after');
    } else after = q.get('marker');
    let lastCp: string | undefined;
    if (delimiter && after !== undefined && after.startsWith(prefix) && after.endsWith(delimiter) && after.slice(prefix.length).indexOf(delimiter) === after.length - prefix.length - delimiter.length) {
      lastCp = after;
    }
    const contents: ObjectMeta[] = [];
    const prefixes: string[] = [];
    let truncated = false;
    let lastEmitted: string | undefined;
    let count = 0;
    if (maxKeys > 0) {
      for (const m of this.store.iterateKeys(ctx.bucket, prefix, after)) {
        let cp: string | undefined;
        if (delimiter) {
          const i = m.key.indexOf(delimiter, prefix.length);
          if (i >= 0) cp = m.key.slice(0, i + delimiter.length);
        }
        if (cp !== undefined && cp === lastCp) continue;
        if (count >= maxKeys) {
          truncated = true;
          break;
        }
        if (cp !== undefined) {
          prefixes.push(cp);
          lastCp = cp;
          lastEmitted = cp;
        } else {
          contents.push(m);
          lastEmitted = m.key;
        }
        count++;
      }
    }
    const owner = `<Owner>${el('ID', this.ownerId)}${el('DisplayName', ctx.auth?.accessKeyId)}</Owner>`;
    const withOwner = !v2 || q.get('fetch-owner') === 'true';
    const items = contents
      .map(
        (m) =>
          `<Contents>${el('Key', enc(m.key))}${el('LastModified', isoDate(m.lastModified))}${el('ETag', quoteEtag(m.etag))}${
            m.checksum ? el('ChecksumAlgorithm', m.checksum.alg) + el('ChecksumType', m.checksum.type) : ''
          }${el('Size', m.size)}${withOwner ? owner : ''}<StorageClass>STANDARD</StorageClass></Contents>`,
      )
      .join('');
    const cps = prefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('');
    let inner = el('Name', ctx.bucket) + el('Prefix', enc(prefix));
    if (v2) {
      inner += token !== undefined ? el('ContinuationToken', token) : '';
      inner += q.has('start-after') ? el('StartAfter', enc(q.get('start-after')!)) : '';
      inner += el('KeyCount', count) + el('MaxKeys', maxKeys);
      if (delimiter) inner += el('Delimiter', enc(delimiter));
      inner += el('IsTruncated', truncated);
      if (truncated && lastEmitted !== undefined) inner += el('NextContinuationToken', Buffer.from(JSON.stringify({ k: lastEmitted })).toString('base64url'));
    } else {
      inner += el('Marker', enc(q.get('marker') ?? '')) + el('MaxKeys', maxKeys);
      if (delimiter) inner += el('Delimiter', enc(delimiter));
      inner += el('IsTruncated', truncated);
      if (truncated && delimiter && lastEmitted !== undefined) inner += el('NextMarker', enc(lastEmitted));
    }
    if (encodingType) inner += el('EncodingType', encodingType);
    this.sendXml(ctx, 200, doc('ListBucketResult', inner + items + cps));
  }

  // ------------------------------------------------------------------------------------------------ multipart
  private async createUpload(ctx: Ctx): Promise<void> {
    const { req } = ctx;
    this.store.bucket(ctx.bucket);
    const algRaw = req.headers['x-amz-checksum-algorithm'] as string | undefined;
    const alg = algRaw === undefined ? undefined : parseAlgorithm(algRaw);
    if (algRaw !== undefined && !alg) throw s3err('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, SHA1, SHA256]');
    const ct = (req.headers['x-amz-checksum-type'] as string | undefined)?.toUpperCase();
    if (ct !== undefined && ct !== 'COMPOSITE') throw s3err('InvalidRequest', 'Only the COMPOSITE checksum type is supported for multipart uploads by this server.');
    const { headers, userMeta } = collectHeaders(headerGetter(req), Object.keys(req.headers));
    const u = await this.store.createUpload({ bucket: ctx.bucket, key: ctx.key, initiated: this.opts.now(), headers, userMeta, checksumAlgorithm: alg });
    const extra: Record<string, string> = {};
    if (alg) {
      extra['x-amz-checksum-algorithm'] = alg;
      extra['x-amz-checksum-type'] = 'COMPOSITE';
    }
    this.sendXml(ctx, 200, doc('InitiateMultipartUploadResult', el('Bucket', ctx.bucket) + el('Key', ctx.key) + el('UploadId', u.uploadId)), extra);
  }

  private partNumber(ctx: Ctx): number {
    const pn = ctx.query.get('partNumber');
    if (pn === undefined || !/^\d+$/.test(pn) || +pn < 1 || +pn > MAX_PARTS) {
      throw s3err('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: String(pn) });
    }
    return +pn;
  }

  private async uploadPart(ctx: Ctx): Promise<void> {
    const { req } = ctx;
    const partNumber = this.partNumber(ctx);
    const uploadId = ctx.query.get('uploadId') ?? '';
    const upload = this.store.getUpload(ctx.bucket, ctx.key, uploadId);
    const max = Math.min(MAX_PART, this.opts.maxObjectSize);
    const plan = planBody(req, ctx.auth!, max, { checksumAlgorithm: upload.meta.checksumAlgorithm });
    // an upload created without a checksum algorithm takes no part checksums (AWS: "expected checksum Type: null")
    if (plan.checksum && plan.checksum.alg !== upload.meta.checksumAlgorithm) {
      throw s3err('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${upload.meta.checksumAlgorithm?.toLowerCase() ?? 'null'}, actual checksum Type: ${plan.checksum.alg.toLowerCase()}`);
    }
    const tmp = this.store.tmpFile();
    const body = await receiveBody(req, ctx.auth!, plan, tmp, max);
    const etag = md5Etag(body.md5);
    try {
      await this.store.commitPart(ctx.bucket, ctx.key, uploadId, tmp, {
        partNumber,
        size: body.size,
        etag,
        lastModified: this.opts.now(),
        checksum: body.checksum,
      });
    } catch (e) {
      const { promises: fsp } = await import('node:fs');
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    const out: Record<string, string> = { ...this.corsFor(ctx), ETag: quoteEtag(etag), 'Content-Length': '0' };
    if (body.checksum) out[checksumHeader(body.checksum.alg)] = body.checksum.value;
    ctx.res.writeHead(200, out);
    ctx.res.end();
  }

  private listParts(ctx: Ctx): void {
    const q = ctx.query;
    const uploadId = q.get('uploadId') ?? '';
    const u = this.store.getUpload(ctx.bucket, ctx.key, uploadId);
    const maxRaw = q.get('max-parts');
    if (maxRaw !== undefined && !/^\d+$/.test(maxRaw)) throw s3err('InvalidArgument', 'Provided max-parts not an integer or within integer range', { ArgumentName: 'max-parts', ArgumentValue: maxRaw });
    const maxParts = Math.min(1000, maxRaw === undefined ? 1000 : Number(maxRaw));
    const markerRaw = q.get('part-number-marker');
    if (markerRaw !== undefined && !/^\d+$/.test(markerRaw)) throw s3err('InvalidArgument', 'Provided part-number-marker not an integer or within integer range', { ArgumentName: 'part-number-marker', ArgumentValue: markerRaw });
    const marker = Number(markerRaw ?? 0);
    const all = [...u.parts.values()].filter((p) => p.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    const owner = `${el('ID', this.ownerId)}${el('DisplayName', ctx.auth?.accessKeyId)}`;
    let inner =
      el('Bucket', ctx.bucket) +
      el('Key', ctx.key) +
      el('UploadId', uploadId) +
      `<Initiator>${owner}</Initiator><Owner>${owner}</Owner><StorageClass>STANDARD</StorageClass>` +
      el('PartNumberMarker', marker) +
      el('NextPartNumberMarker', page.length ? page[page.length - 1].partNumber : marker) +
      el('MaxParts', maxParts) +
      el('IsTruncated', truncated);
    if (u.meta.checksumAlgorithm) inner += el('ChecksumAlgorithm', u.meta.checksumAlgorithm) + el('ChecksumType', 'COMPOSITE');
    inner += page
      .map(
        (p) =>
          `<Part>${el('PartNumber', p.partNumber)}${el('LastModified', isoDate(p.lastModified))}${el('ETag', quoteEtag(p.etag))}${el('Size', p.size)}${
            p.checksum ? el(`Checksum${p.checksum.alg}`, p.checksum.value) : ''
          }</Part>`,
      )
      .join('');
    this.sendXml(ctx, 200, doc('ListPartsResult', inner));
  }

  private async abortUpload(ctx: Ctx): Promise<void> {
    await this.store.abortUpload(ctx.bucket, ctx.key, ctx.query.get('uploadId') ?? '');
    ctx.res.writeHead(204, this.corsFor(ctx));
    ctx.res.end();
  }

  private async completeUpload(ctx: Ctx): Promise<void> {
    const uploadId = ctx.query.get('uploadId') ?? '';
    this.store.getUpload(ctx.bucket, ctx.key, uploadId);
    const cond = writeCondition(ctx.req.headers);
    const root = parseXml(await this.readXmlBody(ctx, false), 'CompleteMultipartUpload');
    const requested = (list(root, 'Part') as XmlNode[]).map((p) => {
      const pn = text(p, 'PartNumber')?.trim();
      const etag = text(p, 'ETag');
      if (!pn || !/^\d+$/.test(pn) || etag === undefined) throw s3err('MalformedXML');
      const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
      for (const alg of CHECKSUM_ALGORITHMS) {
        const v = text(p, `Checksum${alg}`);
        if (v !== undefined) checksums[alg] = v.trim();
      }
      return { partNumber: Number(pn), etag: normEtag(etag), checksums };
    });
    if (requested.length === 0) throw s3err('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    const minPart = this.opts.minPartSize;
    const maxObject = this.opts.maxObjectSize;
    const meta = await this.store.completeUpload(
      ctx.bucket,
      ctx.key,
      uploadId,
      (u) => {
        const chosen: PartMeta[] = [];
        let prev = 0;
        for (const r of requested) {
          if (r.partNumber <= prev) throw s3err('InvalidPartOrder', undefined, { UploadId: uploadId });
          prev = r.partNumber;
        }
        // As AWS: an upload created with a checksum algorithm must name each part's checksum in the request.
        const required = u.meta.checksumAlgorithm;
        if (required) {
          const missing = requested.find((r) => r.checksums[required] === undefined);
          if (missing) {
            throw s3err(
              'InvalidRequest',
              `The upload was created using a ${required.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${missing.partNumber} in the request.`,
            );
          }
        }
        for (const r of requested) {
          const p = u.parts.get(r.partNumber);
          if (!p || p.etag !== r.etag) throw s3err('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(r.partNumber), ETag: r.etag });
          for (const [alg, v] of Object.entries(r.checksums)) {
            if (!p.checksum || p.checksum.alg !== alg || p.checksum.value !== v) {
              throw s3err('InvalidPart', undefined, { UploadId: uploadId, PartNumber: String(r.partNumber), ETag: r.etag });
            }
          }
          chosen.push(p);
        }
        for (let i = 0; i < chosen.length - 1; i++) {
          if (chosen[i].size < minPart) {
            throw s3err('EntityTooSmall', undefined, {
              UploadId: uploadId,
              PartNumber: String(chosen[i].partNumber),
              ProposedSize: String(chosen[i].size),
              MinSizeAllowed: String(minPart),
              ETag: chosen[i].etag,
            });
          }
        }
        const total = chosen.reduce((a, p) => a + p.size, 0);
        if (total > maxObject) throw s3err('EntityTooLarge', undefined, { ProposedSize: String(total), MaxSizeAllowed: String(maxObject) });
        const md5 = createHash('md5');
        for (const p of chosen) md5.update(Buffer.from(p.etag, 'hex'));
        const etag = `${md5.digest('hex')}-${chosen.length}`;
        let checksum: ObjectMeta['checksum'];
        const alg = u.meta.checksumAlgorithm;
        if (alg) {
          const h = newHasher(alg);
          for (const p of chosen) {
            if (!p.checksum || !validChecksumValue(alg, p.checksum.value)) throw s3err('InvalidPart', `Part ${p.partNumber} has no ${alg} checksum`);
            h.update(Buffer.from(p.checksum.value, 'base64'));
          }
          checksum = { alg, value: `${h.digest().toString('base64')}-${chosen.length}`, type: 'COMPOSITE' };
        }
        return {
          meta: {
            key: ctx.key,
            size: total,
            etag,
            lastModified: this.opts.now(),
            headers: u.meta.headers,
            userMeta: u.meta.userMeta,
            checksum,
            partsCount: chosen.length,
            version: randomBytes(8).toString('hex'),
          },
          parts: chosen,
        };
      },
      (cur) => cond?.(cur),
      this.events(ctx, ctx.bucket, ctx.key, 'ObjectCreated:CompleteMultipartUpload'),
    );
    const host = ctx.req.headers.host ?? 'localhost';
    const inner =
      el('Location', `http://${host}/${ctx.bucket}/${encodeURI(ctx.key)}`) +
      el('Bucket', ctx.bucket) +
      el('Key', ctx.key) +
      el('ETag', quoteEtag(meta.etag)) +
      (meta.checksum ? el(`Checksum${meta.checksum.alg}`, meta.checksum.value) + el('ChecksumType', 'COMPOSITE') : '');
    this.sendXml(ctx, 200, doc('CompleteMultipartUploadResult', inner));
  }

  private listUploads(ctx: Ctx): void {
    const q = ctx.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const keyMarker = q.get('key-marker');
    const uploadIdMarker = q.get('upload-id-marker');
    const maxRaw = q.get('max-uploads');
    if (maxRaw !== undefined && !/^\d+$/.test(maxRaw)) throw s3err('InvalidArgument', 'Provided max-uploads not an integer or within integer range', { ArgumentName: 'max-uploads', ArgumentValue: maxRaw });
    const max = Math.min(1000, maxRaw === undefined ? 1000 : Number(maxRaw));
    const encodingType = q.get('encoding-type');
    const enc = (s: string) => (encodingType === 'url' ? encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+') : s);
    const all = this.store.listUploads(ctx.bucket).filter((u) => u.meta.key.startsWith(prefix));
    let startIdx = 0;
    if (keyMarker !== undefined && keyMarker !== '') {
      startIdx = all.findIndex((u) => {
        if (uploadIdMarker) {
          return u.meta.key > keyMarker || (u.meta.key === keyMarker && u.meta.uploadId > uploadIdMarker);
        }
        return u.meta.key > keyMarker;
      });
      if (startIdx < 0) startIdx = all.length;
    }
    const items: string[] = [];
    const cps: string[] = [];
    let lastCp: string | undefined;
    let truncated = false;
    let nextKey = '';
    let nextId = '';
    let count = 0;
    for (let i = startIdx; i < all.length; i++) {
      const u = all[i].meta;
      let cp: string | undefined;
      if (delimiter) {
        const j = u.key.indexOf(delimiter, prefix.length);
        if (j >= 0) cp = u.key.slice(0, j + delimiter.length);
      }
      if (cp !== undefined && cp === lastCp) continue;
      if (count >= max) {
        truncated = true;
        break;
      }
      count++;
      if (cp !== undefined) {
        cps.push(`<CommonPrefixes>${el('Prefix', enc(cp))}</CommonPrefixes>`);
        lastCp = cp;
        nextKey = cp;
        nextId = '';
        continue;
      }
      const owner = `${el('ID', this.ownerId)}${el('DisplayName', ctx.auth?.accessKeyId)}`;
      items.push(
        `<Upload>${el('Key', enc(u.key))}${el('UploadId', u.uploadId)}<Initiator>${owner}</Initiator><Owner>${owner}</Owner><StorageClass>STANDARD</StorageClass>${el('Initiated', isoDate(u.initiated))}${
          u.checksumAlgorithm ? el('ChecksumAlgorithm', u.checksumAlgorithm) : ''
        }</Upload>`,
      );
      nextKey = u.key;
      nextId = u.uploadId;
    }
    let inner = el('Bucket', ctx.bucket) + el('KeyMarker', keyMarker ?? '') + el('UploadIdMarker', uploadIdMarker ?? '');
    if (truncated) inner += el('NextKeyMarker', enc(nextKey)) + el('NextUploadIdMarker', nextId);
    inner += el('Prefix', enc(prefix));
    if (delimiter) inner += el('Delimiter', enc(delimiter));
    inner += el('MaxUploads', max) + el('IsTruncated', truncated);
    if (encodingType) inner += el('EncodingType', encodingType);
    this.sendXml(ctx, 200, doc('ListMultipartUploadsResult', inner + items.join('') + cps.join('')));
  }
}

/** Parses a single `bytes=` range: [start, end] inclusive, 'unsatisfiable', or undefined (ignore the header). */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  if (end >= size) end = size - 1;
  return [start, end];
}

async function* readSegments(files: Array<{ path: string; size: number }>, start: number, end: number): AsyncGenerator<Buffer> {
  let offset = 0;
  for (const f of files) {
    const segStart = offset;
    const segEnd = offset + f.size - 1;
    offset += f.size;
    if (segEnd < start || f.size === 0) continue;
    if (segStart > end) break;
    const s = Math.max(start, segStart) - segStart;
    const e = Math.min(end, segEnd) - segStart;
    for await (const c of createReadStream(f.path, { start: s, end: e, highWaterMark: READ_HWM })) yield c as Buffer;
  }
}

export async function startObjectStore(opts: ObjectStoreOptions): Promise<ObjectStore> {
  return new S3Server(opts).start();
}
