/**
 * ThreadPool (piscina's API) and system.run on real shards: worker files in piscina's format,
 * named exports, async tasks, errors, aborts before and while a task runs, maxQueue, destroy, a
 * task that takes its thread down, and spreading over the threads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, ExitError, ModuleError, PoolClosedError, QueueFullError, ThreadPool, isThreadDown, start, type System } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const MATH = fixtureUrl('tasks/math');
/** piscina's README format, CommonJS: not compiled, so it is used from the source tree. */
const PISCINA_FILE = new URL('./fixtures/tasks/piscina-worker.cjs', import.meta.url);

/**
 * Async tasks of `ms` each, as many as the pool's threads take in flight, and one more: that last
 * one waits in the pool's queue, so the pool needs a drain (how many a thread takes varies:
 * src/main/tasks.ts).
 */
function fillUntilQueued(pool: ThreadPool, ms: number): Array<Promise<unknown>> {
  const tasks: Array<Promise<unknown>> = [];
  while (!pool.needsDrain) tasks.push(pool.run({ value: tasks.length, ms }, { name: 'later' }));
  return tasks;
}

let pool: ThreadPool;
beforeAll(() => {
  pool = new ThreadPool({ filename: MATH, maxThreads: 2 });
});
afterAll(() => pool.destroy());

