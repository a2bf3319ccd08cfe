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

/** The limit for a scope; 0 means unlimited. */
export function isOverLimit(count: number, limit: number): boolean {
  return limit > 0 && count > limit;
}
