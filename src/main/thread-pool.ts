/**
 * `ThreadPool`: piscina's API over weft's shards, so a worker file written for piscina runs
 * unchanged and a project moves over by changing its import:
 *
 * ```ts
 * // before: import Piscina from 'piscina'; const pool = new Piscina({ filename });
 * import { ThreadPool } from 'weft';
 * const pool = new ThreadPool({ filename: new URL('./worker.js', import.meta.url).href });
 * const result = await pool.run({ a: 4, b: 6 });   // the worker file's default export, on a shard
 * ```
 *
 * Its threads are weft shards of its own, restarted by the root supervisor when one dies; elastic
 * as piscina's (`minThreads` started, more on demand up to `maxThreads`, retired after
 * `idleTimeout` idle). Tasks travel through the rings rather than `postMessage`, except those that
 * carry what bytes cannot (a SharedArrayBuffer, a transferList, a class instance or a cycle):
 * those go on the thread's port, structured-cloned, in the same slots. A crashing task rejects its
 * own promise; a task that takes its thread down rejects with the thread's error (piscina's
 * behaviour; weft's account on `threadDown`), or with `ExitError({ threadDown })` if it died
 * without one, and the others waiting there run elsewhere. An idle pool holds nothing that keeps
 * the process alive. The README lists what still differs from piscina.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { ResourceLimits, Transferable, Worker } from 'node:worker_threads';
import { AbortError, InvalidOptionRangeError, InvalidOptionTypeError, PoolClosedError, describeValue } from '../shm/errors.js';
import { launch, type PoolThreads, type System } from './system.js';
import { streamAborted, type TaskDispatcher, type TaskTiming } from './tasks.js';
import { moduleUrl } from '../common/module-url.js';
import { TaskStream, abortableConnect, deferredChannel, highWaterMarkOf, refusedChannel, type StreamOptions } from '../common/stream.js';
import { abortable, latched, type Abortable, type TaskSignal } from './task-signal.js';
import { isMovable, move, moved } from './move.js';
import { isWorkerThread, workerData } from '../common/worker-state.js';
import type { ThreadWorkerOptions } from './root-supervisor.js';
import { recycleLimits, type StartOptions } from './options.js';
import { Recycler, type RecycleLimits } from './recycler.js';

export interface ThreadPoolOptions {
  /** The worker file: a path or a file URL (piscina's `filename`). Optional: then each `run` names one. */
  filename?: string | URL | null;
  /** The export that runs a task, unless `run` says otherwise. @default 'default' */
  name?: string;
  /** Threads to run tasks on (its own shards; `system.threadPool` uses the system's). @default os.availableParallelism() */
  maxThreads?: number;
  /**
   * Threads started at once; below `maxThreads`, the pool is elastic: another thread starts for each
   * task that finds none free, up to `maxThreads`, and one idle for `idleTimeout` stops, down to
   * this. Given alone above the default `maxThreads`, it raises `maxThreads` to it (as piscina).
   * @default maxThreads
   */
  minThreads?: number;
  /** How long (ms) a thread beyond `minThreads` may idle before it stops. @default 0 */
  idleTimeout?: number;
  /**
   * Tasks that may wait in the pool's queue; beyond, `run` rejects with QueueFullError. Unlike
   * piscina's, the tasks each thread holds in flight (up to hundreds of tiny ones) are not counted.
   * `'auto'`: maxThreads². @default Infinity
   */
  maxQueue?: number | 'auto';
  /** Async tasks one thread runs at once; also sets how many tasks each thread holds in flight. @default 1 */
  concurrentTasksPerWorker?: number;
  /** Heap and stack limits of each thread (its own shards only). */
  resourceLimits?: ResourceLimits;
  /**
   * How long (ms) an aborted task that has started may take to answer before its thread is ended.
   * The task's `{ signal }` (its last argument) aborts at once; one that honours it answers and
   * keeps its thread. @default the system's `abortGrace` (1000)
   */
  abortGrace?: number;
  /**
   * Recycles a thread once it has answered this many tasks: it takes no new task, finishes what it
   * holds, and a standby thread takes its place (its own shards only: on `system.threadPool`, give
   * the limits to `start()`). @default Infinity
   */
  maxTasksPerThread?: number;
  /** Recycles a thread once its used heap reaches this many MiB (its own shards only). @default Infinity */
  maxHeapMB?: number;
  /** Recycles a thread once it has run this long, ms (its own shards only). @default Infinity */
  maxAgeMs?: number;
  /** A value every thread's worker files read as `workerData` (`import { workerData } from 'weft'`; a copy per thread; own threads only). */
  workerData?: unknown;
  /** The threads' `process.env` (Node's Worker `env`: an object, or `SHARE_ENV`). @default a copy of main's */
  env?: NodeJS.ProcessEnv | symbol;
  /** The threads' extra `process.argv` (Node's Worker `argv`). */
  argv?: unknown[];
  /** The threads' Node flags (Node's Worker `execArgv`): `['--import', 'tsx']` runs `.ts` worker files. @default main's */
  execArgv?: string[];
  /** Node's Worker `trackUnmanagedFds`. @default true */
  trackUnmanagedFds?: boolean;
  /** Record each task's run and wait time (`histogram`, `utilization`). @default true */
  recordTiming?: boolean;
  /** How long `close()` waits for the tasks in hand (ms). @default 30000 */
  closeTimeout?: number;
  /**
   * Accepted (and checked) so a piscina script runs unchanged, with no effect here: `niceIncrement`
   * (threads are not reniced), `atomics` (weft's threads always wait on Atomics), `taskQueue`,
   * `loadBalancer` (weft's dispatcher places tasks: src/main/tasks.ts), `workerHistogram`,
   * `stricterFIFO` (weft's queue is always in order).
   */
  niceIncrement?: number;
  atomics?: 'sync' | 'async' | 'disabled';
  taskQueue?: unknown;
  loadBalancer?: unknown;
  workerHistogram?: boolean;
  /** piscina's strict queue order; weft's queue is always first in, first out. */
  stricterFIFO?: boolean;
}

