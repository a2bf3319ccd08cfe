// Fixed-window rate-limit arithmetic (pure: the caller passes `now`).
export type RateLimitScope = 'create' | 'complete' | 'sign';

export interface RateWindow {
  start: Date;
  /** Whole seconds until the window ends (≥ 1): the Retry-After of a refusal. */
  retryAfterSeconds: number;
}

export function rateWindow(now: Date, windowSeconds: number): RateWindow {
  const ms = windowSeconds * 1000;
  const startMs = Math.floor(now.getTime() / ms) * ms;
  return { start: new Date(startMs), retryAfterSeconds: Math.max(1, Math.ceil((startMs + ms - now.getTime()) / 1000)) };
}

/**
 * Tokens one API instance takes from the shared counter at a time. An instance answers that many requests before it
 * asks Postgres again, so the round trip is paid once per lease instead of once per request; the limit still holds
 * exactly across instances (tokens are taken atomically), and at most (lease − 1) tokens per instance and window go
 * unused. Small limits lease one token at a time, so they stay exact.
 */
export function leaseSize(limit: number): number {
  return limit <= 0 ? 0 : Math.max(1, Math.min(50, Math.floor(limit / 100)));
}

/** Of a lease of `asked` tokens that brought the shared counter to `countAfter`, how many fit under the limit. */
export function tokensGranted(countAfter: number, asked: number, limit: number): number {
  return Math.max(0, Math.min(asked, limit - (countAfter - asked)));
}
