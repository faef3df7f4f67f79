/**
 * stream: values per second from a streamed task (`pool.stream`, an async generator and a sync one,
 * with the default credit, `highWaterMark` 1024) against the same values returned by `pool.run` in
 * one array. One thread, so each row is one producer feeding main. The array is the ceiling (one
 * message, no backpressure: the thread builds it all before main sees the first value, and holds it
 * all in memory); the streams pay a round trip per credit grant (a quarter of the credit) and hold at most 1024
 * values ahead, so their speed is about the credit over the round-trip time.
 * Every round checks the sum of what it got.
 */
import { ThreadPool } from '../../src/main/index.js';
import { assert, type Suite } from '../harness.js';

const VALUES = { full: 1_000_000, quick: 100_000 };
const ROUNDS = { full: 3, quick: 1 };
const WORKER = new URL('../workers/stream.js', import.meta.url);

/** Sum of 0..n-1, the check every round makes. */
const expected = (n: number) => (n * (n - 1)) / 2;

export const suite: Suite = {
  name: 'stream',
  title: 'values/s from a generator task through pool.stream() vs the same values in one array from pool.run(), 1 thread',
  baseline: 'run-array',
  metrics: ['valuesPerSec'],
  async run({ quick, log }) {
    const n = quick ? VALUES.quick : VALUES.full;
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    const pool = new ThreadPool({ filename: WORKER, maxThreads: 1 });
    await pool.ready();
    const best: Record<string, number> = { 'stream-async': 0, 'stream-sync': 0, 'run-array': 0 };
    const measure = async (row: string, take: () => Promise<number>) => {
      const began = performance.now();
      const sum = await take();
      const perSec = n / ((performance.now() - began) / 1000);
      assert(sum === expected(n), `${row}: the values summed to ${sum}, expected ${expected(n)}`);
      best[row] = Math.max(best[row], perSec);
      log(`${row}: ${Math.round(perSec).toLocaleString('en-US')} values/s`);
    };
    const streamed = (name: string) => async () => {
      let sum = 0;
      for await (const value of pool.stream<number>(n, { name })) sum += value;
      return sum;
    };
    try {
      for (let round = 0; round < rounds; round++) {
        await measure('stream-async', streamed('values'));
        await measure('stream-sync', streamed('valuesSync'));
        await measure('run-array', async () => ((await pool.run(n, { name: 'all' })) as number[]).reduce((a, b) => a + b, 0));
      }
    } finally {
      await pool.destroy();
    }
    const config = { threads: 1, values: n, rounds, highWaterMark: 1024, figure: 'best round' };
    return {
      results: Object.fromEntries(Object.entries(best).map(([row, perSec]) => [row, { valuesPerSec: perSec }])),
      config: { 'stream-async': { ...config, api: 'pool.stream, async function*' }, 'stream-sync': { ...config, api: 'pool.stream, function*' }, 'run-array': { ...config, api: 'pool.run, one array' } },
    };
  },
};
