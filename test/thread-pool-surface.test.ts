/**
 * The rest of piscina's surface, each assertion run against weft and against piscina itself as the
 * reference, on the same worker file: EventEmitter signals, workerData / env / execArgv and
 * `isWorkerThread` inside the thread, events ('message', 'workerCreate', 'needsDrain', 'drain',
 * 'close'), `threads`, `queueSize` (tasks waiting in a thread's ring count), `completed`,
 * `duration`, `utilization`, `histogram`, `close({ force })`, `move()`, and `run<T>()`'s type.
 */
import { EventEmitter } from 'node:events';
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { AbortError, EncodeError, ThreadPool, isWorkerThread } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

/** What the tests use of a pool: piscina's API, which weft's ThreadPool copies. */
interface Pool extends EventEmitter {
  run(task: unknown, options?: { name?: string; signal?: unknown; transferList?: ArrayBuffer[] }): Promise<unknown>;
  destroy(): Promise<void>;
  close(options?: { force?: boolean }): Promise<void>;
  readonly queueSize: number;
  readonly completed: number;
  readonly duration: number;
  readonly utilization: number;
  readonly needsDrain: boolean;
  readonly threads: unknown[];
  readonly histogram: { runTime: Record<string, number> | undefined; waitTime: Record<string, number> | undefined; resetRunTime(): void };
}

type Options = { maxThreads: number; workerData?: unknown; env?: Record<string, string | undefined>; execArgv?: string[]; concurrentTasksPerWorker?: number };

const libs: Array<[string, (options: Options) => Pool, (value: ArrayBuffer) => unknown]> = [
  ['weft', (options) => new ThreadPool({ filename: BLOCKING, ...options, env: { ...process.env, POOL_LIB: 'weft', ...options.env } }) as unknown as Pool, ThreadPool.move],
  ['piscina', (options) => new Piscina({ filename: BLOCKING, minThreads: options.maxThreads, ...options, env: { ...process.env, POOL_LIB: 'piscina', ...options.env } }) as unknown as Pool, Piscina.move],
];

/** Runs `body` with a pool made by `make(options)`, destroyed after. */
async function using(make: (options: Options) => Pool, options: Options, body: (pool: Pool) => Promise<void>): Promise<void> {
  const pool = make(options);
  try {
    await body(pool);
  } finally {
    await pool.destroy();
  }
}

