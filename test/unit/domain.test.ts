import { describe, expect, test } from 'vitest';
import { leaseSize, tokensGranted } from '../../src/domain/rate-limit.ts';
import { objectKey, parseObjectKey, isValidWorkspaceId, workspacePrefix } from '../../src/domain/keys.ts';
import { contentTypeAllowed, reservationRefusal, remainingBytes } from '../../src/domain/limits.ts';
import {
  FILE_STATUSES,
  canTransition,
  counterDelta,
  counterRates,
  isTerminal,
  removesObject,
  sourcesOf,
  type FileStatus,
} from '../../src/domain/upload-state.ts';
import { extensionFor, normalizeContentType, isActiveContentType } from '../../src/domain/content-types.ts';

const ID = '3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';

describe('keys', () => {
  test('layout workspaces/{ws}/files/{id}{.ext} and its inverse', () => {
    const key = objectKey('acme', ID, '.png');
    expect(key).toBe(`workspaces/acme/files/${ID}.png`);
    expect(parseObjectKey(key)).toEqual({ workspaceId: 'acme', fileId: ID, ext: '.png' });
    expect(objectKey('acme', ID, '')).toBe(`workspaces/acme/files/${ID}`);
    expect(workspacePrefix('acme')).toBe('workspaces/acme/');
  });

  test.each(['', '../x', 'a/b', '.', '..', 'a b', 'é', 'x'.repeat(129), '-leading', 'a\u0000'])(
    'refuses unsafe workspace id %j',
    (ws) => {
      expect(isValidWorkspaceId(ws)).toBe(false);
      expect(() => objectKey(ws, ID, '.png')).toThrow();
    },
  );

  test.each(['.PNG', '../x', '.png/x', 'png', '.toolongextension'])('refuses unsafe extension %j', (ext) => {
    expect(() => objectKey('acme', ID, ext)).toThrow();
  });

  test('refuses non-uuid file ids and foreign keys', () => {
    expect(() => objectKey('acme', 'not-a-uuid', '')).toThrow();
    expect(parseObjectKey('workspaces/acme/files/../../etc')).toBeNull();
    expect(parseObjectKey(`other/acme/files/${ID}`)).toBeNull();
    expect(parseObjectKey(`workspaces/a/b/files/${ID}`)).toBeNull();
  });
});

describe('limits', () => {
  test.each([
    [['image/png'], 'image/png', true],
    [['image/png'], 'IMAGE/PNG', true],
    [['image/png'], 'image/jpeg', false],
    [['image/*'], 'image/webp', true],
    [['image/*'], 'imagex/webp', false],
    [['image/*'], 'application/pdf', false],
    [['*/*'], 'application/x-anything', true],
    [[], 'text/plain', false],
  ] as const)('contentTypeAllowed(%j, %s) = %s', (allowed, ct, expected) => {
    expect(contentTypeAllowed(allowed, ct)).toBe(expected);
  });

  const limits = { quotaBytes: 1000, maxFiles: 10, maxPending: 3 };
  test.each([
    { c: { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 }, size: 1000, expected: null },
    { c: { usedBytes: 500, reservedBytes: 400, fileCount: 0, pendingCount: 1 }, size: 100, expected: null },
    { c: { usedBytes: 500, reservedBytes: 400, fileCount: 0, pendingCount: 1 }, size: 101, expected: 'quota_bytes' },
    { c: { usedBytes: 0, reservedBytes: 0, fileCount: 8, pendingCount: 2 }, size: 1, expected: 'max_files' },
    { c: { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 3 }, size: 1, expected: 'max_pending' },
  ])('reservationRefusal → $expected', ({ c, size, expected }) => {
    expect(reservationRefusal(c, limits, size)).toBe(expected);
  });

  test('remainingBytes never negative', () => {
    expect(remainingBytes({ usedBytes: 900, reservedBytes: 50, fileCount: 0, pendingCount: 0 }, limits)).toBe(50);
    expect(remainingBytes({ usedBytes: 2000, reservedBytes: 0, fileCount: 0, pendingCount: 0 }, limits)).toBe(0);
  });
});

