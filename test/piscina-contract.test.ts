/**
 * piscina's own test suite, ported case by case and run against real piscina and weft's
 * `ThreadPool` in the same file, on the same worker files (test/fixtures/piscina: CommonJS
 * `module.exports = fn`, ES modules, named exports, async-loaded files). Every assertion is what
 * piscina's tests assert about its public API; where weft differs on purpose (README, "Migrating
 * from piscina"), the case says so and asserts weft's documented behaviour for weft.
 *
 * Ported (piscina file → cases here): simple-test, post-task, abort-task, pool-close,
 * pool-destroy, option-validation, thread-count, idle-timeout, test-uncaught-exception-from-handler,
 * messages, histogram, move-test, test-is-buffer-transferred, test-resourcelimits, task-queue (the
 * public parts), generics, queued-task-prefers-ready-worker, stricter-fifo.
 *
 * Not ported, and why:
 * - simple-test `Piscina.version`, `Piscina.Piscina`, load-with-esm (default export and the CJS/ESM
 *   export sets): the module's shape, not the pool's; moving over is `import { ThreadPool } from 'weft'`.
 * - move-test `isMovable` / `markMovable` / `isTransferable` and `transferableSymbol` / `valueSymbol`:
 *   piscina internals imported from its dist/common; `move()` on values is ported.
 * - task-queue 'custom task queue works', histogram 'workers has histogram', workers.test
 *   (`loadBalancer` sees `PiscinaWorker`s): piscina's scheduler plug-ins; weft checks `taskQueue`,
 *   `loadBalancer`, `workerHistogram` and ignores them (README: what differs).
 * - abort-task 'abortable tasks will not share workers (on worker available / destroy workers)':
 *   the order piscina's balancer picks among queued tasks (its fixture counts calls), not a
 *   public promise; what the abortable task's caller sees (it runs, or rejects on destroy) is ported.
 * - nice.test (`niceIncrement` renices the thread): weft accepts and ignores it (README); its
 *   validation is ported.
 * - atomics-optimization, async-context, console-log, iterators, issue-513, ready-message, the
 *   fixed-queue unit tests: piscina internals (Atomics wake-up mode, its queue class) or features
 *   outside the brief.
 * - post-task `maxThreads` default (cores × 1.5) and `minThreads` default (cores / 2): weft starts
 *   every thread, one per core, by default (README: what differs); the values given are ported.
 */
import { once, EventEmitter } from 'node:events';
import { types } from 'node:util';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError, QueueFullError, ThreadPool } from '../src/main/index.js';
import { sleep, until } from './helpers.js';

/** Plain worker files, not compiled: used from the source tree by both libraries. */
const fixture = (name: string): string => new URL(`./fixtures/piscina/${name}`, import.meta.url).pathname;
const EVAL = fixture('eval.cjs');
const GATES = fixture('gates.cjs');
const LIB = fixture('lib.cjs');

/** The part of piscina's API these cases use; weft's ThreadPool is checked to have it by running them. */
interface Pool extends EventEmitter {
  run(task: unknown, options?: unknown): Promise<any>;
  destroy(): Promise<void>;
  close(options?: { force?: boolean }): Promise<void>;
  readonly options: Record<string, any>;
  readonly threads: Array<{ threadId: number; ref?(): void }>;
  readonly queueSize: number;
  readonly completed: number;
  readonly duration: number;
  readonly utilization: number;
  readonly needsDrain: boolean;
  readonly maxThreads: number;
  readonly minThreads: number;
  readonly histogram: { runTime: Record<string, number> | undefined; waitTime: Record<string, number> | undefined; resetRunTime(): void; resetWaitTime(): void };
}
type Lib = 'piscina' | 'weft';
type PoolClass = new (options?: any) => Pool;

const libs: Array<[Lib, PoolClass, (value: any) => any]> = [
  ['piscina', Piscina as unknown as PoolClass, Piscina.move],
  ['weft', ThreadPool as unknown as PoolClass, ThreadPool.move],
];

/** Pools a case made: destroyed after it, whatever it did. */
const made: Pool[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((pool) => pool.destroy().catch(() => undefined)));
});

/** What `fn` threw synchronously (undefined if it did not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** What a promise rejected with ('resolved' if it did not). */
const rejection = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'resolved', (error: unknown) => error);