/** Every option name `ThreadPool` accepts: piscina's. Any other is refused (a typo would otherwise do nothing). */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  'filename', 'name', 'maxThreads', 'minThreads', 'idleTimeout', 'maxQueue', 'concurrentTasksPerWorker', 'resourceLimits',
  'abortGrace', 'maxTasksPerThread', 'maxHeapMB', 'maxAgeMs',
  'workerData', 'env', 'argv', 'execArgv', 'niceIncrement', 'trackUnmanagedFds', 'recordTiming', 'atomics', 'taskQueue',
  'closeTimeout', 'loadBalancer', 'workerHistogram', 'stricterFIFO',
]);

/** What the constructor works with, once `validate` has checked it. */
interface Resolved {
  filename: string | undefined;
  name: string;
  threads: number;
  concurrency: number;
  maxQueue: number;
  recordTiming: boolean;
  closeTimeout: number;
  minThreads: number;
  idleTimeout: number;
  abortGrace: number | undefined;
  recycle: RecycleLimits;
  /** What `pool.options` reads back. */
  options: Readonly<ThreadPoolOptions>;
}

function isCount(value: unknown, least: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= least;
}

/**
 * piscina's checks, with piscina's error classes: a wrong type or value is an
 * InvalidOptionTypeError (a TypeError), `minThreads > maxThreads` an InvalidOptionRangeError (a
 * RangeError); both carry `code` WEFT_ERR_INVALID_ARGUMENT. Synchronous: `new ThreadPool()` throws.
 */
