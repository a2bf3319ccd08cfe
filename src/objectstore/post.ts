import { randomBytes } from 'node:crypto';
import { receiveStream } from './body.ts';
import { S3Error, s3err } from './errors.ts';
import { type Ctx, type S3Server, collectHeaders, quoteEtag } from './server.ts';
import { hmacHex, parseAmzDate, sigEqual, signingKey } from './sigv4.ts';
import type { ObjectMeta } from './store.ts';
import { doc, el } from './xml.ts';

const MAX_FIELD = 20 * 1024;
/** Everything before the file part (part headers, names and values) counts toward this cap: it is read before the
 * signature can be checked, i.e. from anyone. */
const MAX_FIELDS_TOTAL = 256 * 1024;
const MAX_FIELD_COUNT = 1000;
const MAX_PART_HEADERS = 8 * 1024;
const MAX_PUT = 5 * 1024 ** 3;

/** Pull-based reader over the request body for multipart/form-data parsing. */
class FormReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private it: AsyncIterator<Buffer>;
  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.fill())) throw s3err('MalformedPOSTRequest');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async readUntil(delim: Buffer, max: number): Promise<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(delim);
      if (i >= 0) {
        const out = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + delim.length);
        return out;
      }
      if (this.buf.length > max + delim.length) throw s3err('MalformedPOSTRequest', 'A form field is too large');
      if (!(await this.fill())) throw s3err('MalformedPOSTRequest');
    }
  }
  async *streamUntil(delim: Buffer): AsyncGenerator<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(delim);
      if (i >= 0) {
        if (i > 0) yield this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + delim.length);
        return;
      }
      const safe = this.buf.length - (delim.length - 1);
      if (safe > 0) {
        const out = this.buf.subarray(0, safe);
        this.buf = this.buf.subarray(safe);
        yield out;
      }
      if (!(await this.fill())) throw s3err('MalformedPOSTRequest', 'The body of your POST request ended before the file');
    }
  }
  async drain(): Promise<void> {
    while (await this.fill()) this.buf = Buffer.alloc(0);
  }
}

function parsePartHeaders(raw: string): { name?: string; filename?: string; contentType?: string } {
  const out: { name?: string; filename?: string; contentType?: string } = {};
  for (const line of raw.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const h = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    if (h === 'content-disposition') {
      const name = /(?:^|;)\s*name="([^"]*)"/i.exec(v) ?? /(?:^|;)\s*name=([^;]*)/i.exec(v);
      const fn = /(?:^|;)\s*filename="([^"]*)"/i.exec(v) ?? /(?:^|;)\s*filename=([^;]*)/i.exec(v);
      if (name) out.name = name[1];
      if (fn) out.filename = fn[1];
    } else if (h === 'content-type') out.contentType = v;
  }
  return out;
}

type Condition = { op: 'eq' | 'starts-with'; field: string; value: string; raw: string } | { op: 'range'; min: number; max: number; raw: string };

