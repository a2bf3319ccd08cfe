// Shared helpers for the security suites: raw HTTP requests (no URL normalisation, any header), answer comparison.
import { request as httpRequest } from 'node:http';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request sent as given: the path is not normalised (so `..`, `%2e%2e`, `%00` reach the server). */
export function raw(
  base: string,
  opts: { method: string; path: string; headers?: Record<string, string | string[]>; body?: Buffer | string; timeoutMs?: number },
): Promise<RawAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, method: opts.method, path: opts.path, headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out: ${opts.method} ${opts.path}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Headers that differ per request by design and say nothing about the resource. */
const VOLATILE = new Set(['date', 'x-request-id', 'connection', 'keep-alive', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-amz-request-id', 'x-amz-id-2']);

/** What an answer reveals: status, body and every non-volatile header. */
export function fingerprintOf(a: RawAnswer): { status: number; headers: Record<string, unknown>; body: unknown } {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a.headers)) if (!VOLATILE.has(k)) headers[k] = v;
  let body: unknown = a.body;
  try {
    body = JSON.parse(a.body);
  } catch {
    /* not JSON: compare the text */
  }
  return { status: a.status, headers, body };
}

/** The documented error shape: {"error": {"code", "message", "details?"}} and nothing else. */
export function isErrorShape(body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return false;
  const e = (body as { error: unknown }).error as Record<string, unknown>;
  if (!e || typeof e !== 'object') return false;
  const ek = Object.keys(e);
  if (!ek.every((k) => ['code', 'message', 'details'].includes(k))) return false;
  return typeof e.code === 'string' && typeof e.message === 'string' && (e.details === undefined || (typeof e.details === 'object' && e.details !== null));
}

export function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}
