// Exponential backoff with jitter, abortable sleeps, and which failures are worth another try.

export interface RetryOptions {
  /** Attempts after the first one. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 8, baseDelayMs: 250, maxDelayMs: 20_000 };

/** Delay before retry number `attempt` (0-based): half of the capped exponential, plus a random other half. */
export function backoffDelay(attempt: number, opts: RetryOptions, random: () => number = Math.random): number {
  const cap = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempt);
  return cap / 2 + random() * (cap / 2);
}

/** Delay the server asked for with Retry-After (seconds or HTTP date), capped; undefined when absent. */
export function retryAfterMs(res: Response, opts: RetryOptions): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, opts.maxDelayMs) : undefined;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Storage answers worth retrying: throttling (503 SlowDown, 429) and server errors. */
export function isRetryableStorageStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** A fetch that threw without being aborted is a network failure: retry it. */
export function isNetworkError(err: unknown, signal?: AbortSignal): boolean {
  return !signal?.aborted && err instanceof TypeError;
}
