/**
 * system.map (Task.async_stream) on real shards: order, the concurrency limit (counted from the
 * tasks' own start and end times), timeouts that throw or skip, failures, early exits, async
 * sources, and a million items through bounded memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallTimeoutError, start, type System } from '../src/main/index.js';
import { QUICK, fixtureUrl } from './helpers.js';

const MATH = fixtureUrl('tasks/math');

let system: System;
beforeAll(async () => {
  system = await start({ threads: 2 });
});
afterAll(() => system.stop());

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** The most intervals [start, end] open at once. */
function maxOverlap(spans: Array<[number, number]>): number {
  const events = spans.flatMap(([a, b]) => [[a, 1], [b, -1]] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let most = 0;
  for (const [, step] of events) most = Math.max(most, (open += step));
  return most;
}

describe('system.map', () => {
  it('yields results in the items’ order by default, even when later items finish first', async () => {
    const items = [40, 5, 30, 1, 20, 2].map((ms, i) => ({ value: i, ms }));
    expect(await collect(system.map(items, MATH, { exportName: 'later' }))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('unordered: yields each result as it comes', async () => {
    const items = [60, 1, 30].map((ms, i) => ({ value: i, ms }));
    expect(await collect(system.map(items, MATH, { exportName: 'later', ordered: false }))).toEqual([1, 2, 0]);
  });

  it('keeps at most maxConcurrency items running (counted from the tasks’ own clocks)', async () => {
    const spans = (await collect(system.map(Array(12).fill(25), MATH, { exportName: 'span', maxConcurrency: 3 }))) as Array<[number, number]>;
    expect(spans).toHaveLength(12);
    expect(maxOverlap(spans)).toBeLessThanOrEqual(3);
    expect(maxOverlap(spans)).toBeGreaterThanOrEqual(2); // and it did run them side by side
  });

  it("timeouts: 'throw' ends the iteration with CallTimeoutError; 'skip' leaves the slow items out", async () => {
    const items = [{ value: 'a', ms: 1 }, { value: 'slow', ms: 500 }, { value: 'c', ms: 1 }];
    await expect(collect(system.map(items, MATH, { exportName: 'later', timeout: 100 }))).rejects.toBeInstanceOf(CallTimeoutError);
    expect(await collect(system.map(items, MATH, { exportName: 'later', timeout: 100, onTimeout: 'skip' }))).toEqual(['a', 'c']);
  });

  it('a task that throws ends the iteration with its error; a consumer that stops early stops the source', async () => {
    await expect(collect(system.map(['x'], MATH, { exportName: 'fail' }))).rejects.toThrow('x');
    let taken = 0;
    let closed = false;
    function* endless() {
      try {
        for (let i = 0; ; i++) {
          taken++;
          yield { a: i, b: i };
        }
      } finally {
        closed = true;
      }
    }
    const seen: unknown[] = [];
    for await (const doubled of system.map(endless(), MATH, { maxConcurrency: 4 })) {
      seen.push(doubled);
      if (seen.length === 10) break;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => 2 * i));
    expect(closed).toBe(true);
    expect(taken).toBeLessThanOrEqual(10 + 4);
  });

  it('takes an async iterable', async () => {
    async function* pairs() {
      for (let i = 0; i < 5; i++) yield { a: i, b: 10 };
    }
    expect(await collect(system.map(pairs(), MATH))).toEqual([10, 11, 12, 13, 14]);
  });

  it(`streams ${QUICK ? '200,000' : '1,000,000'} items in bounded memory`, async () => {
    const count = QUICK ? 200_000 : 1_000_000;
    function* items() {
      for (let i = 0; i < count; i++) yield { a: i, b: 1 };
    }
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let sum = 0;
    let peak = 0;
    let n = 0;
    for await (const value of system.map(items(), MATH, { ordered: false })) {
      sum += value as number;
      if (++n % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    }
    expect(n).toBe(count);
    expect(sum).toBe((count * (count - 1)) / 2 + count);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  }, 120_000);
});
