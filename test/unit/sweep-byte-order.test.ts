// The sweeper's key comparison must be S3's order (UTF-8 bytes), including astral characters vs U+E000–FFFF.
import { describe, expect, it } from 'vitest';
import { byteOrder } from '../../src/services/sweep-expired.ts';

describe('sweeper byteOrder', () => {
  it('agrees with Buffer.compare on UTF-8 bytes', () => {
    const alpha = ['a', 'z', 'é', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}', '/'];
    const pick = (i: number, j: number) => [alpha[i % alpha.length], alpha[j % alpha.length], alpha[(i * 7 + j) % alpha.length]].slice(0, 1 + ((i + j) % 3)).join('');
    for (let i = 0; i < 60; i++) {
      for (let j = 0; j < 60; j++) {
        const a = pick(i, j);
        const b = pick(j, i + 1);
        expect(Math.sign(byteOrder(a, b)), `${a} vs ${b}`).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }
    }
    expect(byteOrder('\u{10000}', '\uffff')).toBeGreaterThan(0); // UTF-16 code units would say the opposite
    expect(byteOrder('ab', 'abc')).toBeLessThan(0);
  });
});
