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
 * What differs, on purpose: threads are weft shards, started once (`maxThreads` of them) and
 * restarted by the root supervisor when one dies, not grown and shrunk (`minThreads` and
 * `idleTimeout` are accepted and do nothing); tasks travel through the rings rather than
 * `postMessage`. A crashing task rejects its own promise; a task that takes its thread down rejects
 * with the thread's error (piscina's behaviour; weft's account on `threadDown`), or with
 * `ExitError({ threadDown })` if it died without one, and the others waiting there run elsewhere.
 * The README lists what still differs from piscina.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits, Transferable } from 'node:worker_threads';
import { InvalidArgumentError, InvalidOptionRangeError, InvalidOptionTypeError, PoolClosedError, describeValue } from '../shm/errors.js';
import { start, type System } from './system.js';
import { recycleLimits } from './options.js';
import { Recycler, type RecycleLimits } from './recycler.js';
import type { TaskDispatcher } from './tasks.js';

export interface ThreadPoolOptions {
  /** The worker file: a path or a file URL (piscina's `filename`). Optional: then each `run` names one. */
  filename?: string | URL | null;
  /** The export that runs a task, unless `run` says otherwise. @default 'default' */
  name?: string;
  /** Threads to run tasks on (its own shards; `system.threadPool` uses the system's). @default os.availableParallelism() */
  maxThreads?: number;
  /** Accepted for piscina compatibility; weft's threads do not shrink. */
  minThreads?: number;
  /** Accepted for piscina compatibility; weft's threads do not shrink. */
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
   * The task's `{ signal }` (its second argument) aborts at once; one that honours it answers and
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
  /**
   * piscina's other options, accepted so a piscina script runs unchanged, and not used by weft's
   * shards yet: `workerData`, `env`, `argv`, `execArgv`, `niceIncrement`, `trackUnmanagedFds`,
   * `recordTiming`, `atomics`, `taskQueue`, `closeTimeout`, `loadBalancer`, `workerHistogram`.
   */
  workerData?: unknown;
  env?: unknown;
  argv?: unknown;
  execArgv?: unknown;
  niceIncrement?: unknown;
  trackUnmanagedFds?: unknown;
  recordTiming?: unknown;
  atomics?: unknown;
  taskQueue?: unknown;
  closeTimeout?: unknown;
  loadBalancer?: unknown;
  workerHistogram?: unknown;
}

/** Every option name `ThreadPool` accepts: piscina's. Any other is refused (a typo would otherwise do nothing). */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  'filename', 'name', 'maxThreads', 'minThreads', 'idleTimeout', 'maxQueue', 'concurrentTasksPerWorker', 'resourceLimits',
  'abortGrace', 'maxTasksPerThread', 'maxHeapMB', 'maxAgeMs',
  'workerData', 'env', 'argv', 'execArgv', 'niceIncrement', 'trackUnmanagedFds', 'recordTiming', 'atomics', 'taskQueue',
  'closeTimeout', 'loadBalancer', 'workerHistogram',
]);

/** What the constructor works with, once `validate` has checked it. */
interface Resolved {
  filename: string | undefined;
  name: string;
  threads: number;
  concurrency: number;
  maxQueue: number;
  abortGrace: number | undefined;
  recycle: RecycleLimits;
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
  const { filename, name = 'default', minThreads, maxThreads, idleTimeout, maxQueue = Infinity, concurrentTasksPerWorker = 1, resourceLimits } = options;
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
  const file = filename === undefined || filename === null ? undefined : moduleUrl(filename);
  const { abortGrace } = options;
  if (abortGrace !== undefined && !(typeof abortGrace === 'number' && abortGrace >= 0 && abortGrace <= 2 ** 31 - 1)) throw bad('abortGrace', 'a number of ms from 0 to 2147483647', abortGrace);
  const recycle = recycleLimits(options, (message) => new InvalidOptionTypeError(message));
  return { filename: file, name, threads, concurrency: concurrentTasksPerWorker, maxQueue: queue, abortGrace, recycle };
}

export interface RunOptions {
  /** The export to call for this task. */
  name?: string;
  /** Another worker file for this task. */
  filename?: string | URL | null;
  /**
   * Aborts the task: it rejects with AbortError at once. Still in the pool's queue: it never runs.
   * Held on its thread behind async tasks: dropped there, it never runs. Started (or sent and about
   * to start): the task's own `signal` (its second argument) aborts in its thread, and the task has
   * `abortGrace` ms to answer; one that does keeps its thread, one that does not has its thread
   * ended (and restarted). Its result is dropped either way.
   */
  signal?: AbortSignal;
  /** ArrayBuffers, MessagePorts… in the task to move to the thread rather than copy (piscina's `transferList`). */
  transferList?: readonly Transferable[];
}