function validate(options: ThreadPoolOptions): Resolved {
  const bad = (what: string, expected: string, got: unknown) => new InvalidOptionTypeError(`expected \`${what}\` to be ${expected}, got: ${describeValue(got)}`);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new InvalidOptionTypeError(`unknown ThreadPool option \`${key}\`; accepted: ${[...OPTION_NAMES].join(', ')}`);
  }
  // Only the object's own options count: a `name` or `filename` on its prototype (a polluted
  // Object.prototype, say) must not choose what runs, as piscina's own test of it asserts.
  const own = ownOptions(options);
  const { filename, name = 'default', minThreads, maxThreads, idleTimeout, maxQueue = Infinity, concurrentTasksPerWorker = 1, resourceLimits } = own;
  if (filename !== undefined && filename !== null && (typeof filename === 'string' ? filename === '' : !(filename instanceof URL))) throw bad('filename', 'a file path or a URL', filename);
  if (typeof name !== 'string') throw bad('name', 'a string', name);
  if (maxThreads !== undefined && !isCount(maxThreads, 1)) throw bad('maxThreads', 'an integer >= 1', maxThreads);
  if (minThreads !== undefined && !isCount(minThreads, 0)) throw bad('minThreads', 'an integer >= 0', minThreads);
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw new InvalidOptionRangeError(`expected \`minThreads\` <= \`maxThreads\`, got: minThreads ${minThreads}, maxThreads ${maxThreads}`);
  }
  if (idleTimeout !== undefined && !isCount(idleTimeout, 0) && idleTimeout !== Infinity) throw bad('idleTimeout', 'an integer >= 0', idleTimeout);
  if (!isCount(concurrentTasksPerWorker, 1)) throw bad('concurrentTasksPerWorker', 'an integer >= 1', concurrentTasksPerWorker);
  if (resourceLimits !== undefined && (typeof resourceLimits !== 'object' || resourceLimits === null)) throw bad('resourceLimits', 'an object', resourceLimits);
  // As piscina: minThreads alone above the default raises maxThreads to it.
  const threads = maxThreads ?? Math.max(availableParallelism(), minThreads ?? 0);
  const queue = maxQueue === 'auto' ? threads * threads : maxQueue;
  if (!(queue === Infinity || isCount(queue, 0))) throw bad('maxQueue', "an integer >= 0, 'auto' or Infinity", maxQueue);
  const { recordTiming = true, closeTimeout = CLOSE_TIMEOUT_MS, trackUnmanagedFds, niceIncrement, atomics, env, argv, execArgv } = own;
  if (typeof recordTiming !== 'boolean') throw bad('recordTiming', 'a boolean', recordTiming);
  if (typeof closeTimeout !== 'number' || !(closeTimeout >= 0)) throw bad('closeTimeout', 'a number of ms >= 0', closeTimeout);
  if (trackUnmanagedFds !== undefined && typeof trackUnmanagedFds !== 'boolean') throw bad('trackUnmanagedFds', 'a boolean', trackUnmanagedFds);
  if (niceIncrement !== undefined && !(typeof niceIncrement === 'number' && niceIncrement >= 0)) throw bad('niceIncrement', 'a number >= 0', niceIncrement);
  if (atomics !== undefined && atomics !== 'sync' && atomics !== 'async' && atomics !== 'disabled') throw bad('atomics', "'sync', 'async' or 'disabled'", atomics);
  if (env !== undefined && (typeof env !== 'object' || env === null) && typeof env !== 'symbol') throw bad('env', 'an object (or SHARE_ENV)', env);
  if (argv !== undefined && !Array.isArray(argv)) throw bad('argv', 'an array', argv);
  if (execArgv !== undefined && !(Array.isArray(execArgv) && execArgv.every((arg) => typeof arg === 'string'))) throw bad('execArgv', 'an array of strings', execArgv);
  const file = filename === undefined || filename === null ? undefined : moduleUrl(filename);
  // Each thread gets a copy of workerData: one that structured clone cannot copy (a function in
  // it) fails here, at once, as piscina's constructor fails, rather than when the threads start.
  if (own.workerData !== undefined) {
    try {
      structuredClone(own.workerData);
    } catch (error) {
      throw new InvalidOptionTypeError(`expected \`workerData\` to be a value structured clone can copy: it could not be cloned (${(error as Error).message}), got: ${describeValue(own.workerData)}`, { cause: error });
    }
  }
  const { taskQueue, loadBalancer, workerHistogram, stricterFIFO } = own;
  if (taskQueue !== undefined && !isTaskQueue(taskQueue)) throw bad('taskQueue', 'a TaskQueue object (size, push, shift, remove)', taskQueue);
  if (loadBalancer !== undefined && typeof loadBalancer !== 'function') throw bad('loadBalancer', 'a function', loadBalancer);
  if (workerHistogram !== undefined && typeof workerHistogram !== 'boolean') throw bad('workerHistogram', 'a boolean', workerHistogram);
  if (stricterFIFO !== undefined && typeof stricterFIFO !== 'boolean') throw bad('stricterFIFO', 'a boolean', stricterFIFO);
  const { abortGrace } = own;
  if (abortGrace !== undefined && !(typeof abortGrace === 'number' && abortGrace >= 0 && abortGrace <= 2 ** 31 - 1)) throw bad('abortGrace', 'a number of ms from 0 to 2147483647', abortGrace);
  const recycle = recycleLimits(own, (message) => new InvalidOptionTypeError(message));
  const resolved = { filename: file, name, threads, concurrency: concurrentTasksPerWorker, maxQueue: queue, recordTiming, closeTimeout, minThreads: Math.min(minThreads ?? threads, threads), idleTimeout: idleTimeout ?? 0, abortGrace, recycle };
  // What `pool.options` reads back, as piscina's does: what was given, with the defaults and the
  // values worked out from them (`maxQueue: 'auto'` as a number, minThreads lowered to maxThreads).
  const readBack: ThreadPoolOptions = {
    ...own, filename: filename ?? null, name, minThreads: resolved.minThreads, maxThreads: threads, idleTimeout: resolved.idleTimeout,
    maxQueue: queue, concurrentTasksPerWorker, recordTiming, closeTimeout,
  };
  return { ...resolved, options: readBack };
}

/** The options object's own enumerable properties, as a plain object (nothing from its prototype). */
function ownOptions(options: ThreadPoolOptions): ThreadPoolOptions {
  return Object.fromEntries(Object.entries(options)) as ThreadPoolOptions;
}

