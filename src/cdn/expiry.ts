// Cache-friendly expiry: pure arithmetic, no clock (pass `now`).
//
// The expiry `now + ttl` is rounded UP to a multiple of the window, so every request whose `now + ttl` falls into the
// same window gets the same expiry, hence (with a deterministic signer) the same URL, and the CDN cache keeps
// hitting. The effective lifetime is in [ttl, ttl + window).

export interface ExpiryWindow {
  /** Unix seconds at which the URL stops being valid (a multiple of windowSeconds). */
  expiresEpoch: number;
  expiresAt: Date;
  /**
   * A fixed instant shared by every request of the window that is never after `now` (expires − ttl − window).
   * Signers that embed a signing time (S3 SigV4) use it so that their URL is also identical within the window.
   */
  windowStart: Date;
  /** expiresEpoch − windowStart in seconds (= ttl + window). */
  lifetimeFromWindowStart: number;
}

export function roundExpiry(now: Date, ttlSeconds: number, windowSeconds: number): ExpiryWindow {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be > 0 (got ${ttlSeconds})`);
  const ttl = Math.ceil(ttlSeconds);
  const window = Math.max(1, Math.floor(Number.isFinite(windowSeconds) ? windowSeconds : 1));
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('now is not a valid date');
  // Seconds, rounded up so that the lifetime is never shorter than asked even with sub-second `now`.
  const earliest = Math.ceil(nowMs / 1000) + ttl;
  const expiresEpoch = Math.ceil(earliest / window) * window;
  const windowStartEpoch = expiresEpoch - ttl - window;
  return {
    expiresEpoch,
    expiresAt: new Date(expiresEpoch * 1000),
    windowStart: new Date(windowStartEpoch * 1000),
    lifetimeFromWindowStart: ttl + window,
  };
}
