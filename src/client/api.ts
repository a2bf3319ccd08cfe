// The thin HTTP layer over the Stowage API: auth header, JSON, error envelope, retries.
import { StowageError } from './errors.ts';
import { DEFAULT_RETRY, backoffDelay, isNetworkError, retryAfterMs, sleep, type RetryOptions } from './retry.ts';

export interface ClientOptions {
  /** Where the Stowage API is, e.g. https://uploads.example.com (no /v1). */
  baseUrl: string;
  /** A bearer token (JWT) for the workspace … */
  token?: string;
  /** … or a function returning a fresh one; called again once after a 401. */
  getToken?: () => string | Promise<string>;
  /** Retry policy for the API and storage requests. */
  retry?: Partial<RetryOptions>;
  /** fetch to use (defaults to globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  signal?: AbortSignal;
  /**
   * Default true: network errors, 5xx and 429 rate_limited are retried. false: nothing is. 'safe': only answers that
   * prove the server did nothing (429 rate_limited) — for requests that are not idempotent (creating an upload), whose
   * ambiguous failures (network error, 5xx) the caller must resolve itself.
   */
  retry?: boolean | 'safe';
}

export class ApiTransport {
  readonly baseUrl: string;
  readonly retry: RetryOptions;
  readonly fetch: typeof fetch;
  private readonly opts: ClientOptions;
  private cachedToken: string | undefined;

  constructor(opts: ClientOptions) {
    if (!opts.baseUrl) throw new TypeError('createClient: baseUrl is required');
    if (!opts.token && !opts.getToken) throw new TypeError('createClient: token or getToken is required');
    this.opts = opts;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    const f = opts.fetch ?? globalThis.fetch;
    this.fetch = ((input: RequestInfo | URL, init?: RequestInit) => f(input, init)) as typeof fetch;
  }

  async token(refresh = false): Promise<string> {
    if (this.opts.getToken && (refresh || !this.cachedToken)) this.cachedToken = await this.opts.getToken();
    return this.cachedToken ?? this.opts.token!;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** Sends one API request and returns the parsed JSON (undefined for 204). Throws StowageError on 4xx/5xx. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { authorization: `Bearer ${await this.token()}`, accept: 'application/json' };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await this.fetch(url, {
          method,
          headers,
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: opts.signal,
        });
      } catch (err) {
        const retryNetwork = opts.retry === undefined || opts.retry === true;
        if (retryNetwork && isNetworkError(err, opts.signal) && attempt < this.retry.retries) {
          await sleep(backoffDelay(attempt, this.retry), opts.signal);
          continue;
        }
        throw err;
      }
      if (res.ok) {
        if (res.status === 204) return undefined as T;
        const text = await res.text();
        return (text ? JSON.parse(text) : undefined) as T;
      }
      const error = await toStowageError(res);
      if (res.status === 401 && this.opts.getToken && !refreshed) {
        refreshed = true;
        await this.token(true);
        attempt--;
        continue;
      }
      const refused = res.status === 429 && error.code === 'rate_limited';
      const retryable = opts.retry === 'safe' ? refused : opts.retry !== false && (res.status >= 500 || refused);
      if (retryable && attempt < this.retry.retries) {
        await sleep(retryAfterMs(res, this.retry) ?? backoffDelay(attempt, this.retry), opts.signal);
        continue;
      }
      throw error;
    }
  }
}

export async function toStowageError(res: Response): Promise<StowageError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body?.error?.code) {
      return new StowageError(res.status, body.error.code, body.error.message ?? body.error.code, body.error.details);
    }
  } catch {
    // not JSON
  }
  return new StowageError(res.status, `http_${res.status}`, text.slice(0, 500) || res.statusText || `HTTP ${res.status}`);
}