/** What `run` did with an unusable signal: threw at once, or rejected; either way, what. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run().then(() => 'resolved', (error: unknown) => error);
  } catch (error) {
    return error;
  }
}

describe.each(libs)('%s: piscina surface', (lib, make, move) => {
  it('an EventEmitter signal aborts a running task, one with aborted: true rejects at once, an unusable one is a TypeError', async () => {
    await using(make, { maxThreads: 1 }, async (pool) => {
      await pool.run(null);
      const emitter = new EventEmitter();
      const running = pool.run(null, { name: 'forever', signal: emitter });
      await new Promise((resolve) => setTimeout(resolve, 100));
      emitter.emit('abort');
      const error = await running.catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      expect(emitter.listenerCount('abort')).toBe(0); // nothing left behind
      const already = Object.assign(new EventEmitter(), { aborted: true });
      expect(((await pool.run(null, { signal: already }).catch((e: unknown) => e)) as Error).name).toBe('AbortError');
      expect(await outcome(() => pool.run(null, { signal: {} }))).toBeInstanceOf(TypeError);
      expect(await outcome(() => pool.run(null, { signal: 42 }))).toBeInstanceOf(TypeError);
      expect(typeof (await pool.run(null))).toBe('number'); // the pool goes on
    });
  });

  it('worker files see isWorkerThread, workerData, env and execArgv', async () => {
    expect(isWorkerThread).toBe(false);
    const workerData = { answer: 42, list: [1, 2] };
    await using(make, { maxThreads: 1, workerData, env: { POOL_TAG: 'tagged' }, execArgv: ['--trace-warnings'] }, async (pool) => {
      expect(await pool.run(null, { name: 'seen' })).toEqual({ isWorkerThread: true, workerData, env: 'tagged', execArgv: ['--trace-warnings'] });
    });
  });

  it("emits 'message' for what a task posts, 'workerCreate' per thread; `threads` lists them", async () => {
    const pool = make({ maxThreads: 2 });
    const created: unknown[] = [];
    pool.on('workerCreate', (worker) => created.push(worker));
    try {
      const heard = new Promise((resolve) => pool.once('message', resolve));
      await pool.run({ hello: 'main' }, { name: 'post' });
      expect(await heard).toEqual({ hello: 'main' });
      await Promise.all([pool.run(50, { name: 'block' }), pool.run(50, { name: 'block' })]);
      expect(created).toHaveLength(2);
      expect(pool.threads).toHaveLength(2);
      for (const thread of pool.threads) expect(typeof (thread as { threadId: number }).threadId).toBe('number');
    } finally {
      await pool.destroy();
    }
  });

  it('queueSize counts tasks waiting behind a long one on its thread', async () => {
    await using(make, { maxThreads: 1 }, async (pool) => {
      await Promise.all(Array.from({ length: 200 }, () => pool.run(null))); // measured fast: a deep pipeline
      const long = pool.run(300, { name: 'block' });
      const quick = Array.from({ length: 20 }, () => pool.run(null));
      expect(pool.queueSize).toBeGreaterThanOrEqual(20);
      await Promise.all([long, ...quick]);
      expect(pool.queueSize).toBe(0);
    });
  });

  it("needsDrain while tasks wait for the thread, then 'drain'", async () => {
    await using(make, { maxThreads: 1 }, async (pool) => {
      await pool.run(null);
      const drained = new Promise<void>((resolve) => pool.once('drain', resolve));
      const tasks = [pool.run(200, { name: 'block' }), pool.run(200, { name: 'block' }), pool.run(200, { name: 'block' })];
      await new Promise((resolve) => setImmediate(resolve)); // piscina decides in a microtask
      expect(pool.needsDrain).toBe(true);
      await Promise.all(tasks);
      await drained;
      expect(pool.needsDrain).toBe(false);
    });
  });

  it('completed, duration, utilization and the run/wait histograms (with reset)', async () => {
    await using(make, { maxThreads: 1 }, async (pool) => {
      await pool.run(null);
      await pool.run(100, { name: 'block' });
      expect(pool.completed).toBe(2);
      expect(pool.duration).toBeGreaterThan(100);
      expect(pool.utilization).toBeGreaterThan(0);
      expect(pool.utilization).toBeLessThanOrEqual(1);
      const { runTime, waitTime } = pool.histogram;
      for (const key of ['average', 'mean', 'stddev', 'min', 'max', 'p50', 'p75', 'p90', 'p99']) {
        expect(typeof runTime![key]).toBe('number');
        expect(typeof waitTime![key]).toBe('number');
      }
      expect(runTime!.max).toBeGreaterThanOrEqual(100);
      pool.histogram.resetRunTime();
      expect(pool.histogram.runTime!.max).toBeLessThan(100);
    });
  });

  it('close() lets the tasks in hand finish, then refuses; close({ force }) rejects those still waiting with AbortError', async () => {
    const pool = make({ maxThreads: 1 });
    await pool.run(null);
    const closed = new Promise<void>((resolve) => pool.once('close', resolve));
    const running = pool.run(100, { name: 'block' });
    await pool.close();
    await closed;
    expect(((await running) as { thread: number }).thread).toEqual(expect.any(Number));
    // piscina starts a new thread for a task after close(); weft refuses it (README: what differs).
    if (lib === 'weft') await expect(pool.run(null)).rejects.toBeInstanceOf(Error);

    const forced = make({ maxThreads: 1 });
    await forced.run(null);
    const first = forced.run(200, { name: 'block' });
    await new Promise((resolve) => setTimeout(resolve, 50)); // running now
    const waiting = forced.run(200, { name: 'block' }).catch((e: unknown) => e);
    await forced.close({ force: true });
    expect(((await first) as { thread: number }).thread).toEqual(expect.any(Number));
    const error = await waiting;
    expect((error as Error).name).toBe('AbortError');
    if (lib === 'weft') expect(error).toBeInstanceOf(AbortError);
  });

  it('move() moves a task to the thread rather than copying it, and a task may return one', async () => {
    await using(make, { maxThreads: 1 }, async (pool) => {
      const bytes = new Uint8Array([1, 2, 3, 4]).buffer;
      const back = (await pool.run(move(bytes), { name: 'echoMoved' })) as ArrayBuffer;
      expect(bytes.byteLength).toBe(0); // moved
      expect([...new Uint8Array(back)]).toEqual([1, 2, 3, 4]);
    });
  });
});

describe('weft: run<T>()', () => {
  it('is typed by where its result goes', async () => {
    const pool = new ThreadPool({ filename: BLOCKING, maxThreads: 1 });
    try {
      const thread: number = await pool.run(null); // compiles: T is inferred as number
      expect(thread).toEqual(expect.any(Number));
    } finally {
      await pool.destroy();
    }
  });
});

describe('weft: task arguments that cannot travel through the rings', () => {
  it('carries class instances and cycles beside the rings, as structured clone does; a function is an EncodeError naming its path', async () => {
    const pool = new ThreadPool({ filename: BLOCKING, maxThreads: 1 });
    try {
      class Point {
        n = 7;
      }
      expect(await pool.run(new Point(), { name: 'describe' })).toEqual({ proto: 'Object', cyclic: false, n: 7 });
      const cycle: { self?: unknown; n: number } = { n: 1 };
      cycle.self = cycle;
      expect(await pool.run(cycle, { name: 'describe' })).toEqual({ proto: 'Object', cyclic: true, n: 1 });
      const error = (await pool.run({ n: 1, inner: { fn: () => 1 } }, { name: 'describe' }).catch((e: unknown) => e)) as EncodeError;
      expect(error).toBeInstanceOf(EncodeError);
      expect(error.path).toMatch(/inner/);
    } finally {
      await pool.destroy();
    }
  });
});