describe('ThreadPool', () => {
  it('runs a piscina worker file unchanged (a path, CommonJS, module.exports = fn, and a named function)', async () => {
    const piscina = new ThreadPool({ filename: PISCINA_FILE.pathname, maxThreads: 1 });
    try {
      expect(await piscina.run({ a: 2, b: 3 })).toBe(5);
      expect(await piscina.run(7, { name: 'square' })).toBe(49);
    } finally {
      await piscina.destroy();
    }
  });

  it('runs the default export, named exports, async functions, and another file per task', async () => {
    expect(await pool.run({ a: 4, b: 6 })).toBe(10);
    expect(await pool.run(20, { name: 'fib' })).toBe(6765);
    expect(await pool.run({ value: { deep: [1, 'two'] }, ms: 5 }, { name: 'later' })).toEqual({ deep: [1, 'two'] });
    expect(await pool.run({ a: 1, b: 1 }, { filename: PISCINA_FILE })).toBe(2);
  });

  it('shares a SharedArrayBuffer with the tasks (Atomics across threads), and moves what transferList names', async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const done = await Promise.all(Array.from({ length: 8 }, () => pool.run({ counter, times: 1000 }, { name: 'bump' })));
    expect(Atomics.load(counter, 0)).toBe(8000);
    expect(Math.max(...(done as number[]))).toBe(8000);
    const bytes = new Uint8Array([1, 2, 3, 4]);
    expect(await pool.run(bytes.buffer, { name: 'sum', transferList: [bytes.buffer] })).toBe(10);
    expect(bytes.byteLength).toBe(0); // moved, not copied
  });

  it('a fresh pool whose first task holds a SharedArrayBuffer runs plain tasks after it on the same thread', async () => {
    const fresh = new ThreadPool({ filename: MATH, maxThreads: 1 });
    try {
      await fresh.ready();
      expect(await fresh.run({ counter: new Int32Array(new SharedArrayBuffer(4)), times: 2 }, { name: 'bump' })).toBe(2);
      expect(await fresh.run({ a: 1, b: 2 })).toBe(3);
    } finally {
      await fresh.destroy();
    }
  });

  it('concurrentTasksPerWorker (default 1): async tasks on one thread do not overlap; with 3 they do', async () => {
    for (const concurrency of [1, 3]) {
      const limited = new ThreadPool({ filename: MATH, maxThreads: 1, concurrentTasksPerWorker: concurrency });
      try {
        await limited.ready();
        const spans = (await Promise.all(Array.from({ length: 6 }, () => limited.run(30, { name: 'span' })))) as Array<[number, number]>;
        const overlap = Math.max(...spans.map(([start]) => spans.filter(([a, b]) => a <= start && start < b).length));
        if (concurrency === 1) expect(overlap).toBe(1);
        else expect(overlap).toBeGreaterThan(1);
      } finally {
        await limited.destroy();
      }
    }
  });

  it('a task that throws what cannot travel (a class instance) still rejects, with what it said', async () => {
    const error = await pool.run('odd', { name: 'throwOdd' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toMatch(/odd/);
    expect(await pool.run({ a: 2, b: 2 })).toBe(4);
  });

  it('rejects with what the task threw or rejected with, and the pool goes on', async () => {
    const thrown = await pool.run('bad input', { name: 'fail' }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(RangeError);
    expect((thrown as Error).message).toBe('bad input');
    expect((thrown as Error).stack).toMatch(/fail/);
    const rejected = await pool.run('later bad', { name: 'reject' }).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(TypeError);
    await expect(pool.run(1, { name: 'nope' })).rejects.toBeInstanceOf(ModuleError);
    await expect(pool.run(1, { filename: new URL('./missing.js', MATH) })).rejects.toThrow(/cannot import task module/);
    expect(await pool.run({ a: 1, b: 2 })).toBe(3);
  });

  it('spreads tasks over its threads: two 300 ms CPU tasks run at the same time, on two threads', async () => {
    await pool.ready();
    await Promise.all([pool.run(10, { name: 'spin' }), pool.run(10, { name: 'spin' })]); // warm both
    const [a, b] = (await Promise.all([pool.run(300, { name: 'spinSpan' }), pool.run(300, { name: 'spinSpan' })])) as Array<{ thread: number; start: number; end: number }>;
    // Overlapping spans, not a wall-clock bound: on a loaded machine two parallel spins take longer, but still overlap.
    expect(a.thread).not.toBe(b.thread);
    expect(a.start < b.end && b.start < a.end).toBe(true);
  });

  it('an abort before the task runs rejects with AbortError and the task never runs', async () => {
    const single = new ThreadPool({ filename: MATH, maxThreads: 1, concurrentTasksPerWorker: 1 });
    try {
      const already = AbortSignal.abort();
      await expect(single.run({ a: 1, b: 1 }, { signal: already })).rejects.toBeInstanceOf(AbortError);
      expect(await single.run({ a: 1, b: 1 })).toBe(2); // the thread's runner is up
      // Every thread busy, one task queued; the next waits in the queue too, where the abort finds it.
      const blockers = fillUntilQueued(single, 300);
      const controller = new AbortController();
      const queued = single.run({ a: 1, b: 1 }, { signal: controller.signal });
      // Not started: in the pool's queue, or held on the thread (which the thread changes as it goes).
      const before = single.queueSize;
      expect(before).toBeGreaterThanOrEqual(2);
      controller.abort();
      const error = await queued.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortError);
      expect((error as Error).name).toBe('AbortError');
      expect(single.queueSize).toBeLessThan(before);
      await Promise.all(blockers);
    } finally {
      await single.destroy();
    }
  });

  it('an abort while the task runs rejects at once and ends its thread, which comes back', async () => {
    const single = new ThreadPool({ filename: MATH, maxThreads: 1 });
    try {
      await single.run({ a: 0, b: 0 });
      const controller = new AbortController();
      const running = single.run(60_000, { name: 'spin', signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      controller.abort();
      await expect(running).rejects.toThrow(/aborted while it ran/);
      expect(performance.now() - started).toBeLessThan(2000); // at once: not after the 60 s task
      expect(await single.run({ a: 2, b: 2 })).toBe(4);
    } finally {
      await single.destroy();
    }
  });

  it('maxQueue: a task beyond it is refused with QueueFullError', async () => {
    const small = new ThreadPool({ filename: MATH, maxThreads: 1, maxQueue: 2 });
    try {
      await small.run({ a: 0, b: 0 });
      const running = fillUntilQueued(small, 300); // the last of them is queued: one place left
      const queued = [small.run({ a: 1, b: 1 })];
      await expect(small.run({ a: 3, b: 3 })).rejects.toBeInstanceOf(QueueFullError);
      expect(await Promise.all(queued)).toEqual([2]);
      await Promise.all(running);
    } finally {
      await small.destroy();
    }
  });

  it('destroy rejects what waits with PoolClosedError, and later runs too', async () => {
    const doomed = new ThreadPool({ filename: MATH, maxThreads: 1 });
    await doomed.run({ a: 0, b: 0 });
    const running = fillUntilQueued(doomed, 300).map((task) => task.catch((e: unknown) => e));
    const waiting = doomed.run({ a: 1, b: 1 }).catch((e: unknown) => e);
    await doomed.destroy();
    expect(await waiting).toBeInstanceOf(PoolClosedError);
    await expect(doomed.run({ a: 1, b: 1 })).rejects.toBeInstanceOf(PoolClosedError);
    await Promise.all(running);
  });

  it('a task that takes its thread down rejects alone; tasks that only waited there run elsewhere', async () => {
    const crashy = new ThreadPool({ filename: MATH, maxThreads: 2 });
    try {
      await Promise.all([crashy.run({ a: 0, b: 0 }), crashy.run({ a: 0, b: 0 })]);
      const slow = Array.from({ length: 20 }, (_, i) => crashy.run(20, { name: 'spin' }).then(() => i));
      const crash = crashy.run(null, { name: 'exit' }).catch((e: unknown) => e);
      const after = Array.from({ length: 20 }, (_, i) => crashy.run({ a: i, b: 1 }));
      const error = await crash;
      expect(error).toBeInstanceOf(ExitError);
      expect(isThreadDown((error as ExitError).reason)).toBe(true);
      expect(await Promise.all(slow)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(await Promise.all(after)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await crashy.destroy();
    }
  });
});

describe('system.run and system.threadPool', () => {
  let system: System;
  beforeAll(async () => {
    system = await start({ threads: 2 });
  });
  afterAll(() => system.stop());

  it('runs a named export once, with several arguments', async () => {
    expect(await system.run(MATH, 'mul', 6, 7)).toBe(42);
    expect(await system.run(MATH, 'default', { a: 1, b: 2 })).toBe(3);
  });

  it('threadPool runs on the system’s shards and stops with it', async () => {
    const shared = system.threadPool({ filename: MATH });
    expect(await shared.run({ a: 5, b: 5 })).toBe(10);
    await shared.destroy(); // its own queue only: the system goes on
    expect(await system.run(MATH, 'mul', 2, 2)).toBe(4);
  });
});