/** piscina's `isTaskQueue`: what it accepts as a `taskQueue` (weft checks it and then has no use for it). */
function isTaskQueue(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const queue = value as Record<string, unknown>;
  return 'size' in queue && typeof queue.push === 'function' && typeof queue.shift === 'function' && typeof queue.remove === 'function';
}

export interface RunOptions {
  /** The export to call for this task. */
  name?: string | null;
  /** Another worker file for this task (resolved as the constructor's `filename` is). */
  filename?: string | URL | null;
  /**
   * Aborts the task: an `AbortSignal`, or an EventEmitter that emits 'abort' (piscina takes both);
   * anything else is a TypeError at once. The task rejects with AbortError at once. Still in the
   * pool's queue: it never runs. Held on its thread behind async tasks: dropped there, it never
   * runs. Started (or sent and about to start): the task's own `signal` (its last argument) aborts
   * in its thread, and the task has `abortGrace` ms to answer; one that does keeps its thread, one
   * that does not has its thread ended (and restarted). Its result is dropped either way.
   */
  signal?: TaskSignal | null;
  /** ArrayBuffers, MessagePorts… in the task to move to the thread rather than copy (piscina's `transferList`). */
  transferList?: readonly Transferable[];
}

/** Options of `pool.stream()`: which function, and how far its thread may run ahead of the consumer. */
export interface StreamRunOptions extends StreamOptions {
  /** The export to call (a generator function). */
  name?: string;
  /** Another worker file for this stream. */
  filename?: string | URL | null;
  /**
   * Ends the stream: the waiting (or next) `next()` rejects with `AbortError` (`cause`: the
   * signal's reason), and the generator on its thread is ended as `break` ends it (its finally
   * blocks run). An `AbortSignal`, or an EventEmitter that emits `'abort'`, as `run` takes.
   * @example pool.stream(path, { name: 'rows', signal: AbortSignal.timeout(5_000) })
   */
  signal?: TaskSignal | null;
}

/** Options of `pool.broadcast()`. */
export interface BroadcastOptions {
  /** The export to call on every thread. */
  name?: string;
  /** Another worker file. */
  filename?: string | URL | null;
}

/** What `close()` takes. */
export interface CloseOptions {
  /** Reject the tasks still waiting for a thread (AbortError) rather than run them first. @default false */
  force?: boolean;
}

/** One of `histogram.runTime` / `waitTime`: piscina's summary, in ms. */
export interface HistogramSummary {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p0_001: number;
  p0_01: number;
  p0_1: number;
  p1: number;
  p2_5: number;
  p10: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p97_5: number;
  p99: number;
  p99_9: number;
  p99_99: number;
  p99_999: number;
}

/** `pool.histogram`: how long tasks ran and waited (piscina's shape; with `recordTiming: false`, undefined summaries). */
export interface PoolHistogram {
  readonly runTime: HistogramSummary | undefined;
  readonly waitTime: HistogramSummary | undefined;
  resetRunTime(): void;
  resetWaitTime(): void;
}

const PERCENTILES: Array<[keyof HistogramSummary, number]> = [
  ['p0_001', 0.001], ['p0_01', 0.01], ['p0_1', 0.1], ['p1', 1], ['p2_5', 2.5], ['p10', 10], ['p25', 25], ['p50', 50],
  ['p75', 75], ['p90', 90], ['p97_5', 97.5], ['p99', 99], ['p99_9', 99.9], ['p99_99', 99.99], ['p99_999', 99.999],
];

/** A histogram's summary in ms (it records µs, as piscina's does). */
function summary(histogram: RecordableHistogram): HistogramSummary {
  const { mean, stddev, min, max } = histogram;
  const ms = (us: number) => (Number.isFinite(us) ? us / 1000 : 0);
  const out = { average: ms(mean), mean: ms(mean), stddev: ms(stddev), min: ms(min), max: ms(max) } as HistogramSummary;
  for (const [key, at] of PERCENTILES) out[key] = ms(histogram.percentile(at));
  return out;
}

/** Records ms as whole µs, at least 1 (a histogram takes integers >= 1). */
function record(histogram: RecordableHistogram, ms: number): void {
  histogram.record(Math.max(1, Math.trunc(ms * 1000)));
}

/**
 * The most tasks a thread holds per unit of `concurrentTasksPerWorker`, for tiny tasks: enough to
 * keep a ring busy. Long tasks are held a few at a time (the dispatcher adapts, src/main/tasks.ts).
 */
const PIPELINE = 512;

