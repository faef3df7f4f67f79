/**
 * A task stream's `signal` (`pool.stream(task, { signal })`, `system.streamWith(…, { signal })`):
 * an abort rejects the waiting or next `next()` with AbortError (the signal's reason as `cause`),
 * and ends the generator on its thread as `break` does, so its finally block runs there. The
 * generator's thread is watched through the fixture's counters (a one-thread pool).
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, InvalidArgumentError, ThreadPool, start, type System } from '../src/main/index.js';
import { fixtureUrl, until } from './helpers.js';

const STREAMS = fixtureUrl('tasks/streams');

interface Counters {
  made: number;
  finallies: number;
}

let pool: ThreadPool;
let system: System;
beforeAll(async () => {
  pool = new ThreadPool({ filename: STREAMS, maxThreads: 1 });
  system = await start({ threads: 1 });
});
afterAll(async () => {
  await pool.destroy();
  await system.stop();
});

const counters = (reset = false) => pool.run(reset, { name: 'counters' }) as Promise<Counters>;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got a value');
}

describe('pool.stream({ signal })', () => {
  it('an abort mid-stream rejects the waiting next() with AbortError and runs the generator\'s finally on its thread', async () => {
    await counters(true);
    const controller = new AbortController();
    const stream = pool.stream<number>(undefined, { name: 'endless', highWaterMark: 4, signal: controller.signal });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    const reason = new Error('enough');
    controller.abort(reason);
    const error = await rejection(stream.next());
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBe(reason);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    await until(async () => (await counters()).finallies === 1, 5_000, "the generator's finally block");
    // It stopped: no value is made after its finally ran.
    const { made } = await counters();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await counters()).made).toBe(made);
  });

  it('a waiting next() is rejected at once, not after the next value', async () => {
    const controller = new AbortController();
    const stream = pool.stream<number>({ n: 3, ms: 60_000 }, { name: 'slow', signal: controller.signal });
    const waiting = stream.next();
    setTimeout(() => controller.abort(), 50);
    expect(await rejection(waiting)).toBeInstanceOf(AbortError);
  });

  it('a stream awaiting its first value does not hold its thread: a task sent after it runs meanwhile, aborted or not', async () => {
    for (const abort of [false, true]) {
      const controller = new AbortController();
      const stream = pool.stream<number>({ n: 1, ms: 4_000 }, { name: 'slow', signal: controller.signal });
      const first = stream.next();
      first.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50)); // its opening call is on the thread, its generator awaiting
      if (abort) controller.abort();
      // The pool has one thread: counted as busy until its first value, the stream would hold this task 4 s.
      const startedAt = performance.now();
      await counters();
      expect(performance.now() - startedAt).toBeLessThan(2_000);
      controller.abort();
    }
  });

  it('a signal aborted before the first next() sends nothing: the generator never starts', async () => {
    await counters(true);
    const stream = pool.stream<number>(5, { name: 'count', signal: AbortSignal.abort('no') });
    const error = await rejection(stream.next());
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBe('no');
    expect((await counters()).made).toBe(0);
  });

  it('takes an EventEmitter that emits abort, as run does', async () => {
    const emitter = new EventEmitter();
    const stream = pool.stream<number>(undefined, { name: 'endless', highWaterMark: 2, signal: emitter });
    expect((await stream.next()).done).toBe(false);
    emitter.emit('abort');
    expect(await rejection(stream.next())).toBeInstanceOf(AbortError);
    expect(emitter.listenerCount('abort')).toBe(0);
  });

  it('an abort after the stream ended changes nothing, and its listener is gone', async () => {
    const emitter = new EventEmitter();
    const values: number[] = [];
    const stream = pool.stream<number>(3, { name: 'count', signal: emitter });
    expect(emitter.listenerCount('abort')).toBe(1);
    for await (const value of stream) values.push(value);
    expect(values).toEqual([0, 1, 2]);
    expect(emitter.listenerCount('abort')).toBe(0);
    emitter.emit('abort');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('a signal that is neither kind is a TypeError when the stream is made', () => {
    expect(() => pool.stream(1, { name: 'count', signal: {} as AbortSignal })).toThrow(TypeError);
  });

  it('the pool runs on after aborted streams', async () => {
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const stream = pool.stream<number>(undefined, { name: 'endless', highWaterMark: 8, signal: controller.signal });
      await stream.next();
      controller.abort();
      await rejection(stream.next());
    }
    const values: number[] = [];
    for await (const value of pool.stream<number>(4, { name: 'count' })) values.push(value);
    expect(values).toEqual([0, 1, 2, 3]);
  });
});

describe('system.streamWith', () => {
  it('streams with its arguments in an array, and its signal ends it', async () => {
    const values: number[] = [];
    for await (const value of system.streamWith<number>(STREAMS, 'count', [3])) values.push(value);
    expect(values).toEqual([0, 1, 2]);
    const controller = new AbortController();
    const stream = system.streamWith<number>(STREAMS, 'endless', [], { highWaterMark: 2, signal: controller.signal });
    expect((await stream.next()).done).toBe(false);
    controller.abort();
    expect(await rejection(stream.next())).toBeInstanceOf(AbortError);
  });

  it('refuses arguments that are not an array, and a bad highWaterMark, when called', () => {
    expect(() => system.streamWith(STREAMS, 'count', 3 as unknown as unknown[])).toThrow(InvalidArgumentError);
    expect(() => system.streamWith(STREAMS, 'count', [3], { highWaterMark: 0 })).toThrow(InvalidArgumentError);
  });
});