function parsePolicy(b64: string): { expiration: number; conditions: Condition[] } {
  let p: { expiration?: unknown; conditions?: unknown };
  try {
    p = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as typeof p;
  } catch {
    throw s3err('InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
  const bad = (m: string) => new S3Error('InvalidPolicyDocument', 400, `Invalid Policy: ${m}`);
  if (typeof p.expiration !== 'string' || Number.isNaN(Date.parse(p.expiration))) throw bad('Invalid \'expiration\' value.');
  if (!Array.isArray(p.conditions)) throw bad('Policy missing conditions.');
  const conditions: Condition[] = [];
  for (const c of p.conditions as unknown[]) {
    const raw = JSON.stringify(c);
    if (Array.isArray(c)) {
      const op = String(c[0]).toLowerCase();
      if (op === 'content-length-range') {
        const min = Number(c[1]);
        const max = Number(c[2]);
        if (c.length !== 3 || !Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) throw bad('Invalid content-length-range.');
        conditions.push({ op: 'range', min, max, raw });
      } else if (op === 'eq' || op === 'starts-with') {
        if (c.length !== 3 || typeof c[1] !== 'string' || !c[1].startsWith('$') || typeof c[2] !== 'string') throw bad(`Invalid condition ${raw}.`);
        conditions.push({ op, field: c[1].slice(1).toLowerCase(), value: c[2], raw });
      } else throw bad(`Invalid condition ${raw}.`);
    } else if (c && typeof c === 'object') {
      const entries = Object.entries(c as Record<string, unknown>);
      if (entries.length !== 1 || typeof entries[0][1] !== 'string') throw bad(`Invalid condition ${raw}.`);
      conditions.push({ op: 'eq', field: entries[0][0].toLowerCase(), value: entries[0][1] as string, raw: `["eq", "$${entries[0][0]}", ${JSON.stringify(entries[0][1])}]` });
    } else throw bad(`Invalid condition ${raw}.`);
  }
  return { expiration: Date.parse(p.expiration), conditions };
}

function denied(msg: string): S3Error {
  return s3err('AccessDenied', `Invalid according to Policy: ${msg}`);
}

/** AWS's answer when the fields before the file are too large (AWS caps them at 20 KiB; this store at 256 KiB). */
function preDataTooLarge(): S3Error {
  return s3err('MaxPostPreDataLengthExceeded', undefined, { MaxPostPreDataLengthBytes: String(MAX_FIELDS_TOTAL) });
}

const EXEMPT = new Set(['x-amz-signature', 'file', 'policy']);

/** Browser-form upload (POST Object) authenticated by a SigV4-signed policy whose every condition is enforced. */
export async function handlePostObject(server: S3Server, ctx: Ctx): Promise<void> {
  const { req, res } = ctx;
  server.store.bucket(ctx.bucket);
  const ct = req.headers['content-type'] ?? '';
  const bm = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(ct);
  if (!bm) throw s3err('MalformedPOSTRequest');
  const boundary = bm[1] ?? bm[2].trim();
  // destroyOnReturn: false — a refusal mid-file must not reset the socket before the S3 error is answered
  const reader = new FormReader(req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>);
  const fields = new Map<string, string>();
  const names: string[] = [];
  let total = 0;
  let count = 0;
  await reader.readUntil(Buffer.from(`--${boundary}`), 64 * 1024);
  const sep = Buffer.from(`\r\n--${boundary}`);
  const sepLen = sep.length + 2;
  let fileFound = false;
  let fileContentType: string | undefined;
  let fileName = '';
  for (;;) {
    const tail = (await reader.read(2)).toString('latin1');
    if (tail === '--') break;
    if (tail !== '\r\n') throw s3err('MalformedPOSTRequest');
    if (++count > MAX_FIELD_COUNT) throw preDataTooLarge();
    const rawHeaders = await reader.readUntil(Buffer.from('\r\n\r\n'), MAX_PART_HEADERS);
    total += rawHeaders.length + 4 + sepLen;
    if (total > MAX_FIELDS_TOTAL) throw preDataTooLarge();
    const headers = parsePartHeaders(rawHeaders.toString('utf8'));
    if (headers.name === undefined) throw s3err('MalformedPOSTRequest');
    const lname = headers.name.toLowerCase();
    if (lname === 'file') {
      fileFound = true;
      fileContentType = headers.contentType;
      fileName = headers.filename ?? '';
      break;
    }
    const rawValue = await reader.readUntil(sep, MAX_FIELD);
    total += rawValue.length;
    if (total > MAX_FIELDS_TOTAL) throw preDataTooLarge();
    const value = rawValue.toString('utf8');
    if (!fields.has(lname)) {
      fields.set(lname, value);
      names.push(lname);
    }
  }
  if (!fileFound) throw s3err('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });
  void fileContentType;
  // ---------------------------------------------------------------- authentication
  const policyB64 = fields.get('policy');
  if (policyB64 === undefined) throw s3err('AccessDenied', 'Access Denied');
  const alg = fields.get('x-amz-algorithm');
  const cred = fields.get('x-amz-credential');
  const amzDate = fields.get('x-amz-date');
  const signature = fields.get('x-amz-signature');
  if (alg !== 'AWS4-HMAC-SHA256' || !cred || !amzDate || !signature) {
    throw s3err('InvalidArgument', 'Bucket POST must contain a field named \'x-amz-algorithm\', \'x-amz-credential\', \'x-amz-date\' and \'x-amz-signature\' (AWS4-HMAC-SHA256).', { ArgumentName: 'x-amz-algorithm' });
  }
  const [accessKeyId, date, region, service, term] = cred.split('/');
  const secret = server.credentials.get(accessKeyId);
  if (secret === undefined) throw s3err('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  if (region !== server.opts.region || service !== 's3' || term !== 'aws4_request' || parseAmzDate(amzDate) === undefined || amzDate.slice(0, 8) !== date) {
    throw s3err('AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential parameter; the region or scope is wrong.');
  }
  const expected = hmacHex(signingKey(secret, date, region), policyB64);
  if (!sigEqual(expected, signature)) throw s3err('SignatureDoesNotMatch');
  ctx.auth = { accessKeyId, secretAccessKey: secret, key: Buffer.alloc(0), amzDate, scope: '', signature, payloadHash: 'UNSIGNED-PAYLOAD', presigned: true, signedHeaders: [] };
  const policy = parsePolicy(policyB64);
  if (server.opts.now() > policy.expiration) throw denied('Policy expired.');
  // ---------------------------------------------------------------- policy conditions
  let key = fields.get('key');
  if (key === undefined) throw s3err('InvalidArgument', 'Bucket POST must contain a field named \'key\'.  If it is specified, please check the order of the fields.', { ArgumentName: 'key', ArgumentValue: '' });
  key = key.replace(/\$\{filename\}/g, fileName);
  if (!key) throw s3err('InvalidArgument', 'User key must have a length greater than 0.', { ArgumentName: 'key' });
  if (Buffer.byteLength(key) > 1024) throw s3err('KeyTooLongError');
  const valueOf = (f: string) => (f === 'bucket' ? ctx.bucket : f === 'key' ? key : fields.get(f));
  let range: { min: number; max: number } | undefined;
  const covered = new Set<string>(['bucket']);
  for (const c of policy.conditions) {
    if (c.op === 'range') {
      range = { min: c.min, max: c.max };
      continue;
    }
    covered.add(c.field);
    const v = valueOf(c.field);
    if (v === undefined) throw denied(`Policy Condition failed: ${c.raw}`);
    if (c.op === 'eq' && v !== c.value) throw denied(`Policy Condition failed: ${c.raw}`);
    if (c.op === 'starts-with') {
      const ok = c.field === 'content-type' ? v.split(',').every((p) => p.trim().startsWith(c.value)) : v.startsWith(c.value);
      if (!ok) throw denied(`Policy Condition failed: ${c.raw}`);
    }
  }
  const extra = names.filter((n) => !EXEMPT.has(n) && !n.startsWith('x-ignore-') && !covered.has(n));
  if (extra.length) throw denied(`Extra input fields: ${extra.join(', ')}`);
  ctx.key = key;
  ctx.resource = `/${ctx.bucket}/${key}`;
  // ---------------------------------------------------------------- the file
  const maxPut = Math.min(MAX_PUT, server.opts.maxObjectSize, range ? range.max : Infinity);
  const { headers, userMeta } = collectHeaders((n) => fields.get(n), names);
  const tmp = server.store.tmpFile();
  const body = await receiveStream(reader.streamUntil(sep), tmp, maxPut).catch((e: unknown) => {
    if (e instanceof S3Error && e.code === 'EntityTooLarge' && range && maxPut === range.max) {
      throw s3err('EntityTooLarge', undefined, { ProposedSize: 'more', MaxSizeAllowed: String(range.max) });
    }
    throw e;
  });
  await reader.drain();
  if (range && body.size < range.min) {
    const { promises: fsp } = await import('node:fs');
    await fsp.rm(tmp, { force: true });
    throw s3err('EntityTooSmall', undefined, { ProposedSize: String(body.size), MinSizeAllowed: String(range.min) });
  }
  const file = await server.store.adoptTemp(ctx.bucket, tmp);
  const meta: ObjectMeta = {
    key,
    size: body.size,
    etag: body.md5.toString('hex'),
    lastModified: server.opts.now(),
    headers,
    userMeta,
    segments: [{ file, size: body.size }],
    version: randomBytes(8).toString('hex'),
  };
  await server.store.commit(ctx.bucket, meta, undefined, server.events(ctx, ctx.bucket, key, 'ObjectCreated:Post'));
  const location = `http://${req.headers.host ?? 'localhost'}/${ctx.bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  const cors = server.corsFor(ctx, 'POST');
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect) {
    let target: URL | undefined;
    try {
      target = new URL(redirect);
    } catch {
      target = undefined;
    }
    if (target) {
      target.searchParams.set('bucket', ctx.bucket);
      target.searchParams.set('key', key);
      target.searchParams.set('etag', quoteEtag(meta.etag));
      res.writeHead(303, { ...cors, Location: target.toString(), ETag: quoteEtag(meta.etag), 'Content-Length': '0' });
      res.end();
      return;
    }
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    server.sendXml(
      ctx,
      201,
      doc('PostResponse', el('Location', location) + el('Bucket', ctx.bucket) + el('Key', key) + el('ETag', quoteEtag(meta.etag)), false),
      { ...cors, ETag: quoteEtag(meta.etag), Location: location },
    );
    return;
  }
  res.writeHead(status === '200' ? 200 : 204, { ...cors, ETag: quoteEtag(meta.etag), Location: location, 'Content-Length': '0' });
  res.end();
}