/** How long `close()` waits for the tasks in hand before it destroys the pool anyway (piscina's `closeTimeout`). */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * The events a ThreadPool emits, as piscina's: 'drain' when the tasks that waited for a thread have
 * all gone to one (after 'needsDrain', emitted when one had to wait); 'message' with what a task
 * posts with `parentPort.postMessage`; 'workerCreate' / 'workerDestroy' with a thread's `Worker`
 * when one starts or ends; 'error' when a thread dies with no task of the pool there to reject;
 * 'close' once `close()` is done.
 */
export interface ThreadPoolEvents {
  drain: [];
  needsDrain: [];
  message: [message: unknown];
  workerCreate: [worker: Worker];
  workerDestroy: [worker: Worker];
  error: [error: unknown];
  close: [];
}

/**
 * `Task` and `Result` type the pool as piscina's `Piscina<Task, Result>` does: `new
 * ThreadPool<string, number>(…)` makes `run(42)` and `const s: string = await pool.run('x')`
 * compile errors. Without them, a task is anything and a result is typed by where it goes.
 */
export class ThreadPool<Task = unknown, Result = unknown> extends EventEmitter<ThreadPoolEvents> {
  private readonly filename: string | undefined;
  private readonly name: string;
  private readonly dispatcher: Promise<TaskDispatcher>;
  private readonly own: Promise<System> | undefined;
  private dispatcherNow: TaskDispatcher | undefined;
  /** The number of the pool's own function (filename, name) with `dispatcherNow`. */
  private defaultFunction = -1;
  private destroyed = false;
  private closing: Promise<void> | undefined;
  private readonly started = performance.now();
  private readonly runTimes: RecordableHistogram | undefined;
  private readonly waitTimes: RecordableHistogram | undefined;
  private draining = false;
  private readonly threadCount: number;
  private readonly minThreadCount: number;
  private readonly closeTimeout: number;
  /** Each shard's Worker as last announced ('workerCreate'), for 'workerDestroy' and `threads`. */
  private readonly workers = new Map<number, Worker>();
  readonly options: Readonly<ThreadPoolOptions>;

  /** piscina's `move`: see src/main/move.ts. */
  static move = move;
  /** False on main; inside a task's module, read `isWorkerThread` from 'weft' (src/common/worker-state.ts). */
  static get isWorkerThread(): boolean {
    return isWorkerThread;
  }
  /** The pool's `workerData` inside a task's module (undefined on main). */
  static get workerData(): unknown {
    return workerData;
  }

  /**
   * Starts a pool on shards of its own. `system` (internal: use `system.threadPool`) runs it on a
   * running system's shards instead.
   */
  constructor(options: ThreadPoolOptions = {}, system?: System) {
    super();
    if (typeof options !== 'object' || options === null) throw new InvalidOptionTypeError(`expected ThreadPool options (an object), got: ${describeValue(options)}`);
    const { filename, name, threads, concurrency, maxQueue, recordTiming, closeTimeout, minThreads, idleTimeout, abortGrace, recycle, options: readBack } = validate(options);
    this.options = readBack;
    if (system !== undefined && Recycler.wanted(recycle)) {
      throw new InvalidOptionTypeError('recycling limits (`maxTasksPerThread`, `maxHeapMB`, `maxAgeMs`) are the system\'s on `system.threadPool`: give them to start()');
    }
    this.filename = filename;
    this.name = name;
    this.threadCount = threads;
    this.minThreadCount = minThreads;
    this.closeTimeout = closeTimeout;
    if (recordTiming) {
      this.runTimes = createHistogram();
      this.waitTimes = createHistogram();
    }
    const timing: TaskTiming | undefined = recordTiming
      ? { wait: (ms) => record(this.waitTimes!, ms), run: (ms) => record(this.runTimes!, ms) }
      : undefined;
    const { env, argv, execArgv, trackUnmanagedFds, workerData: data } = readBack;
    // Its own threads are replaced however often they die, as piscina replaces its workers.
    this.own = system === undefined ? this.launchOwn({ threads, resourceLimits: options.resourceLimits, threadRestarts: { maxRestarts: 1_000_000, maxSeconds: 1 }, ...recycle }, { worker: { env, argv, execArgv, trackUnmanagedFds } as ThreadWorkerOptions, workerData: data, initial: minThreads }) : undefined;
    const made = (s: System): TaskDispatcher => {
      // Its own threads are elastic when minThreads < maxThreads: started on demand, retired idle.
      const elastic = this.own !== undefined && minThreads < threads ? { min: minThreads, idleTimeout } : undefined;
      const dispatcher = s.taskDispatcher({ window: concurrency * PIPELINE, floor: concurrency, maxQueue, concurrency, timing, onDrain: this.onDrain, elastic, abortGrace });
      if (this.filename !== undefined) this.defaultFunction = dispatcher.functionNumber(this.filename, this.name);
      this.dispatcherNow = dispatcher;
      if (this.own !== undefined) this.watchThreads(s);
      return dispatcher;
    };
    // On a running system, the dispatcher is made now, in this tick: a `system.stop()` right after
    // closes it with the others (one made a tick later would miss it, and its tasks would hang).
    this.dispatcher = this.own === undefined ? Promise.resolve(made(system!)) : this.own.then(made);
    // A pool that failed to start reports it from `run`; not as an unhandled rejection here.
    this.dispatcher.catch(() => undefined);
  }

