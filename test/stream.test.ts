/**
 * Streamed tasks on real shards (`pool.stream`, `system.stream`): values in order from async and
 * sync generators, backpressure across the rings (the generator's own counter never runs ahead of
 * the consumer by more than the credit), `break` running the generator's finally on its thread,
 * errors, a crash, destroy and stop. The counters live in the fixture module on its thread, so the
 * pools that read them have one thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotIterableError, PoolClosedError, SystemStoppedError, ThreadPool, isThreadDown, start, type TaskStream } from '../src/main/index.js';
import { ErrorCodes } from '../src/shm/errors.js';
import { fixtureUrl, sleep } from './helpers.js';

const STREAMS = fixtureUrl('tasks/streams');

interface Counters {
  made: number;
  finallies: number;
  thread: number;
}

let pool: ThreadPool;
beforeAll(() => {
  pool = new ThreadPool({ filename: STREAMS, maxThreads: 1 });
});
afterAll(() => pool.destroy());

const counters = (reset = false) => pool.run(reset, { name: 'counters' }) as Promise<Counters>;
async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of stream) values.push(value);
  return values;
}

describe('pool.stream', () => {
  it('yields an async generator’s values in order, across many credit grants', async () => {
    const values = await collect(pool.stream<number>(1000, { name: 'count', highWaterMark: 16 }));
    expect(values).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('yields a sync generator’s values in order, and an array’s elements', async () => {
    expect(await collect(pool.stream<number>(300, { name: 'countSync', highWaterMark: 7 }))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(await collect(pool.stream<number>(5, { name: 'array' }))).toEqual([0, 1, 2, 3, 4]);
    expect(await collect(pool.stream<number>(0, { name: 'count' }))).toEqual([]);
  });

  it('starts only when first pulled', async () => {
    await counters(true);
    const stream = pool.stream<number>(10, { name: 'count' });
    await sleep(50);
    expect((await counters()).made).toBe(0);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    await stream.return();
  });

  it('holds the generator back: it never runs more than highWaterMark values ahead of the consumer', async () => {
    const credit = 8;
    await counters(true);
    const stream = pool.stream<number>(null, { name: 'endless', highWaterMark: credit });
    let taken = 0;
    for (const batch of [1, 3, 20, 50]) {
      for (let i = 0; i < batch; i++) expect(await stream.next()).toEqual({ done: false, value: taken++ });
      await sleep(50); // time for a generator without backpressure to run far ahead
      const { made } = await counters();
      expect(made).toBeGreaterThanOrEqual(taken);
      expect(made).toBeLessThanOrEqual(taken + credit);
    }
    await stream.return();
  });

  it('break ends the generator on its thread: its finally block runs before the loop moves on', async () => {
    const before = (await counters()).finallies;
    let seen = 0;
    for await (const value of pool.stream<number>(null, { name: 'endless', highWaterMark: 4 })) {
      if (value === 10) break;
      seen++;
    }
    expect(seen).toBe(10);
    expect((await counters()).finallies).toBe(before + 1);
  });

  it('does not hold a slow generator’s values back to fill a batch', async () => {
    await counters(true);
    const stream = pool.stream<number>({ n: 5, ms: 150 }, { name: 'slow', highWaterMark: 64 });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    expect((await counters()).made).toBeLessThan(5);
    expect(await collect(stream)).toEqual([1, 2, 3, 4]);
  });

  it('gives the values yielded before a throw, then rejects with the generator’s error; then ends', async () => {
    const stream = pool.stream<number>({ n: 3, message: 'bad row' }, { name: 'failing', highWaterMark: 2 });
    const values: number[] = [];
    const error = await (async () => {
      try {
        for await (const value of stream) values.push(value);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(values).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe('bad row');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('a function whose result is not iterable fails with NotIterableError', async () => {
    const error = await pool.stream(null, { name: 'notIterable' }).next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotIterableError);
    expect((error as NotIterableError).code).toBe(ErrorCodes.NOT_ITERABLE);
    expect((error as Error).message).toMatch(/returned `42` \(number\)/);
  });

  it('checks highWaterMark', () => {
    expect(() => pool.stream(1, { name: 'count', highWaterMark: 0 })).toThrow(/`highWaterMark` to be an integer >= 1, got: `0` \(number\)/);
  });

  it('a thread that dies under the generator rejects the waiting next() with the thread’s error; the pool goes on', async () => {
    const own = new ThreadPool({ filename: STREAMS, maxThreads: 1 });
    try {
      const stream = own.stream<number>(2, { name: 'crashing' });
      expect(await stream.next()).toEqual({ done: false, value: 0 });
      expect(await stream.next()).toEqual({ done: false, value: 1 });
      const error = await stream.next().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe('the generator took its thread down');
      expect(isThreadDown({ threadDown: (error as { threadDown: unknown }).threadDown })).toBe(true);
      expect(await stream.next()).toEqual({ done: true, value: undefined });
      expect(await collect(own.stream<number>(3, { name: 'count' }))).toEqual([0, 1, 2]);
    } finally {
      await own.destroy();
    }
  });

  it('destroy() rejects a waiting next() with PoolClosedError; a destroyed pool’s stream too', async () => {
    const own = new ThreadPool({ filename: STREAMS, maxThreads: 1 });
    const stream = own.stream<number>(null, { name: 'hanging' });
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    const waiting = stream.next().catch((e: unknown) => e);
    await own.destroy();
    expect(await waiting).toBeInstanceOf(PoolClosedError);
    await expect(own.stream(1, { name: 'count' }).next()).rejects.toBeInstanceOf(PoolClosedError);
  });
});

describe('system.stream', () => {
  it('streams from a shard; stop() rejects a waiting next() with SystemStoppedError', async () => {
    const system = await start({ threads: 2 });
    let stream: TaskStream<number> | undefined;
    try {
      expect(await collect(system.stream<number>(STREAMS, 'count', 500))).toEqual(Array.from({ length: 500 }, (_, i) => i));
      stream = system.stream<number>(STREAMS, 'hanging');
      expect(await stream.next()).toEqual({ done: false, value: 1 });
    } finally {
      const waiting = stream?.next().catch((e: unknown) => e);
      await system.stop();
      if (waiting !== undefined) expect(await waiting).toBeInstanceOf(SystemStoppedError);
    }
    await expect(system.stream(STREAMS, 'count', 1).next()).rejects.toBeInstanceOf(SystemStoppedError);
  });
});
