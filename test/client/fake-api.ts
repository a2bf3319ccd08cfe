// An in-memory stand-in for the Stowage API and storage, for SDK behaviours that need exact control over timing and
// failures (a create whose answer is lost, a pause between two requests). It implements the routes the SDK uses.
import { createHash } from 'node:crypto';
import type { FileView } from '../../src/client/index.ts';

export interface FakeUpload {
  file: FileView;
  fingerprint: string | null;
  partSize: number;
  partCount: number;
  /** Multipart: bytes of each stored part; single: part 1. */
  parts: Map<number, Uint8Array>;
  content?: Uint8Array;
}

/** Return a Response, an Error (thrown as a network failure), or undefined to let the fake answer. */
export type Hook = (req: { method: string; path: string; n: number; body: unknown }) =>
  | Response
  | Error
  | undefined
  | Promise<Response | Error | undefined>;

export function fakeApi(
  opts: { multipartThreshold?: number; partSize?: number; hook?: Hook; afterCreate?: Hook; reportChecksums?: boolean } = {},
) {
  const uploads = new Map<string, FakeUpload>();
  const log: string[] = [];
  const counts = new Map<string, number>();
  const threshold = opts.multipartThreshold ?? 1000;
  const partSize = opts.partSize ?? 100;
  let seq = 0;
  const json = (o: unknown, status = 200) =>
    new Response(JSON.stringify(o), { status, headers: { 'content-type': 'application/json' } });
  const notFound = () => json({ error: { code: 'not_found', message: 'not found' } }, 404);

  const bodyBytes = async (body: unknown): Promise<Uint8Array> => {
    if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
    if (body instanceof Uint8Array) return body;
    return new Uint8Array();
  };

  // Like a real fetch, an aborted request rejects at once, while the server goes on handling it.
  const f = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const handled = handle(input, init);
    const signal = init.signal;
    if (!signal) return handled;
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      handled.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };

  const handle = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const method = init.method ?? 'GET';
    const path = url.pathname;
    const key = `${method} ${path}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    log.push(key);
    if (init.signal?.aborted) throw init.signal.reason;
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : init.body;
    const hooked = await opts.hook?.({ method, path, n, body });
    if (hooked instanceof Error) throw hooked;
    if (hooked) return hooked;

    if (url.host === 's3') {
      const id = path.split('/')[1]!;
      const u = uploads.get(id);
      if (!u) return new Response('<Error><Code>NoSuchUpload</Code></Error>', { status: 404 });
      const bytes = await bodyBytes(init.body);
      const pn = Number(url.searchParams.get('partNumber') ?? '1');
      u.parts.set(pn, bytes);
      return new Response('', { status: 200, headers: { etag: `"${createHash('md5').update(bytes).digest('hex')}"` } });
    }
    if (method === 'GET' && path === '/v1/uploads') {
      const fp = url.searchParams.get('fingerprint');
      const items = [...uploads.values()].filter((u) => u.file.status === 'pending' && (!fp || u.fingerprint === fp));
      return json({ items: items.map((u) => u.file) });
    }
    if (method === 'POST' && path === '/v1/uploads') {
      const b = body as { filename: string; contentType: string; size: number; method?: string; fingerprint?: string };
      const id = `f${++seq}`;
      const multipart = b.method === 'multipart' || (b.method === undefined && b.size > threshold);
      const partCount = multipart ? Math.ceil(b.size / partSize) : 1;
      const file: FileView = {
        id, status: 'pending', filename: b.filename, contentType: b.contentType, size: b.size, checksumSha256: null,
        metadata: {}, createdAt: new Date(Date.now() + seq).toISOString(), expiresAt: new Date(Date.now() + 3600e3).toISOString(),
        completedAt: null, rejectReason: null, uploadMethod: multipart ? 'multipart' : b.method === 'post' ? 'post' : 'put',
      };
      uploads.set(id, { file, fingerprint: b.fingerprint ?? null, partSize, partCount, parts: new Map() });
      const answer = json(
        {
          file,
          upload: multipart
            ? { method: 'MULTIPART', uploadId: id, partSize, partCount, expiresAt: file.expiresAt }
            : { method: 'PUT', url: `http://s3/${id}`, headers: { 'Content-Type': b.contentType }, expiresAt: file.expiresAt },
        },
        201,
      );
      const after = await opts.afterCreate?.({ method, path, n, body });
      if (after instanceof Error) throw after;
      return after ?? answer;
    }
    const m = /^\/v1\/uploads\/([^/]+)(\/parts|\/complete)?$/.exec(path);
    const u = m ? uploads.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !u) return notFound();
    if (method === 'DELETE' && !m[2]) {
      u.file = { ...u.file, status: 'deleted' };
      return new Response(null, { status: 204 });
    }
    if (method === 'GET' && m[2] === '/parts') {
      return json({
        parts: [...u.parts].map(([partNumber, b]) => ({
          partNumber,
          size: b.length,
          etag: `"${createHash('md5').update(b).digest('hex')}"`,
          ...(opts.reportChecksums ? { checksumSha256: createHash('sha256').update(b).digest('base64') } : {}),
        })),
        partSize: u.partSize,
        partCount: u.partCount,
      });
    }
    if (method === 'POST' && m[2] === '/parts') {
      const { partNumbers } = body as { partNumbers: number[] };
      return json({
        parts: partNumbers.map((pn) => ({ partNumber: pn, url: `http://s3/${u.file.id}?partNumber=${pn}`, headers: {}, size: 0 })),
        expiresAt: new Date(Date.now() + 900e3).toISOString(),
      });
    }
    if (method === 'POST' && m[2] === '/complete') {
      const chunks = [...u.parts].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
      u.content = new Uint8Array(Buffer.concat(chunks));
      u.file = { ...u.file, status: u.content.length === u.file.size ? 'available' : 'rejected' };
      return json({ file: u.file });
    }
    return json({ error: { code: 'invalid_request', message: key } }, 400);
  };
  return { fetch: f as typeof fetch, uploads, log, count: (key: string) => log.filter((l) => l === key).length };
}