  /**
   * Starts the pool's own system; its Workers are in `threads` at once (piscina's are, from the
   * constructor on), though 'workerCreate' is emitted only once each is up (`watchThreads`).
   */
  private launchOwn(options: StartOptions, pool: PoolThreads): Promise<System> {
    let system: System;
    let ready: Promise<void>;
    try {
      [system, ready] = launch(options, pool);
    } catch (error) {
      return Promise.reject(error);
    }
    for (let thread = 1; thread <= system.threads; thread++) {
      const worker = system.shardWorker(thread, true);
      if (worker !== undefined) this.workers.set(thread, worker);
    }
    return ready.then(
      () => system,
      (error: unknown) => {
        this.workers.clear(); // they never came up
        throw error;
      },
    );
  }

  /** Announces its own shards' Workers and forwards what tasks post ('message'). */
  private watchThreads(system: System): void {
    system.onWorkerMessage((_thread, message) => this.emit('message', message));
    const announce = (thread: number) => {
      const worker = system.shardWorker(thread);
      if (worker === undefined) return;
      this.workers.set(thread, worker);
      this.emit('workerCreate', worker);
    };
    for (let thread = 1; thread <= system.threads; thread++) announce(thread);
    system.on('threadUp', ({ thread }) => announce(thread));
    system.on('threadDown', (cause) => {
      const worker = this.workers.get(cause.thread);
      this.workers.delete(cause.thread);
      if (worker !== undefined) this.emit('workerDestroy', worker);
      // A thread that died of an error while none of the pool's tasks was there: piscina's 'error'.
      if (cause.error !== undefined && cause.cause === 'exception' && this.listenerCount('error') !== 0 && this.dispatcherNow?.unanswered === 0) this.emit('error', cause.error);
    });
  }

  private readonly onDrain = (): void => {
    if (!this.draining) return;
    this.draining = false;
    this.emit('drain');
  };

  /**
   * Runs `task` with the worker file's export; resolves with what it returns (or resolves to).
   * `T` is what the caller expects back (inferred from where the result goes: `const n: number =
   * await pool.run(x)`), within the pool's `Result`; nothing checks it at run time.
   */
  run<T extends Result = Result>(task: Task, options?: RunOptions): Promise<T> {
    return this.runTask(task, options) as Promise<T>;
  }

  private runTask(task: unknown, options: RunOptions | undefined): Promise<unknown> {
    if (this.destroyed || this.closing !== undefined) return Promise.reject(new PoolClosedError(`cannot run a task: the pool has been ${this.destroyed ? 'destroyed' : 'closed'}`));
    const now = this.dispatcherNow;
    if (options === undefined && now !== undefined && this.defaultFunction !== -1 && !isMovable(task)) return this.queued(now.runFunction(this.defaultFunction, [task], undefined));
    let module: string | undefined;
    let signal: Abortable | undefined;
    let transferList = options?.transferList;
    try {
      if (options !== undefined && (typeof options !== 'object' || options === null)) throw new InvalidOptionTypeError(`expected run() options (an object), got: ${describeValue(options)}`);
      if (transferList !== undefined && !Array.isArray(transferList)) throw new InvalidOptionTypeError(`expected \`transferList\` to be an array, got: ${describeValue(transferList)}`);
      if (options?.name !== undefined && options.name !== null && typeof options.name !== 'string') throw new InvalidOptionTypeError(`expected \`name\` to be a string, got: ${describeValue(options.name)}`);
      const file = options?.filename;
      if (file !== undefined && file !== null && typeof file !== 'string' && !(file instanceof URL)) throw new InvalidOptionTypeError(`expected \`filename\` to be a file path or a URL, got: ${describeValue(file)}`);
      module = options?.filename === undefined || options.filename === null ? this.filename : moduleUrl(options.filename);
      signal = options?.signal === undefined || options.signal === null ? undefined : abortable(options.signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (module === undefined) return Promise.reject(new InvalidOptionTypeError('no worker file: give `filename` to the ThreadPool or to run()'));
    if (isMovable(task)) transferList = [...(transferList ?? []), moved(task)];
    const name = options?.name ?? this.name;
    if (now !== undefined) return this.queued(now.run(module, name, [task], signal, transferList));
    if (signal === undefined) return this.beforeStart((dispatcher) => dispatcher.run(module, name, [task], undefined, transferList));
    // The pool is starting: an abort before it is up must not be lost (an EventEmitter has no flag).
    const early = latched(signal);
    return this.beforeStart((dispatcher) => dispatcher.run(module, name, [task], early, transferList)).finally(early.release);
  }

  /**
   * A task run while the pool is still starting: it waits for the threads, so the pool needs a
   * drain (piscina's needsDrain is true while its workers are pending and full), and 'drain' comes
   * once the dispatcher has placed what waited (onDrain, or at once if nothing had to queue there).
   */
  private beforeStart(send: (dispatcher: TaskDispatcher) => Promise<unknown>): Promise<unknown> {
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.emit('needsDrain'));
    }
    return this.dispatcher.then((dispatcher) => {
      const answer = send(dispatcher);
      if (dispatcher.queued === 0) this.onDrain();
      return answer;
    });
  }