const i32 = () => new Int32Array(new SharedArrayBuffer(4));
const release = (gate: Int32Array, value = 1) => {
  Atomics.store(gate, 0, value);
  Atomics.notify(gate, 0);
};

describe.each(libs)('%s: piscina contract', (lib, Pool, move) => {
  const pool = (options: Record<string, unknown> = {}): Pool => {
    const made1 = new Pool({ env: { ...process.env, POOL_LIB: lib }, ...options });
    made.push(made1);
    return made1;
  };
  const isWeft = lib === 'weft';

  describe('simple-test', () => {
    it('is an EventEmitter, made with no options at all', () => {
      expect(pool({ maxThreads: 1 })).toBeInstanceOf(EventEmitter);
      const bare = new Pool();
      made.push(bare);
      expect(bare).toBeInstanceOf(EventEmitter);
    });

    it('options reads back what was given (minThreads, maxThreads, maxQueue)', () => {
      const p = pool({ minThreads: 1, maxThreads: 3, maxQueue: 30 });
      expect(p.options.minThreads).toBe(1);
      expect(p.options.maxThreads).toBe(3);
      expect(p.options.maxQueue).toBe(30);
      expect(p.maxThreads).toBe(3);
      expect(p.minThreads).toBe(1);
    });

    it('runs a sync and an async handler (module.exports = fn)', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      expect(await p.run('42')).toBe(42);
      expect(await p.run('Promise.resolve(42)')).toBe(42);
      expect(await p.run(42)).toBe(42);
    });

    it('filename may be left out, or null, and given to run(); with neither, run() rejects', async () => {
      for (const options of [{}, { filename: null }]) {
        const p = pool({ ...options, maxThreads: 1 });
        expect(await p.run('Promise.resolve(42)', { filename: EVAL })).toBe(42);
        const error = await rejection(p.run('x'));
        expect(error).toBeInstanceOf(Error);
        if (lib === 'piscina') expect((error as Error).message).toMatch(/filename must be provided to run\(\) or in options object/);
      }
    });

    it('env, argv and execArgv reach the threads', async () => {
      const withEnv = new Pool({ filename: EVAL, maxThreads: 1, env: { A: 'foo' } });
      made.push(withEnv);
      expect(await withEnv.run('({ ...process.env })')).toEqual({ A: 'foo' });
      expect(await pool({ filename: EVAL, maxThreads: 1, argv: ['a', 'b', 'c'] }).run('process.argv.slice(2)')).toEqual(['a', 'b', 'c']);
      expect(await pool({ filename: EVAL, maxThreads: 1, execArgv: ['--no-warnings'] }).run('process.execArgv')).toEqual(['--no-warnings']);
    });

    it('workerData reaches the worker file (undefined on main), isWorkerThread is true there (false on main)', async () => {
      expect((Pool as unknown as { workerData: unknown }).workerData).toBeUndefined();
      expect((Pool as unknown as { isWorkerThread: boolean }).isWorkerThread).toBe(false);
      const p = pool({ filename: LIB, maxThreads: 1, workerData: 'ABC' });
      expect(await p.run(null, { name: 'seen' })).toEqual({ isWorkerThread: true, workerData: 'ABC' });
    });

    it('workerData that cannot be cloned throws in the constructor', () => {
      const error = thrown(() => pool({ filename: EVAL, maxThreads: 1, workerData: { hello() {} } }));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/could not be cloned/);
    });

    it('filename may be a file:// URL, to CommonJS or an ES module', async () => {
      const asUrl = (path: string) => new URL(`file://${path}`).href;
      expect(await pool({ filename: asUrl(EVAL), maxThreads: 1 }).run('42')).toBe(42);
      expect(await pool({ filename: asUrl(fixture('esm-export.mjs')), maxThreads: 1 }).run('42')).toBe(42);
    });

    it('utilization is 0 before any task, between 0 and 1 after; duration is above 0', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      expect(p.utilization).toBe(0);
      await Promise.all([p.run('42'), p.run('41'), p.run('40')]);
      expect(p.utilization).toBeGreaterThan(0);
      expect(p.utilization).toBeLessThan(1);
      expect(p.duration).toBeGreaterThan(0);
    });

    it('named tasks: run({ name }), and the pool-wide `name` option', async () => {
      const plain = pool({ filename: fixture('multiple.cjs'), maxThreads: 1 });
      expect(await plain.run({}, { name: 'a' })).toBe('a');
      expect(await plain.run({}, { name: 'b' })).toBe('b');
      expect(await plain.run({})).toBe('a');
      const named = pool({ filename: fixture('multiple.cjs'), maxThreads: 1, name: 'b' });
      expect(await named.run({}, { name: 'a' })).toBe('a');
      expect(await named.run({})).toBe('b');
    });
  });

  describe('post-task', () => {
    it('transferList moves an ArrayBuffer; the task counts as completed', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      const ab = new ArrayBuffer(40);
      await p.run('0', { transferList: [ab] });
      expect(p.completed).toBe(1);
      expect(ab.byteLength).toBe(0);
    });

    it('a task holding what cannot be cloned (a MessagePort not transferred) rejects', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      expect(await rejection(p.run({ obj: new MessageChannel().port1 }))).toBeInstanceOf(Error);
    });

    it('rejects with what the handler threw or rejected with', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      await expect(p.run('Promise.reject(new Error("foo"))')).rejects.toThrow(/foo/);
      await expect(p.run('throw new Error("foo")')).rejects.toThrow(/foo/);
    });

    it('validates run() options: a TypeError as a rejection, never a throw', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      for (const options of [{ transferList: 42 }, { filename: 42 }, { name: 42 }, { signal: 42 }, 1]) {
        let result: Promise<unknown> | undefined;
        expect(thrown(() => (result = p.run('0', options)))).toBeUndefined();
        expect(await rejection(result!)).toBeInstanceOf(TypeError);
      }
    });

    it("emits 'drain' once the tasks that had to wait are taken, needsDrain false by then", async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      let drained = false;
      let needsDrainAtDrain = true;
      p.on('drain', () => {
        drained = true;
        needsDrainAtDrain = p.needsDrain;
      });
      await Promise.all([p.run('123'), p.run('123'), p.run('123')]);
      await sleep(0);
      expect(drained).toBe(true);
      expect(needsDrainAtDrain).toBe(false);
    });

    it("needsDrain is true once more is asked than the pool holds more is asked than the pool holds; 'needsDrain' then 'drain' are emitted", async () => {
      const p = pool({ filename: EVAL, maxThreads: 1, maxQueue: 3 });
      const needs = once(p, 'needsDrain');
      const drain = once(p, 'drain');
      const tasks = [p.run('123'), p.run('123'), p.run('123'), p.run('123')];
      await new Promise((resolve) => setImmediate(resolve)); // piscina decides in a microtask
      expect(p.needsDrain).toBe(true);
      await needs;
      await Promise.all(tasks);
      await drain;
    });

    it('loads worker files that export a promise of the function, or use top-level await', async () => {
      expect(await pool({ filename: fixture('eval-async.cjs'), maxThreads: 1 }).run('1')).toBe(1);
      expect(await pool({ filename: fixture('esm-async.mjs'), maxThreads: 1 }).run('1')).toBe(1);
    });

    it('maxThreads and minThreads read back what was given', () => {
      expect(pool({ filename: EVAL, maxThreads: 3, minThreads: 1 }).maxThreads).toBe(3);
      expect(pool({ filename: EVAL, minThreads: 2, maxThreads: 2 }).minThreads).toBe(2);
    });
  });

  describe('abort-task', () => {
    it('an AbortController aborts a running task: AbortError with the reason as cause', async () => {
      const p = pool({ filename: GATES, name: 'notifyThenSleep', maxThreads: 1 });
      const gate = i32();
      const controller = new AbortController();
      const running = rejection(p.run(gate, { signal: controller.signal }));
      await until(() => Atomics.load(gate, 0) === 1, 10_000, 'the task to start');
      const reason = new Error('custom reason');
      controller.abort(reason);
      const error = (await running) as Error;
      expect(error.name).toBe('AbortError');
      if (lib === 'piscina') expect(error.message).toBe('The task has been aborted');
      expect(error.cause).toBe(reason);
    });

    it('an EventEmitter aborts a task still waiting behind another; the other finishes', async () => {
      const p = pool({ filename: GATES, name: 'waitForNotify', maxThreads: 1 });
      const gates = [i32(), i32()];
      const first = p.run(gates[0]);
      const ee = new EventEmitter();
      const abortable = rejection(p.run(gates[1], { signal: ee }));
      ee.emit('abort');
      expect(((await abortable) as Error).name).toBe('AbortError');
      release(gates[0]);
      expect(await first).toBe(1);
    });

    it('a quick task sent after an abortable endless one still answers once that one is aborted', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1, concurrentTasksPerWorker: 2 });
      await p.run('0');
      const ee = new EventEmitter();
      const endless = rejection(p.run('while (true);', { signal: ee }));
      const quick = p.run('42');
      await sleep(50);
      ee.emit('abort');
      expect(((await endless) as Error).name).toBe('AbortError');
      expect(await quick).toBe(42);
    });

    it('an already aborted signal rejects at once (cause: its reason) and moves nothing', async () => {
      const p = pool({ filename: LIB, name: 'echo', maxThreads: 1 });
      const reason = new Error('custom reason');
      const data = new Uint8Array(new ArrayBuffer(4));
      const error = (await rejection(p.run(data, { signal: AbortSignal.abort(reason), transferList: [data.buffer] }))) as Error;
      expect(error.name).toBe('AbortError');
      expect(error.cause).toBe(reason);
      expect(data.length).toBe(4);
    });

    it('a task with a signal leaves no listener behind once it is done', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      const ee = new EventEmitter();
      expect(await p.run('1+1', { signal: ee })).toBe(2);
      expect(ee.listenerCount('abort')).toBe(0);
      const controller = new AbortController();
      expect(await p.run('1+1', { signal: controller.signal })).toBe(2);
    });

    it('destroy() rejects an abortable task that waits, and one that runs', async () => {
      const p = pool({ filename: GATES, name: 'sleep', maxThreads: 1, concurrentTasksPerWorker: 2 });
      const tasks = [rejection(p.run({ time: 5000 })), rejection(p.run({ time: 5000 })), rejection(p.run({ time: 100 }, { signal: new EventEmitter() }))];
      await sleep(100);
      await p.destroy();
      for (const error of await Promise.all(tasks)) {
        expect(error).toBeInstanceOf(Error);
        if (isWeft) expect(error).toBeInstanceOf(PoolClosedError); // README: errors are weft's classes
      }
    });
  });

  describe('pool-close', () => {
    it('close() with nothing pending resolves (also with minThreads 0)', async () => {
      await pool({ filename: GATES, maxThreads: 1 }).close();
      await pool({ filename: GATES, minThreads: 0, maxThreads: 1 }).close();
    });

    it("close() waits for the tasks queued and running, then emits 'close'", async () => {
      const p = pool({ filename: GATES, name: 'sleep', maxThreads: 1 });
      const tasks = [p.run({ time: 100 }), p.run({ time: 100 })];
      const closed = once(p, 'close');
      await new Promise((resolve) => setImmediate(resolve));
      await p.close();
      await closed;
      expect(await Promise.all(tasks)).toEqual([expect.any(Number), expect.any(Number)]);
    });

    it('a task run while the pool closes is refused; the one running completes', async () => {
      const p = pool({ filename: GATES, name: 'sleep', maxThreads: 1 });
      const running = p.run({ time: 100 });
      await new Promise((resolve) => setImmediate(resolve));
      const closing = p.close();
      const error = (await rejection(p.run({ time: 1000 }))) as Error & { cause?: unknown };
      if (isWeft) {
        // README, "Migrating from piscina": a task after close() rejects with PoolClosedError.
        expect(error).toBeInstanceOf(PoolClosedError);
      } else {
        expect(error.name).toBe('AbortError');
        expect(error.message).toBe('The task has been aborted');
      }
      expect(await running).toEqual(expect.any(Number));
      await closing;
    });

    it('close({ force: true }) lets running tasks complete and refuses tasks not started', async () => {
      const p = pool({ filename: GATES, name: 'sleep', maxThreads: 1, concurrentTasksPerWorker: 2 });
      const tasks = [p.run({ time: 5 }), p.run({ time: 5 })];
      const closed = once(p, 'close');
      const closing = p.close({ force: true });
      const later = [rejection(p.run({ time: 100 })), rejection(p.run({ time: 100 }))];
      expect(await Promise.all(tasks)).toEqual([expect.any(Number), expect.any(Number)]);
      for (const error of await Promise.all(later)) {
        if (isWeft) expect(error).toBeInstanceOf(PoolClosedError); // README: after close(), PoolClosedError
        else expect((error as Error).message).toMatch(/The task has been aborted/);
      }
      await closing;
      await closed;
    });

    it("close() past closeTimeout emits 'error', destroys the pool and rejects what was left", async () => {
      const p = pool({ filename: GATES, name: 'sleep', maxThreads: 1, closeTimeout: 5 });
      const tasks = [rejection(p.run({ time: 2000 })), rejection(p.run({ time: 2000 }))];
      const error = once(p, 'error');
      await new Promise((resolve) => setImmediate(resolve));
      await p.close();
      await error;
      for (const outcome of await Promise.all(tasks)) expect(outcome).toBeInstanceOf(Error);
    });
  });

  describe('pool-destroy', () => {
    it('destroy() while a task spins rejects it', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      const spinning = rejection(p.run('while (1) {}'));
      await new Promise((resolve) => setImmediate(resolve));
      await p.destroy();
      const error = (await spinning) as Error;
      expect(error).toBeInstanceOf(Error);
      if (lib === 'piscina') expect(error.message).toMatch(/Terminating worker thread/);
      else expect(error).toBeInstanceOf(PoolClosedError);
    });
  });

  describe('option-validation', () => {
    const throwsType = (options: Record<string, unknown>) => expect(thrown(() => pool(options))).toBeInstanceOf(TypeError);

    it('filename and name must be strings or null', () => {
      throwsType({ filename: 12 });
      throwsType({ name: 12 });
    });

    it('filename and name come from the options object itself, never its prototype', async () => {
      const polluted = Object.create({ filename: 'polluted' }) as Record<string, unknown>;
      polluted.env = { ...process.env, POOL_LIB: lib };
      polluted.maxThreads = 1;
      const p = new Pool(polluted);
      made.push(p);
      expect(await rejection(p.run({}))).toBeInstanceOf(Error);
      const named = Object.create({ name: 'b' }) as Record<string, unknown>;
      named.filename = fixture('multiple.cjs');
      named.maxThreads = 1;
      const q = new Pool(named);
      made.push(q);
      expect(await q.run({})).toBe('a');
    });

    it('minThreads, maxThreads, concurrentTasksPerWorker, idleTimeout, maxQueue are checked', () => {
      for (const value of [-1, 'string']) throwsType({ minThreads: value });
      for (const value of [-1, 0, 'string']) throwsType({ maxThreads: value });
      for (const value of [-1, 0, 'string']) throwsType({ concurrentTasksPerWorker: value });
      for (const value of [-1, 'string']) throwsType({ idleTimeout: value });
      for (const value of [-1, 'string']) throwsType({ maxQueue: value });
    });

    it("maxQueue 'auto' is maxThreads squared, as options.maxQueue", () => {
      expect(pool({ maxQueue: 'auto', maxThreads: 2 }).options.maxQueue).toBe(4);
    });

    it('atomics, resourceLimits, taskQueue, niceIncrement, trackUnmanagedFds, workerHistogram, loadBalancer, stricterFIFO are checked', () => {
      for (const value of [-1, 'string']) throwsType({ atomics: value });
      throwsType({ resourceLimits: 0 });
      for (const value of [0, 'test', null, new Date(), {}]) throwsType({ taskQueue: value });
      for (const value of [-1, 'string']) throwsType({ niceIncrement: value });
      for (const value of [-1, 'string']) throwsType({ trackUnmanagedFds: value });
      throwsType({ workerHistogram: 1 });
      throwsType({ loadBalancer: 'first' });
      throwsType({ stricterFIFO: 1 });
    });
  });

  describe('thread-count', () => {
    it('starts minThreads, grows to maxThreads under load (one workerCreate each), 0 threads once destroyed', async () => {
      const p = pool({ filename: EVAL, minThreads: 1, maxThreads: 2 });
      let created = 0;
      p.on('workerCreate', () => created++);
      expect(p.threads.length).toBe(1); // listed from the constructor on, as piscina's are
      await until(() => p.threads.length === 1, 10_000, 'minThreads to start');
      const spinning = [rejection(p.run('while (true) {}')), rejection(p.run('while (true) {}')), rejection(p.run('while (true) {}'))];
      await until(() => p.threads.length === 2, 10_000, 'a thread per task, up to maxThreads');
      await sleep(100);
      expect(p.threads.length).toBe(2);
      await p.destroy();
      expect(p.threads.length).toBe(0);
      await Promise.all(spinning);
      expect(created).toBeLessThanOrEqual(2);
    });

    it('maxThreads below the default lowers minThreads; minThreads above it raises maxThreads', () => {
      const low = pool({ filename: EVAL, maxThreads: 1 });
      expect(low.options.minThreads).toBe(1);
      expect(low.options.maxThreads).toBe(1);
      const cores = Math.ceil(1.5 * availableParallelism()) + 1; // above either library's default maxThreads
      const high = pool({ filename: EVAL, minThreads: cores });
      expect(high.options.minThreads).toBe(cores);
      expect(high.options.maxThreads).toBe(cores);
    });

    it('threads lists minThreads Workers right after the constructor', async () => {
      const p = pool({ filename: EVAL, minThreads: 2, maxThreads: 2 });
      expect(p.threads.length).toBe(2);
      expect(p.threads.every((worker) => typeof worker.threadId === 'number')).toBe(true);
      expect(await p.run('6 * 7')).toBe(42);
      expect(p.threads.length).toBe(2);
      await p.destroy();
    });

    it('minThreads above maxThreads is a RangeError', () => {
      expect(thrown(() => pool({ minThreads: 4, maxThreads: 2 }))).toBeInstanceOf(RangeError);
    });
  });

  describe('idle-timeout', () => {
    it('idleTimeout: Infinity keeps the threads beyond minThreads: the same two run later tasks', async () => {
      const p = pool({ filename: GATES, name: 'waitForOthers', idleTimeout: Infinity, minThreads: 1, maxThreads: 2 });
      const barrier = i32();
      const early = await Promise.all([p.run([barrier, 2]), p.run([barrier, 2])]);
      expect(new Set(early).size).toBe(2); // two tasks that wait for each other ran on two threads
      await sleep(500);
      expect(p.threads.length).toBe(2);
      const late = await Promise.all([p.run([barrier, 4]), p.run([barrier, 4])]);
      expect(new Set(late)).toEqual(new Set(early));
    });
  });

  describe('test-uncaught-exception-from-handler', () => {
    it('a throw, or an uncaught throw in an immediate while the task waits, rejects the task with it', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      await expect(p.run('throw new Error("not_caught")')).rejects.toThrow(/not_caught/);
      await expect(p.run('setImmediate(() => { throw new Error("not_caught") }); new Promise(() => {})')).rejects.toThrow(/not_caught/);
      expect(await p.run('42')).toBe(42);
    });

    it("an uncaught throw after the task answered is an 'error' event", async () => {
      const p = pool({ filename: EVAL, maxThreads: 1, atomics: 'disabled' });
      const error = once(p, 'error');
      expect(await p.run('setTimeout(() => { throw new Error("not_caught") }, 200); 42')).toBe(42);
      if (!isWeft) p.threads[0].ref?.(); // piscina's own test does this so its thread lives to throw
      expect(((await error)[0] as Error).message).toBe('not_caught');
    });

    it('process.exit() in a task rejects it, and a new thread takes the old one’s place', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      await p.run('0');
      const before = p.threads[0].threadId;
      const error = (await rejection(p.run('process.exit(1);'))) as Error;
      expect(error).toBeInstanceOf(Error);
      if (lib === 'piscina') expect(error.message).toMatch(/worker exited with code: 1/);
      expect(await p.run('42')).toBe(42);
      await until(() => p.threads.length === 1 && p.threads[0].threadId !== before, 10_000, 'the new thread');
    });

    it('a thread that exits after its task answered fails the next task there', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      expect(await p.run('setTimeout(() => { process.exit(1); }, 50); 42')).toBe(42);
      const next = (await rejection(p.run('new Promise((resolve) => setTimeout(() => resolve(42), 1000))'))) as Error;
      expect(next).toBeInstanceOf(Error);
      expect(await p.run('42')).toBe(42);
    });
  });

  describe('messages', () => {
    it("what a task posts with parentPort.postMessage is a 'message' event", async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      const message = once(p, 'message');
      expect(await p.run('require("worker_threads").parentPort.postMessage("some message"); 42')).toBe(42);
      expect((await message)[0]).toBe('some message');
    });
  });

  describe('histogram', () => {
    it('run and wait time histograms by default (and with recordTiming: true); none with recordTiming: false', async () => {
      for (const recordTiming of [undefined, true]) {
        const p = pool({ filename: EVAL, maxThreads: 1, ...(recordTiming === undefined ? {} : { recordTiming }) });
        await Promise.all(Array.from({ length: 10 }, () => p.run('42')));
        for (const summary of [p.histogram.waitTime, p.histogram.runTime]) {
          expect(summary).toBeTruthy();
          for (const key of ['average', 'mean', 'stddev', 'min', 'max']) expect(typeof summary![key]).toBe('number');
        }
        expect(typeof p.histogram.resetRunTime).toBe('function');
        expect(typeof p.histogram.resetWaitTime).toBe('function');
      }
      const off = pool({ filename: EVAL, maxThreads: 1, recordTiming: false });
      await Promise.all(Array.from({ length: 10 }, () => off.run('42')));
      expect(off.histogram.waitTime).toBeFalsy();
      expect(off.histogram.runTime).toBeFalsy();
    });
  });

  describe('move-test', () => {
    it('move() returns primitives and null as they are', () => {
      expect(move(null)).toBe(null);
      expect(move(1)).toBe(1);
      expect(move(false)).toBe(false);
      expect(move('test')).toBe('test');
    });

    it('a moved ArrayBuffer is moved, with or without an empty transferList', async () => {
      const p = pool({ filename: LIB, name: 'echo', maxThreads: 1 });
      for (const options of [undefined, { transferList: [] }]) {
        const ab = new ArrayBuffer(10);
        const back = await p.run(move(ab), options);
        expect(ab.byteLength).toBe(0);
        expect(types.isAnyArrayBuffer(back)).toBe(true);
      }
    });
  });

  describe('test-is-buffer-transferred', () => {
    it('a result marked with move() leaves the thread (piscina: transferred; weft: copied, as documented)', async () => {
      const p = pool({ filename: LIB, maxThreads: 1 });
      const back = await p.run({}, { name: 'sendMoved' });
      expect((back as ArrayBuffer).byteLength).toBe(128);
      // README, "Migrating from piscina": a result comes back through the rings as bytes, so the
      // thread keeps its own buffer (move() on a result changes nothing); piscina detaches it.
      expect(await p.run({}, { name: 'keptLength' })).toBe(isWeft ? 128 : 0);
    });
  });

  describe('test-resourcelimits', () => {
    it('resourceLimits reads back, and a task past them rejects with the out-of-memory error', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, codeRangeSizeMb: 16 } });
      p.on('error', () => undefined); // a replacement thread may hit the limit with no task to reject
      expect(p.options.resourceLimits).toMatchObject({ maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, codeRangeSizeMb: 16 });
      const error = (await rejection(p.run('const hog = []; for (;;) hog.push(new Array(1 << 16).fill(hog.length));'))) as Error & { code?: string };
      expect(error.message).toMatch(/Worker terminated due to reaching memory limit: JS heap out of memory/);
      expect(error.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    });
  });

  describe('task-queue', () => {
    it('queueSize counts the tasks that wait for a thread; threads grow to maxThreads first', async () => {
      const p = pool({ filename: GATES, name: 'waitForNotify', minThreads: 2, maxThreads: 3 });
      expect(p.queueSize).toBe(0);
      const gates = [i32(), i32(), i32(), i32()];
      const results = gates.map((gate) => p.run(gate));
      await until(() => p.threads.length === 3 && p.queueSize === 1, 10_000, 'three threads busy and one task waiting');
      for (const gate of gates) release(gate);
      expect(await Promise.all(results)).toEqual([1, 1, 1, 1]);
      expect(p.queueSize).toBe(0);
    });

    it('maxQueue: tasks beyond the running ones and the queue are refused', async () => {
      const p = pool({ filename: EVAL, minThreads: 0, maxThreads: 1, maxQueue: 2 });
      const spinning = [rejection(p.run('while (true) {}')), rejection(p.run('while (true) {}')), rejection(p.run('while (true) {}'))];
      const refused = await rejection(p.run('while (true) {}'));
      expect(refused).toBeInstanceOf(Error);
      if (isWeft) expect(refused).toBeInstanceOf(QueueFullError);
      else expect((refused as Error).message).toMatch(/Task queue is at limit/);
      await p.destroy();
      for (const error of await Promise.all(spinning)) expect(error).toBeInstanceOf(Error);
    });

    it('maxQueue 0: a task that finds every thread busy is refused', async () => {
      const p = pool({ filename: EVAL, minThreads: 1, maxThreads: 1, maxQueue: 0 });
      const spinning = rejection(p.run('while (true) {}'));
      await sleep(100);
      const refused = await rejection(p.run('while (true) {}'));
      if (isWeft) expect(refused).toBeInstanceOf(QueueFullError);
      else expect((refused as Error).message).toMatch(/No task queue available and all Workers are busy/);
      await p.destroy();
      expect(await spinning).toBeInstanceOf(Error);
    });

    it('concurrentTasksPerWorker 2 with maxQueue 0: two blocking tasks share the one thread', async () => {
      const p = pool({ filename: GATES, name: 'waitForNotify', minThreads: 1, maxThreads: 1, maxQueue: 0, concurrentTasksPerWorker: 2 });
      const gates = [i32(), i32()];
      const first = p.run(gates[0]);
      const second = p.run(gates[1]);
      expect(p.queueSize).toBe(0);
      release(gates[0]);
      release(gates[1]);
      expect(await Promise.all([first, second])).toEqual([1, 1]);
      expect(p.queueSize).toBe(0);
    });
  });

  describe('queued-task-prefers-ready-worker', () => {
    // A case from piscina's main branch that the installed piscina (5.x) does not pass yet: its
    // queued task goes to the thread still loading. weft holds it; piscina is not asked to.
    it.skipIf(lib === 'piscina')('a queued task goes to the ready thread that frees up, not to one still loading the worker file', async () => {
      const gates = new Int32Array(new SharedArrayBuffer(8)); // [ready, task]
      Atomics.store(gates, 0, 1);
      const p = pool({ filename: fixture('ready-gate.cjs'), minThreads: 1, maxThreads: 2, workerData: gates.buffer });
      const warm = await p.run({});
      Atomics.store(gates, 0, 0); // a thread that loads the file now waits at its top level
      const held = p.run({ hold: true });
      const queued = p.run({});
      Atomics.store(gates, 1, 1);
      Atomics.notify(gates, 1);
      expect(await held).toBe(warm);
      Atomics.store(gates, 0, 1);
      Atomics.notify(gates, 0);
      expect(await queued).toBe(warm);
    });
  });

  describe('stricter-fifo', () => {
    it('tasks queued on one thread run in submission order; stricterFIFO is accepted', async () => {
      const p = pool({ filename: GATES, minThreads: 1, maxThreads: 1, stricterFIFO: true });
      const tasks = Array.from({ length: 20 }, (_, i) => ({ i }));
      await Promise.all(tasks.map((task) => p.run(task, { name: 'logTask' })));
      expect(await p.run({}, { name: 'getLog' })).toEqual(tasks);
    });
  });

  describe('generics', () => {
    it('a pool with no type arguments runs, its results typed any', async () => {
      const p = pool({ filename: EVAL, maxThreads: 1 });
      const result: string = await p.run('Promise.resolve("Hello, world!")');
      expect(result).toBe('Hello, world!');
    });
  });
});

describe('generics: <Task, Result> type arguments (checked by tsc: npm run build)', () => {
  it('piscina and weft both take them, and type run() by them', async () => {
    const piscina = new Piscina<string, number>({ filename: EVAL, maxThreads: 1 });
    const weft = new ThreadPool<string, number>({ filename: EVAL, maxThreads: 1 });
    try {
      const fromPiscina: number = await piscina.run('Promise.resolve(42)');
      const fromWeft: number = await weft.run('Promise.resolve(42)');
      expect([fromPiscina, fromWeft]).toEqual([42, 42]);
      // @ts-expect-error a Task of the wrong type
      expect(await weft.run(42)).toBe(42);
      // @ts-expect-error a Result assigned where it does not fit
      const wrong: string = await weft.run('Promise.resolve(42)');
      expect(wrong).toBe(42);
      // @ts-expect-error (piscina, the reference) a Task of the wrong type
      expect(await piscina.run(42)).toBe(42);
    } finally {
      await Promise.all([piscina.destroy(), weft.destroy()]);
    }
  });
});