describe('upload state machine', () => {
  const allowed: [FileStatus, FileStatus][] = [
    ['pending', 'available'],
    ['pending', 'rejected'],
    ['pending', 'expired'],
    ['pending', 'deleted'],
    ['available', 'deleted'],
    ['available', 'missing'],
    ['rejected', 'deleted'],
    ['expired', 'deleted'],
    ['missing', 'deleted'],
    ['missing', 'available'],
  ];
  test('exactly the documented transitions exist', () => {
    for (const from of FILE_STATUSES) {
      for (const to of FILE_STATUSES) {
        const expected = allowed.some(([f, t]) => f === from && t === to);
        expect({ from, to, ok: canTransition(from, to) }).toEqual({ from, to, ok: expected });
      }
    }
    expect(isTerminal('deleted')).toBe(true);
    expect(isTerminal('pending')).toBe(false);
    expect(sourcesOf('deleted').sort()).toEqual(['available', 'expired', 'missing', 'pending', 'rejected']);
  });

  test.each([
    ['pending', 'available', { usedBytes: 10, reservedBytes: -10, fileCount: 1, pendingCount: -1 }],
    ['pending', 'rejected', { usedBytes: 0, reservedBytes: -10, fileCount: 0, pendingCount: -1 }],
    ['pending', 'expired', { usedBytes: 0, reservedBytes: -10, fileCount: 0, pendingCount: -1 }],
    ['pending', 'deleted', { usedBytes: 0, reservedBytes: -10, fileCount: 0, pendingCount: -1 }],
    ['available', 'deleted', { usedBytes: -10, reservedBytes: 0, fileCount: -1, pendingCount: 0 }],
    ['rejected', 'deleted', { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 }],
  ] as const)('counterDelta %s → %s', (from, to, expected) => {
    expect(counterDelta(from, to, 10)).toEqual(expected);
  });

  test('every path from pending to deleted returns the counters to zero', () => {
    const paths: FileStatus[][] = [
      ['pending', 'available', 'deleted'],
      ['pending', 'rejected', 'deleted'],
      ['pending', 'expired', 'deleted'],
      ['pending', 'deleted'],
      ['pending', 'available', 'missing', 'deleted'],
    ];
    for (const path of paths) {
      const total = { usedBytes: 0, reservedBytes: 10, fileCount: 0, pendingCount: 1 }; // after the reservation
      for (let i = 1; i < path.length; i++) {
        const d = counterDelta(path[i - 1]!, path[i]!, 10);
        total.usedBytes += d.usedBytes;
        total.reservedBytes += d.reservedBytes;
        total.fileCount += d.fileCount;
        total.pendingCount += d.pendingCount;
        expect(Math.min(total.usedBytes, total.reservedBytes, total.fileCount, total.pendingCount)).toBeGreaterThanOrEqual(0);
      }
      expect({ path, total }).toEqual({ path, total: { usedBytes: 0, reservedBytes: 0, fileCount: 0, pendingCount: 0 } });
    }
  });

  test('counterRates, applied as the one-statement transition applies them, equal counterDelta for every transition and size', () => {
    for (const to of FILE_STATUSES) {
      const from = sourcesOf(to);
      const rates = counterRates(from, to);
      for (const size of [0, 1, 10, 5_368_709_120]) {
        from.forEach((status, i) => {
          expect({ status, to, size, d: {
            usedBytes: rates.usedPerByte[i]! * size + 0, // + 0: -0 (a negative rate × 0) is 0
            reservedBytes: rates.reservedPerByte[i]! * size + 0,
            fileCount: rates.fileCount[i],
            pendingCount: rates.pendingCount[i],
          } }).toEqual({ status, to, size, d: counterDelta(status, to, size) });
        });
      }
    }
    expect(() => counterRates(['deleted'], 'available')).toThrow();
  });

  test('invalid transitions throw', () => {
    expect(() => counterDelta('deleted', 'available', 1)).toThrow();
    expect(() => counterDelta('rejected', 'available', 1)).toThrow();
  });

  test('removesObject', () => {
    expect(FILE_STATUSES.filter(removesObject).sort()).toEqual(['deleted', 'expired', 'rejected']);
  });
});

describe('content types', () => {
  test.each([
    ['image/png', 'image/png'],
    [' Image/PNG ', 'image/png'],
    ['text/plain; charset=UTF-8', 'text/plain; charset=utf-8'],
    ['text/plain; boundary=x', 'text/plain'],
    ['image/png; charset=utf-8', 'image/png'],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['image', null],
    ['image/', null],
    ['image/png\r\nX-Evil: 1', null],
    ['image/png/x', null],
    ['', null],
    [42, null],
  ] as const)('normalizeContentType(%j) = %j', (raw, expected) => {
    expect(normalizeContentType(raw)).toBe(expected);
  });

  test.each([
    ['image/png', '.png'],
    ['image/jpeg', '.jpg'],
    ['text/plain; charset=utf-8', '.txt'],
    ['application/pdf', '.pdf'],
    ['application/x-unknown', ''],
    ['application/octet-stream', ''],
  ])('extensionFor(%s) = %j', (ct, ext) => {
    expect(extensionFor(ct)).toBe(ext);
  });

  test('active content types', () => {
    for (const t of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'application/javascript']) {
      expect(isActiveContentType(t)).toBe(true);
    }
    for (const t of ['image/png', 'text/plain', 'application/pdf']) expect(isActiveContentType(t)).toBe(false);
  });
});

describe('rate-limit leases', () => {
  test('small limits lease one token at a time; large ones a bounded batch', () => {
    expect(leaseSize(0)).toBe(0);
    expect(leaseSize(5)).toBe(1);
    expect(leaseSize(199)).toBe(1);
    expect(leaseSize(200)).toBe(2);
    expect(leaseSize(2000)).toBe(20);
    expect(leaseSize(1_000_000)).toBe(50);
  });
  test('a lease is granted only up to the limit', () => {
    expect(tokensGranted(10, 10, 100)).toBe(10); // 0 → 10
    expect(tokensGranted(105, 10, 100)).toBe(5); // 95 → 105: 5 fit
    expect(tokensGranted(110, 10, 100)).toBe(0); // 100 → 110: none
    expect(tokensGranted(200, 10, 100)).toBe(0);
    expect(tokensGranted(1, 1, 1)).toBe(1);
    expect(tokensGranted(2, 1, 1)).toBe(0);
  });
});