  /** `answer` of a task just taken: if it had to wait for a thread, the pool needs a drain (piscina's 'needsDrain'). */
  private queued(answer: Promise<unknown>): Promise<unknown> {
    if (!this.draining && this.dispatcherNow!.queued !== 0) {
      this.draining = true;
      queueMicrotask(() => this.emit('needsDrain'));
    }
    return answer;
  }

  /**
   * Streams the values of a generator task: the worker file's export (`export async function*
   * rows(query) { … yield row; }`, or a sync `function*`) is called with `task` on one thread, and
   * the stream yields what it yields, in order. Backpressure crosses the rings: the thread runs at
   * most `highWaterMark` values ahead of the consumer, then its generator waits until the consumer
   * pulls again. `break` (or `return()`) ends the generator on its thread (its finally blocks run)
   * and resolves once they have. The stream starts when first pulled.
   *
   * ```ts
   * for await (const row of pool.stream<Row>('big.csv', { name: 'rows' })) total += row.amount;
   * ```
   *
   * A function that returns an iterable (an array, say) streams its elements; one whose result is
   * not iterable fails the stream with NotIterableError. What the generator throws rejects the
   * `next()` after the values it yielded before; its thread dying rejects with the thread's error
   * (as `run` does); `destroy()` rejects a waiting `next()` with PoolClosedError.
   */
  stream<T = unknown>(task: unknown, options?: StreamRunOptions): TaskStream<T> {
    const highWaterMark = highWaterMarkOf(options);
    const signal = options?.signal == null ? undefined : abortable(options.signal);
    if (this.destroyed || this.closing !== undefined) return new TaskStream<T>(() => refusedChannel(() => new PoolClosedError(`cannot stream a task: the pool has been ${this.destroyed ? 'destroyed' : 'closed'}`)), highWaterMark);
    const target = this.target(options);
    if (target instanceof Error) return new TaskStream<T>(() => refusedChannel(() => target), highWaterMark);
    const [module, name] = target;
    const now = this.dispatcherNow;
    const connect = (stream: TaskStream<unknown>) =>
      now !== undefined ? now.streamChannel(now.functionNumber(module, name), [task], stream) : deferredChannel(this.dispatcher.then((d) => d.streamChannel(d.functionNumber(module, name), [task], stream)));
    return new TaskStream<T>(abortableConnect(signal, () => streamAborted(signal), connect), highWaterMark);
  }

  /**
   * Runs `task` once on every thread of the pool (cache warm-up, config reload) and resolves with
   * the results in thread order. A thread that is restarting runs it once it is back. If any
   * thread's run fails, the promise rejects with that error (the first to fail): the others still
   * ran theirs.
   *
   * ```ts
   * await pool.broadcast({ reload: 'config.json' }, { name: 'reload' });
   * ```
   */
  broadcast(task: unknown, options?: BroadcastOptions): Promise<unknown[]> {
    if (this.destroyed || this.closing !== undefined) return Promise.reject(new PoolClosedError(`cannot broadcast a task: the pool has been ${this.destroyed ? 'destroyed' : 'closed'}`));
    const target = this.target(options);
    if (target instanceof Error) return Promise.reject(target);
    const [module, name] = target;
    return this.dispatcher.then((dispatcher) => dispatcher.broadcast(dispatcher.functionNumber(module, name), [task]));
  }

