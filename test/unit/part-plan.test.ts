import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GiB,
  MAX_OBJECT_SIZE,
  MAX_PARTS,
  MiB,
  MIN_PART_SIZE,
  TiB,
  checkParts,
  claimedPartsProblem,
  describePartProblems,
  inferPlan,
  partRange,
  partSizeOf,
  planParts,
} from '../../src/domain/part-plan.ts';

describe('planParts', () => {
  it('uses the preferred part size when it fits in 10,000 parts', () => {
    expect(planParts(300 * MiB, 16 * MiB)).toEqual({ partSize: 16 * MiB, partCount: 19, totalSize: 300 * MiB });
    expect(planParts(300 * MiB, 8 * MiB).partCount).toBe(38);
  });

  it('never goes below 5 MiB', () => {
    expect(planParts(100 * MiB, 1024).partSize).toBe(MIN_PART_SIZE);
  });

  it('grows the part size so that 5 TiB fits in 10,000 parts', () => {
    const plan = planParts(5 * TiB, 16 * MiB);
    expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
    expect(plan.partSize % MiB).toBe(0);
    expect(plan.partSize * plan.partCount).toBeGreaterThanOrEqual(5 * TiB);
  });

  it('plans one part for an empty or small object', () => {
    expect(planParts(0)).toMatchObject({ partCount: 1 });
    expect(planParts(10)).toMatchObject({ partCount: 1 });
    expect(partSizeOf(planParts(10), 1)).toBe(10);
  });

  it('refuses sizes beyond 5 TiB and nonsense', () => {
    expect(() => planParts(MAX_OBJECT_SIZE + 1)).toThrow(/5 TiB/);
    expect(() => planParts(-1)).toThrow();
    expect(() => planParts(1.5)).toThrow();
  });

  it('holds the S3 rules for any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_OBJECT_SIZE }), fc.integer({ min: 1, max: 6 * GiB }), (size, pref) => {
        const plan = planParts(size, pref);
        expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
        expect(plan.partSize).toBeGreaterThanOrEqual(MIN_PART_SIZE);
        expect(plan.partSize).toBeLessThanOrEqual(5 * GiB);
        const last = partSizeOf(plan, plan.partCount);
        expect(last).toBeGreaterThan(0);
        expect(last).toBeLessThanOrEqual(plan.partSize);
        expect(plan.partSize * (plan.partCount - 1) + last).toBe(size);
        expect(partRange(plan, plan.partCount).end).toBe(size);
      }),
    );
  });

  it('rejects part numbers outside the plan', () => {
    const plan = planParts(20 * MiB, 5 * MiB);
    expect(() => partSizeOf(plan, 0)).toThrow();
    expect(() => partSizeOf(plan, 5)).toThrow();
    expect(partRange(plan, 2)).toEqual({ start: 5 * MiB, end: 10 * MiB });
  });
});

describe('checkParts', () => {
  const plan = planParts(12 * MiB, 5 * MiB); // 5, 5, 2
  const good = [
    { partNumber: 1, size: 5 * MiB },
    { partNumber: 2, size: 5 * MiB },
    { partNumber: 3, size: 2 * MiB },
  ];

  it('accepts exactly the plan', () => {
    expect(checkParts(plan, good)).toMatchObject({ ok: true, missing: [], wrongSize: [], totalListed: 12 * MiB });
  });

  it('names missing and wrong-size parts', () => {
    const check = checkParts(plan, [good[0], { partNumber: 3, size: 3 * MiB }, { partNumber: 9, size: 1 }]);
    expect(check.ok).toBe(false);
    expect(check.missing).toEqual([2]);
    expect(check.wrongSize).toEqual([{ partNumber: 3, expected: 2 * MiB, actual: 3 * MiB }]);
    expect(check.unexpected).toEqual([9]);
    expect(describePartProblems(check)).toBe(
      `missing part 2; part 3 is ${3 * MiB} bytes, expected ${2 * MiB}; unexpected part 9`,
    );
  });
});

describe('claimedPartsProblem (the client names its parts at completion)', () => {
  const plan = planParts(12 * MiB, 5 * MiB); // 3 parts
  const part = (partNumber: number) => ({ partNumber, etag: `"e${partNumber}"` });

  it('accepts every part of the plan once, in any order', () => {
    expect(claimedPartsProblem(plan, [part(3), part(1), part(2)])).toBeNull();
  });

  it('refuses a list that misses a part, repeats one or names one outside the plan', () => {
    expect(claimedPartsProblem(plan, [part(1), part(2)])).toMatch(/all 3 parts/);
    expect(claimedPartsProblem(plan, [part(1), part(2), part(2)])).toMatch(/part 2 is listed twice/);
    expect(claimedPartsProblem(plan, [part(1), part(2), part(4)])).toMatch(/outside 1\.\.3/);
    expect(claimedPartsProblem(plan, [part(1), part(2), part(0)])).toMatch(/outside/);
  });
});

describe('inferPlan (size not declared, as with Uppy)', () => {
  it('infers the plan from equal parts', () => {
    const r = inferPlan([
      { partNumber: 2, size: 5 * MiB },
      { partNumber: 1, size: 5 * MiB },
      { partNumber: 3, size: 7 },
    ]);
    expect(r).toEqual({ ok: true, plan: { partSize: 5 * MiB, partCount: 3, totalSize: 10 * MiB + 7 } });
  });

  it('reports gaps and uneven or small parts', () => {
    const r = inferPlan([
      { partNumber: 1, size: 6 * MiB },
      { partNumber: 2, size: 5 * MiB },
      { partNumber: 4, size: 1 },
    ]);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.missing).toEqual([3]);
      expect(r.wrongSize.map((w) => w.partNumber)).toEqual([2]);
    }
    expect(inferPlan([]).ok).toBe(false);
    expect(inferPlan([{ partNumber: 1, size: 1 }, { partNumber: 2, size: 1 }]).ok).toBe(false);
  });
});
