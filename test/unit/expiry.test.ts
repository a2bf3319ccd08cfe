import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundExpiry } from '../../src/cdn/expiry.ts';

describe('roundExpiry', () => {
  it('rounds up to the window and never shortens the lifetime', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
        fc.integer({ min: 1, max: 7 * 86400 }),
        fc.integer({ min: 1, max: 86400 }),
        (nowMs, ttl, window) => {
          const now = new Date(nowMs);
          const r = roundExpiry(now, ttl, window);
          expect(r.expiresEpoch % window).toBe(0);
          expect(r.expiresAt.getTime() - nowMs).toBeGreaterThanOrEqual(ttl * 1000);
          expect(r.expiresAt.getTime() - nowMs).toBeLessThan((ttl + window + 1) * 1000);
          expect(r.windowStart.getTime()).toBeLessThanOrEqual(nowMs);
          expect(r.expiresEpoch - r.windowStart.getTime() / 1000).toBe(r.lifetimeFromWindowStart);
        },
      ),
    );
  });

  it('gives the same expiry to every request in a window', () => {
    const window = 300;
    const ttl = 3600;
    const base = 1_800_000_000; // multiple of 300
    const first = roundExpiry(new Date((base - ttl + 1) * 1000), ttl, window);
    for (let s = base - ttl + 1; s <= base - ttl + window; s += 7) {
      expect(roundExpiry(new Date(s * 1000), ttl, window).expiresEpoch).toBe(first.expiresEpoch);
    }
    expect(roundExpiry(new Date((base - ttl + window + 1) * 1000), ttl, window).expiresEpoch).toBe(first.expiresEpoch + window);
  });

  it('rejects bad input', () => {
    expect(() => roundExpiry(new Date(), 0, 60)).toThrow(RangeError);
    expect(() => roundExpiry(new Date(NaN), 60, 60)).toThrow(RangeError);
  });
});
