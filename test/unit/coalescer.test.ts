import { describe, expect, test } from 'vitest';
import { Coalescer } from '../../src/db/coalescer.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('Coalescer', () => {
  test('calls made in one turn go in one batch; calls made while it runs go in the next', async () => {
    const batches: number[][] = [];
    const g = gate();
    const c = new Coalescer<number, number>(async (xs) => {
      batches.push(xs);
      if (batches.length === 1) await g.opened;
      return xs.map((x) => x * 2);
    }, { maxBatch: 100, maxInFlight: 1 });
    const first = [1, 2, 3].map((x) => c.call(x));
    await new Promise((r) => setImmediate(r));
    const second = [4, 5].map((x) => c.call(x));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1, 2, 3]]); // the second waits for the first (maxInFlight 1)
    g.open();
    expect(await Promise.all([...first, ...second])).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  });

  test('maxBatch splits a burst; maxInFlight bounds the batches running at once', async () => {
    let running = 0;
    let peak = 0;
    const sizes: number[] = [];
    const c = new Coalescer<number, number>(async (xs) => {
      sizes.push(xs.length);
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
      return xs;
    }, { maxBatch: 4, maxInFlight: 2 });
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => c.call(i)));
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sizes).toEqual([4, 4, 2]);
    expect(peak).toBe(2);
  });

  test('a batch that throws rejects its calls only; an output promise fails just its own call', async () => {
    const c = new Coalescer<number, number>(async (xs) => {
      if (xs.includes(0)) throw new Error('batch failed');
      return xs.map((x) => (x === 3 ? Promise.reject(new Error('three')) : x));
    }, { maxBatch: 100, maxInFlight: 1 });
    await expect(c.call(0)).rejects.toThrow('batch failed');
    const settled = await Promise.allSettled([1, 2, 3, 4].map((x) => c.call(x)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  });
});