  /** The worker file and export a call names (or the pool's); an error if there is no file. */
  private target(options: { name?: string; filename?: string | URL | null } | undefined): [module: string, name: string] | Error {
    let module: string | undefined;
    try {
      module = options?.filename === undefined || options.filename === null ? this.filename : moduleUrl(options.filename);
    } catch (error) {
      return error as Error;
    }
    if (module === undefined) return new InvalidOptionTypeError('no worker file: give `filename` to the ThreadPool or to run()');
    return [module, options?.name ?? this.name];
  }

  /**
   * Resolves once every thread can take tasks (runs before that simply wait); rejects if the pool
   * could not start, or with PoolClosedError (SystemStoppedError for a system's pool whose system
   * stopped) if it was destroyed before its threads were up.
   */
  async ready(): Promise<void> {
    if (this.destroyed) throw new PoolClosedError('the pool was destroyed: it can never be ready');
    await (await this.dispatcher).whenReady();
  }

  /** Tasks not started yet: waiting for a thread, or sent to one and waiting there (in its ring, or for a slot). */
  get queueSize(): number {
    return this.dispatcherNow?.notStarted ?? 0;
  }

  /** Tasks finished (resolved or rejected). */
  get completed(): number {
    return this.dispatcherNow?.completed ?? 0;
  }

  /** True while tasks wait for a thread (every thread has all it takes): until 'drain'. */
  get needsDrain(): boolean {
    return this.draining;
  }

  /** Milliseconds since the pool was made. */
  get duration(): number {
    return performance.now() - this.started;
  }

  /** The share of the pool's capacity (duration × maxThreads) its tasks ran for, from the run times recorded (0 with `recordTiming: false`). */
  get utilization(): number {
    const runs = this.runTimes;
    if (runs === undefined || runs.count === 0) return 0;
    return ((runs.mean / 1000) * runs.count) / (this.duration * this.threadCount);
  }

  /** Tasks' run and wait times (piscina's `histogram`), with resets. */
  get histogram(): PoolHistogram {
    const runs = this.runTimes;
    const waits = this.waitTimes;
    return {
      get runTime() {
        return runs === undefined ? undefined : summary(runs);
      },
      get waitTime() {
        return waits === undefined ? undefined : summary(waits);
      },
      resetRunTime: () => runs?.reset(),
      resetWaitTime: () => waits?.reset(),
    };
  }

  /** The pool's threads' `Worker`s (its own shards; empty for a system's pool, whose shards are the system's). */
  get threads(): Worker[] {
    return [...this.workers.values()];
  }

  get maxThreads(): number {
    return this.threadCount;
  }

  get minThreads(): number {
    return this.minThreadCount;
  }

  /**
   * Stops taking tasks (run() rejects with PoolClosedError), lets those in hand finish (with
   * `force`, those still waiting for a thread reject with AbortError first), then destroys the pool
   * and emits 'close'. If they take longer than `closeTimeout` (30 s), 'error' is emitted (if
   * heard) and the pool is destroyed anyway.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) return Promise.reject(new InvalidOptionTypeError(`expected close() options (an object), got: ${describeValue(options)}`));
    if (options.force !== undefined && typeof options.force !== 'boolean') return Promise.reject(new InvalidOptionTypeError(`expected \`force\` to be a boolean, got: ${describeValue(options.force)}`));
    this.closing ??= this.closeNow(options.force === true);
    return this.closing;
  }

  private async closeNow(force: boolean): Promise<void> {
    const dispatcher = await this.dispatcher.catch(() => undefined);
    if (dispatcher !== undefined) {
      if (force) {
        // Tasks run while the threads were starting wait only for them to be up: they are in hand
        // (piscina has given them to its pending workers), not waiting for a busy thread. Once every
        // thread has its runner (and has taken what it can), what still waits is refused.
        await dispatcher.whenReady().catch(() => undefined);
        dispatcher.rejectQueued(() => new AbortError('the pool was closed before the task ran'));
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.closeTimeout).unref()));
      const done = await Promise.race([dispatcher.whenIdle(), late]);
      clearTimeout(timer);
      if (done === 'late' && this.listenerCount('error') !== 0) this.emit('error', new PoolClosedError(`close() timed out after ${this.closeTimeout} ms with tasks unfinished; destroying the pool`));
    }
    await this.destroy();
    this.emit('close');
  }

  /** Refuses new tasks, rejects the waiting ones (PoolClosedError), and ends the pool's own threads at once. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const dispatcher = await this.dispatcher.catch(() => undefined);
    dispatcher?.close('destroyed');
    const own = await this.own?.catch(() => undefined);
    await own?.stopNow();
    for (const worker of this.workers.values()) this.emit('workerDestroy', worker);
    this.workers.clear();
  }

  /** `await using pool = new ThreadPool(…)`: closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
