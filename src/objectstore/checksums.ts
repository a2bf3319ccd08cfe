import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'];
export const CHECKSUM_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, SHA1: 20, SHA256: 32 };

export function checksumHeader(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

export function parseAlgorithm(v: string | undefined): ChecksumAlgorithm | undefined {
  if (!v) return undefined;
  const up = v.toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(up) ? (up as ChecksumAlgorithm) : undefined;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 tables: pure TypeScript, no native code.
const CRC32C_TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[0][i];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][i] = c >>> 0;
    }
  }
  return t;
})();

/** Updates a CRC-32C (state is the pre-inverted register; start with crc32cUpdate(0, …)). */
export function crc32c(buf: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = buf.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ c;
    c =
      t7[a & 0xff] ^
      t6[(a >>> 8) & 0xff] ^
      t5[(a >>> 16) & 0xff] ^
      t4[a >>> 24] ^
      t3[buf[i + 4]] ^
      t2[buf[i + 5]] ^
      t1[buf[i + 6]] ^
      t0[buf[i + 7]];
    i += 8;
  }
  while (i < n) c = t0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;

const CRC32_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array, crc = 0): number {
  if (nativeCrc32) return nativeCrc32(buf, crc);
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC32_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export interface Hasher {
  update(b: Uint8Array): void;
  /** raw digest bytes */
  digest(): Buffer;
}

class CrcHasher implements Hasher {
  private v = 0;
  constructor(private readonly fn: (b: Uint8Array, c: number) => number) {}
  update(b: Uint8Array): void {
    this.v = this.fn(b, this.v);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.v >>> 0);
    return out;
  }
}

class CryptoHasher implements Hasher {
  private h: Hash;
  constructor(alg: string) {
    this.h = createHash(alg);
  }
  update(b: Uint8Array): void {
    this.h.update(b);
  }
  digest(): Buffer {
    return this.h.digest();
  }
}

export function newHasher(alg: ChecksumAlgorithm): Hasher {
  switch (alg) {
    case 'CRC32':
      return new CrcHasher(crc32);
    case 'CRC32C':
      return new CrcHasher(crc32c);
    case 'SHA1':
      return new CryptoHasher('sha1');
    case 'SHA256':
      return new CryptoHasher('sha256');
  }
}

/** Checksum of a whole buffer, base64. */
export function checksumOf(alg: ChecksumAlgorithm, data: Uint8Array): string {
  const h = newHasher(alg);
  h.update(data);
  return h.digest().toString('base64');
}

/** Is `v` a syntactically valid base64 checksum for the algorithm? */
export function validChecksumValue(alg: ChecksumAlgorithm, v: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return false;
  return Buffer.from(v, 'base64').length === CHECKSUM_BYTES[alg];
}