/**
 * The most tasks a thread holds per unit of `concurrentTasksPerWorker`, for tiny tasks: enough to
 * keep a ring busy. Long tasks are held a few at a time (the dispatcher adapts, src/main/tasks.ts).
 */
const PIPELINE = 512;

/** A worker file given as a path or a URL, as the URL string a thread imports. */
export function moduleUrl(file: string | URL, what = 'filename'): string {
  if (file instanceof URL) return file.href;
  if (typeof file !== 'string' || file === '') throw new InvalidArgumentError(`expected \`${what}\` to be a file path or a URL, got: ${describeValue(file)}`);
  return /^[a-z][a-z0-9+.-]*:/i.test(file) && !/^[a-z]:[\\/]/i.test(file) ? file : pathToFileURL(file).href;
}

export class ThreadPool {
  private readonly filename: string | undefined;
  private readonly name: string;
  private readonly dispatcher: Promise<TaskDispatcher>;
  private readonly own: Promise<System> | undefined;
  private dispatcherNow: TaskDispatcher | undefined;
  /** The number of the pool's own function (filename, name) with `dispatcherNow`. */
  private defaultFunction = -1;
  private destroyed = false;
  readonly options: Readonly<ThreadPoolOptions>;

  /**
   * Starts a pool on shards of its own. `system` (internal: use `system.threadPool`) runs it on a
   * running system's shards instead.
   */
  constructor(options: ThreadPoolOptions = {}, system?: System) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionTypeError(`expected ThreadPool options (an object), got: ${describeValue(options)}`);
    this.options = options;
    const { filename, name, threads, concurrency, maxQueue, abortGrace, recycle } = validate(options);
    if (system !== undefined && Recycler.wanted(recycle)) {
      throw new InvalidOptionTypeError('recycling limits (`maxTasksPerThread`, `maxHeapMB`, `maxAgeMs`) are the system\'s on `system.threadPool`: give them to start()');
    }
    this.filename = filename;
    this.name = name;
    // Its own threads are replaced however often they die, as piscina replaces its workers.
    this.own = system === undefined ? start({ threads, resourceLimits: options.resourceLimits, threadRestarts: { maxRestarts: 1_000_000, maxSeconds: 1 }, ...recycle }) : undefined;
    const made = (s: System): TaskDispatcher => {
      const dispatcher = s.taskDispatcher({ window: concurrency * PIPELINE, floor: concurrency, maxQueue, concurrency, abortGrace });
      if (this.filename !== undefined) this.defaultFunction = dispatcher.functionNumber(this.filename, this.name);
      this.dispatcherNow = dispatcher;
      return dispatcher;
    };
    // On a running system, the dispatcher is made now, in this tick: a `system.stop()` right after
    // closes it with the others (one made a tick later would miss it, and its tasks would hang).
    this.dispatcher = this.own === undefined ? Promise.resolve(made(system!)) : this.own.then(made);
    // A pool that failed to start reports it from `run`; not as an unhandled rejection here.
    this.dispatcher.catch(() => undefined);
  }

  /** Runs `task` with the worker file's export; resolves with what it returns (or resolves to). */
  run(task: unknown, options?: RunOptions): Promise<unknown> {
    if (this.destroyed) return Promise.reject(new PoolClosedError('cannot run a task: the pool has been destroyed'));
    const now = this.dispatcherNow;
    if (options === undefined && now !== undefined && this.defaultFunction !== -1) return now.runFunction(this.defaultFunction, [task], undefined);
    let module: string | undefined;
    try {
      module = options?.filename === undefined || options.filename === null ? this.filename : moduleUrl(options.filename);
    } catch (error) {
      return Promise.reject(error);
    }
    if (module === undefined) return Promise.reject(new InvalidOptionTypeError('no worker file: give `filename` to the ThreadPool or to run()'));
    const name = options?.name ?? this.name;
    if (now !== undefined) return now.run(module, name, [task], options?.signal, options?.transferList);
    return this.dispatcher.then((dispatcher) => dispatcher.run(module, name, [task], options?.signal, options?.transferList));
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

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.dispatcherNow?.queued ?? 0;
  }

  /** Tasks finished (resolved or rejected). */
  get completed(): number {
    return this.dispatcherNow?.completed ?? 0;
  }

  /** Refuses new tasks, rejects the waiting ones (PoolClosedError), and ends the pool's own threads. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const dispatcher = await this.dispatcher.catch(() => undefined);
    dispatcher?.close('destroyed');
    const own = await this.own?.catch(() => undefined);
    await own?.stop();
  }
}
