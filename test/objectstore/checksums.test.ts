// crc32c is pure TypeScript (slicing-by-8): check the standard vectors and that incremental updates agree.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checksumOf, crc32, crc32c } from '../../src/objectstore/index.ts';

describe('checksums', () => {
  it('CRC-32C and CRC-32 standard check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(checksumOf('CRC32C', Buffer.from('hello world'))).toBe('yZRlqg==');
  });
  it('incremental updates over arbitrary splits equal the one-shot value', () => {
    const data = randomBytes(100_003);
    const whole = crc32c(data);
    for (const cut of [1, 7, 8, 9, 4096, 65_537]) {
      let c = 0;
      for (let i = 0; i < data.length; i += cut) c = crc32c(data.subarray(i, i + cut), c);
      expect(c).toBe(whole);
    }
  });
});
