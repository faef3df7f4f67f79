/**
 * The root supervisor: main's supervisor of the shards themselves. Each shard is its child; when
 * one goes down it is started again on the same index, so actors placed there by number, and the
 * supervisors that own them, find a thread to come back to.
 *
 * A shard goes down when it
 * - throws out of its scheduler: an uncaught exception or unhandled rejection in actor code that
 *   escaped the actor (a timer callback, a stray promise) — Node ends the worker with 'error';
 * - exits: `process.exit()` inside a worker ends that worker only;
 * - runs out of heap under `resourceLimits` ('error' ERR_WORKER_OUT_OF_MEMORY);
 * - hangs: it is not parked, yet its heartbeat word (bumped every scheduler turn) has not moved
 *   while it used `hangTimeout` ms of CPU, or sat blocked that long (hang-watch.ts: a thread that
 *   only waits for a core is not hung). JavaScript cannot be interrupted, so the thread is
 *   terminated; one that stopped with its heap nearly full is told as out of memory.
 *
 * Then, in this order: every live thread forgets it (`ThreadRuntime.threadDown`: its rings are
 * reset, calls to it rejected, links and monitors of its actors fired with `{ threadDown }`);
 * its thread line is reset (its pid serials go on counting); and a new incarnation starts. Only
 * after every live thread has reset its rings with the thread does the new one start, so it never
 * reads a stale frame. Restarts have an intensity, like any supervisor's: past it the system
 * emits 'fatal' and stops rather than restart forever.
 *
 * A new worker takes tens of milliseconds to boot and load the shard's modules, so one standby
 * worker is kept booted and waiting (shard.ts); a restart hands it the dead shard's index and
 * boots the next standby in the background. Measured by the crash-recovery benchmark. The first
 * standby is not booted beside the shards but later, in a quiet moment: on a machine with as many
 * cores as shards, a boot (~100 ms of CPU) takes that time from the shards' own boot and from
 * their first tasks (the pool-blocking and cpu-speedup benchmarks measured it), and a short
 * script never needs it. From `standbyDelay` ms after start, it boots at the first check (every
 * `standbyDelay` ms) that finds every shard parked (idle), or at the STANDBY_CHECKS-th whatever it
 * finds (a service busy from its first second pays the boot once, rather than a slow first
 * restart). A restart or recycle before then boots it at once.
 */
import { availableParallelism } from 'node:os';
import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { SpawnError } from '../shm/errors.js';
import { isParked } from '../shm/endpoint.js';
import type { ShardData } from '../shm/protocol.js';
import { heapIndex, heartbeatIndex, osThreadIndex, taskIndex, type RingSet } from '../shm/ring-set.js';
import { HangWatch } from './hang-watch.js';
import type { ExitReason } from '../common/actor.js';

/** Why a shard went down: `reason.threadDown` of every actor that went down with it. */
export interface ThreadDownCause {
  thread: number;
  /** Which life of the thread ended: 0 for the first, then one more per restart. */
  incarnation: number;
  /**
   * `'aborted'`: main ended it because an aborted task ignored its signal for `abortGrace` ms (see
   * src/main/tasks.ts; `error` says which). `'recycled'`: it passed a recycling limit and was
   * replaced once it held no task (`recycle` says which limit; src/main/recycler.ts): not a
   * restart, and not counted against `threadRestarts`. `'retired'`: an elastic ThreadPool stopped
   * it, idle (`retire`): not a failure, not restarted.
   */
  cause: 'exception' | 'exit' | 'out_of_memory' | 'hang' | 'aborted' | 'recycled' | 'retired';
  /** What was thrown, for 'exception' and 'out_of_memory'; why it was ended, for 'aborted'. */
  error?: Error;
  /** The limit a recycled thread passed: `maxTasksPerThread`, `maxHeapMB` or `maxAgeMs`. */
  recycle?: RecycleCause;
  /** The worker's exit code, for 'exit'. */
  exitCode?: number;
}

/** Which recycling limit a thread passed (see src/main/recycler.ts). */
export type RecycleCause = 'tasks' | 'heap' | 'age';

/** One restart, for the 'fatal' event's history. */
export interface ThreadRestart {
  thread: number;
  at: Date;
  cause: ThreadDownCause;
}

/** What the root supervisor needs from the system. */
export interface RootHost {
  /** The workerData of shard `thread`, a restarted one told why its last incarnation went down. */
  shardData(thread: number, previousDown?: ExitReason): ShardData;
  /**
   * Every live thread, main included, forgets `thread` (see `ThreadRuntime.threadDown`); resolves
   * with the shards that did not confirm in time (they are ended: a shard that cannot answer is hung).
   */
  /** `final`: the thread will not be started again (past `threadRestarts`: the system stops). */
  forgetThread(thread: number, reason: ExitReason, final: boolean): Promise<number[]>;
  /** Shard `thread` is running again. */
  threadUp(thread: number): void;
  threadDownEvent(cause: ThreadDownCause): void;
  threadUpEvent(event: { thread: number; restarts: number }): void;
  /** Restarts ran past their intensity: the system must stop. */
  fatal(history: ThreadRestart[]): void;
  /** A message shard `thread` posted on its port (side tasks' answers). */
  workerMessage(thread: number, message: unknown): void;
  /** Module URLs the shards run tasks from (and the task runner's): a standby imports them while it waits. */
  warmModules(): string[];
}

export interface RootOptions {
  url: URL;
  set: RingSet;
  shards: number;
  hangTimeout: number;
  resourceLimits: Worker['resourceLimits'] | undefined;
  /** Node flags for every shard (start's `execArgv`); undefined: inherited from main. */
  execArgv: string[] | undefined;
  maxRestarts: number;
  maxSeconds: number;
  /** Passed to every shard's `Worker` (a ThreadPool's `env`, `argv`, `execArgv`, `trackUnmanagedFds`). */
  worker?: ThreadWorkerOptions;
  /** Shards started at first (1..initial); the others wait, retired, until `grow` (an elastic ThreadPool). @default shards */
  initial?: number;
  /** Ms between the looks for a quiet moment to boot the first standby in (see the module comment); 0: it boots beside the shards. @default STANDBY_DELAY */
  standbyDelay?: number;
}

/** Ms after start before the first standby boots, when nothing asks for it sooner. */
const STANDBY_DELAY = 1000;
/** Checks for a quiet moment before the first standby boots anyway. */
const STANDBY_CHECKS = 10;

/** The `Worker` options a ThreadPool passes down to its own shards. */
export type ThreadWorkerOptions = Pick<WorkerOptions, 'env' | 'argv' | 'execArgv' | 'trackUnmanagedFds'>;

/** Restarts kept for the 'fatal' event. */
const HISTORY = 100;

/** Resolves when `worker` is running; rejects if it fails or exits first. */
function online(worker: Worker, thread: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new SpawnError(`shard ${thread} did not start: ${why}`));
    worker.once('online', () => resolve());
    worker.once('error', (error) => fail(error.message));
    worker.once('exit', (code) => fail(`it exited with code ${code}`));
  });
}

export class RootSupervisor {
  private readonly host: RootHost;
  private readonly options: RootOptions;
  /** Indexed by thread (0, main, unused). */
  readonly workers: Array<Worker | undefined> = [undefined];
  private readonly up: boolean[] = [false];
  /** The last error a worker raised before it exited (its exit event follows). */
  private readonly lastError: Array<Error | undefined> = [];
  /** Threads main terminated on purpose (a hang, an aborted task, a recycle, a retirement), with the cause their exit is told as. */
  private readonly ended = new Map<number, 'hang' | 'aborted' | 'out_of_memory' | 'recycled' | 'retired'>();
  /** For a thread in `ended`: the error an 'aborted' end is told with, or the limit a 'recycled' one passed. */
  private readonly endedWhy = new Map<number, Error | RecycleCause>();
  /** When each shard's present incarnation started (performance.now()), for `maxAgeMs`. */
  readonly startedAt: number[] = [0];
  /** Threads recycled so far, by the limit they passed. */
  readonly recycled: Record<RecycleCause, number> = { tasks: 0, heap: 0, age: 0 };
  /** Shards not running on purpose (never started, or retired idle): not down, and not restarted. */
  private readonly retired = new Set<number>();
  /** Which shards are hung (hang-watch.ts). */
  private readonly hangs: HangWatch;
  /** The last restarts (at most HISTORY), for the 'fatal' event. */
  private readonly history: ThreadRestart[] = [];
  /** Thread-down recoveries run one at a time, in the order threads went down (see `markDown`). */
  private recoveries: Promise<void> = Promise.resolve();
  /** When the restarts within the intensity window happened (ms), oldest first. */
  private readonly restartTimes: number[] = [];
  private restartsOf: number[] = [];
  private watchdog: NodeJS.Timeout | undefined;
  /** A booted worker waiting to become a shard; undefined if it failed to boot. */
  private standby: Promise<Worker | undefined> | undefined;
  /** The next look for a quiet moment to boot the first standby in (see `standbyWhenQuiet`). */
  private standbyTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(host: RootHost, options: RootOptions) {
    this.host = host;
    this.options = options;
    this.restartsOf = new Array<number>(options.shards + 1).fill(0);
    this.hangs = new HangWatch(options.hangTimeout);
  }

  /** Starts every shard; rejects (having ended them all) if one fails to start. */
  async start(): Promise<void> {
    warnIfOverCores(this.options.shards);
    const starting: Promise<void>[] = [];
    const initial = this.options.initial ?? this.options.shards;
    for (let thread = 1; thread <= this.options.shards; thread++) {
      if (thread <= initial) starting.push(this.launch(thread, this.newWorker(thread), true));
      else this.retired.add(thread);
    }
    const standbyDelay = this.options.standbyDelay ?? STANDBY_DELAY;
    if (standbyDelay === 0) this.ensureStandby(); // wanted from the first tasks: boots beside the shards
    try {
      await Promise.all(starting);
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (standbyDelay !== 0) this.standbyWhenQuiet(standbyDelay, STANDBY_CHECKS);
    if (Number.isFinite(this.options.hangTimeout)) {
      this.watchdog = setInterval(() => this.checkHeartbeats(), Math.max(5, Math.min(500, this.options.hangTimeout / 4))).unref();
    }
  }

  /** Restarts so far, per thread index (main's, index 0, is always 0). */
  restarts(): number[] {
    return [...this.restartsOf];
  }

  /** True while shard `thread` is running (not down, not restarting). */
  isUp(thread: number): boolean {
    return this.up[thread] === true;
  }

  /**
   * True if a core is free for main to spin on: fewer shards busy than cores, a shard being busy
   * while it is up and either not parked or in a task (a side task, or one started as an async
   * slot freed, runs while its loop is parked: its TASK word shows it). With every core taken by
   * a shard, main's spin would only take a core from one of them (the one whose answer it waits
   * for, or one running a long task), and the scheduler's slices would then hold main off for
   * milliseconds; parked, main is woken by the answer itself.
   */
  coreFreeForMain(): boolean {
    const { set, shards } = this.options;
    let busy = 0;
    for (let thread = 1; thread <= shards; thread++) {
      if (this.up[thread] !== true) continue;
      if ((!isParked(set, thread) || Atomics.load(set.words, taskIndex(thread)) !== 0) && ++busy >= CORES) return false;
    }
    return true;
  }

  /** Whether shard `thread` is up but being ended (`end`): it will answer nothing more. */
  isEnding(thread: number): boolean {
    return this.up[thread] === true && this.ended.has(thread);
  }

  /** Posts `message` to shard `thread`'s worker, moving `transferList` (throws if it cannot be cloned, or the shard is down). */
  post(thread: number, message: unknown, transferList: readonly Transferable[]): void {
    const worker = this.workers[thread];
    if (!this.up[thread] || worker === undefined) throw new SpawnError(`shard ${thread} is down; the task was not sent`);
    worker.postMessage(message, transferList);
  }

  /**
   * True while shard `thread` is retired (never started, or stopped idle), or on its way there (see
   * `retiring`): `grow` starts it.
   */
  isRetired(thread: number): boolean {
    return this.retired.has(thread) || this.retiring.has(thread);
  }

  /**
   * Shards stopped idle (`retire`) whose retirement is not done: down, and their rings not yet
   * forgotten by the live threads (which can take as long as a task that holds one of them). A
   * `grow` meanwhile is kept (`growWhenRetired`) and starts it the moment it is done: an elastic
   * pool whose burst comes just after an idle spell gets all its threads, not only those already
   * retired.
   */
  private readonly retiring = new Set<number>();
  private readonly growWhenRetired = new Set<number>();

  /**
   * Starts retired shard `thread` (an elastic pool needs it): 'threadUp' once it runs. Queued
   * behind recoveries and retirements, as they are behind each other. No-op unless retired.
   */
  grow(thread: number): void {
    if (this.retiring.has(thread) && !this.stopping) {
      this.growWhenRetired.add(thread);
      return;
    }
    if (!this.retired.has(thread) || this.stopping) return;
    this.retired.delete(thread);
    // A fresh worker, booting beside any other growing now, as piscina starts its workers (the
    // standby stays for crash recovery). Its rings were reset when it retired (or never used).
    this.growing.add(thread);
    this.launch(thread, this.newWorker(thread), true)
      .then(() => {
        this.growing.delete(thread);
        this.host.threadUpEvent({ thread, restarts: this.restartsOf[thread] });
        this.host.threadUp(thread);
      })
      .catch(() => {
        this.growing.delete(thread);
        if (!this.stopping) this.retired.add(thread); // it would not start: retired still, the next need tries again
      });
  }

  /** Shards `grow` is starting: not up yet, yet their rings are in use (a recovery must not reset them). */
  private readonly growing = new Set<number>();

  /**
   * Stops shard `thread`, idle, for good until `grow`: it goes down as 'retired' (its rings are
   * forgotten by the live threads as any dead thread's are), and is not restarted.
   */
  retire(thread: number): void {
    if (!this.up[thread] || this.ended.has(thread) || this.stopping) return;
    this.ended.set(thread, 'retired');
    this.retiring.add(thread);
    void this.workers[thread]!.terminate();
  }

  /**
   * Terminates shard `thread` (it is restarted as any shard that goes down), its exit told as
   * `cause`: with `why`, the error of an 'aborted' end or the limit of a 'recycled' one (a recycle
   * hands the index to the standby at once, and is no restart).
   */
  end(thread: number, cause: 'hang' | 'aborted' | 'recycled', why?: Error | RecycleCause): void {
    if (!this.up[thread] || this.ended.has(thread)) return;
    // A thread that stopped turning with its heap nearly full is dying of it (stalled in garbage
    // collection), not stuck in a loop: say so, as its own out-of-memory error would have.
    const heapFull = Atomics.load(this.options.set.words, heapIndex(thread)) >= HEAP_FULL_PERMILLE;
    this.ended.set(thread, cause === 'hang' && heapFull ? 'out_of_memory' : cause);
    if (why !== undefined) this.endedWhy.set(thread, why);
    void this.workers[thread]!.terminate();
  }

  /** A module the shards now run tasks from: the standby, if booted, imports it while it waits. */
  warm(module: string): void {
    void this.standby?.then((worker) => {
      try {
        worker?.postMessage({ preload: [module] });
      } catch {
        // It exited meanwhile: the next one is booted with the module in its list.
      }
    });
  }

  /**
   * Recycles shard `thread` (src/main/recycler.ts): once the standby has booted, so the index passes
   * to a ready thread with no boot in between, the shard is ended as 'recycled' and the standby
   * takes its place, as after any exit, but counted as a recycle, not a restart.
   */
  recycle(thread: number, cause: RecycleCause): void {
    const standby = this.ensureStandby() ?? Promise.resolve(undefined);
    void standby.then(() => {
      if (!this.stopping) this.end(thread, 'recycled', cause);
    });
  }

  /**
   * Ends every shard for good; their exits are no longer restarts. A recovery in progress (a shard
   * went down just before) may be about to give a worker the dead shard's place, or boot the next
   * standby: it is let finish (it gives up at its next step, seeing `stopping`), and only then is
   * every worker ended, so that none it started outlives the system and holds the process open.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.retired.clear();
    this.retiring.clear();
    this.growWhenRetired.clear();
    clearInterval(this.watchdog);
    clearTimeout(this.standbyTimer);
    await this.recoveries;
    const standby = this.standby;
    this.standby = undefined;
    await Promise.all([...this.workers.map((worker) => worker?.terminate()), standby?.then((worker) => worker?.terminate())]);
  }

  /** Node flags for a shard: start's `execArgv`, else a ThreadPool's, else main's (undefined). */
  private execArgv(): string[] | undefined {
    return this.options.execArgv ?? this.options.worker?.execArgv;
  }

  private newWorker(thread: number, previousDown?: ExitReason): Worker {
    const worker = new Worker(this.options.url, { ...this.options.worker, workerData: this.host.shardData(thread, previousDown), name: `weft shard ${thread}`, resourceLimits: this.options.resourceLimits, execArgv: this.execArgv() });
    // Shards do not hold the process open: main decides (see System's `hold`).
    worker.unref();
    return worker;
  }

  /** In `delay` ms, boots the first standby if every shard is idle (or this is the last of `checks`), else looks again then (see the module comment). */
  private standbyWhenQuiet(delay: number, checks: number): void {
    this.standbyTimer = setTimeout(() => {
      if (this.standby !== undefined || this.stopping) return;
      let quiet = true;
      for (let thread = 1; thread <= this.options.shards && quiet; thread++) quiet = this.up[thread] !== true || isParked(this.options.set, thread);
      if (quiet || checks <= 1) this.ensureStandby();
      else this.standbyWhenQuiet(delay, checks - 1);
    }, delay).unref();
  }

  /** The standby, booting it now if it has not been yet; undefined while stopping, or with no shards (inline mode). */
  private ensureStandby(): Promise<Worker | undefined> | undefined {
    if (this.standby === undefined && !this.stopping && this.options.shards !== 0) this.standby = this.bootStandby();
    return this.standby;
  }

  /** Boots a worker that loads the shard and waits to be given a thread; undefined if it fails. */
  private bootStandby(): Promise<Worker | undefined> {
    // It imports the modules the shards run tasks from before it says it is ready, so a thread it
    // replaces (a recycle, above all) answers its first task without a cold import.
    const worker = new Worker(this.options.url, { ...this.options.worker, workerData: { standby: true, preload: this.host.warmModules() }, name: 'weft shard (standby)', resourceLimits: this.options.resourceLimits, execArgv: this.execArgv() });
    worker.unref();
    this.standbyBooted = false;
    return new Promise((resolve) => {
      worker.once('message', () => {
        this.standbyBooted = true;
        resolve(worker);
      });
      // Failed: a recycle would wait for nothing, and takes a fresh worker (takeStandby); never stall one.
      worker.once('error', () => {
        this.standbyBooted = true;
        resolve(undefined);
      });
      worker.once('exit', () => {
        this.standbyBooted = true;
        resolve(undefined);
      });
    });
  }

  /** True once the standby has booted (or failed to): a recycle now waits for no boot. */
  standbyBooted = false;

  /** The standby, given thread `thread` (and the next standby booting); else a new worker. */
  private async takeStandby(thread: number, previousDown: ExitReason | undefined): Promise<[worker: Worker, fresh: boolean]> {
    // Taken before the await, so that no two recoveries are ever handed the same worker.
    const next = this.standby;
    this.standby = this.bootStandby();
    const standby = await next;
    if (this.stopping) {
      await standby?.terminate();
      throw new SpawnError('the system is stopping');
    }
    // threadId is -1 once a worker has exited: a standby that died while it waited is no use.
    if (standby === undefined || standby.threadId === -1) return [this.newWorker(thread, previousDown), true];
    standby.postMessage({ shard: this.host.shardData(thread, previousDown) });
    return [standby, false];
  }

  /** Makes `worker` shard `thread`; a `fresh` one (not a standby) is awaited until it runs. */
  private async launch(thread: number, worker: Worker, fresh: boolean): Promise<void> {
    if (this.stopping) {
      await worker.terminate();
      throw new SpawnError('the system is stopping');
    }
    this.workers[thread] = worker;
    this.lastError[thread] = undefined;
    worker.on('error', (error) => (this.lastError[thread] = error));
    worker.on('exit', (code) => this.markDown(thread, worker, code));
    worker.on('message', (message: unknown) => this.host.workerMessage(thread, message));
    // A 'message' listener refs the worker's port (Node does, so a worker's messages keep the
    // process alive): unref it again, shards do not hold the process open (see newWorker).
    worker.unref();
    if (fresh) await online(worker, thread);
    this.hangs.forget(thread);
    this.startedAt[thread] = performance.now();
    this.up[thread] = true;
  }

  /** Why `thread` exited with `code`. */
  private causeOf(thread: number, code: number): ThreadDownCause {
    const incarnation = this.restartsOf[thread];
    const ended = this.ended.get(thread);
    const why = this.endedWhy.get(thread);
    this.ended.delete(thread);
    this.endedWhy.delete(thread);
    const error = this.lastError[thread];
    // Its own out-of-memory error wins over a hang main saw first (it stalled in GC on its way out).
    if (error !== undefined && (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') return { thread, incarnation, cause: 'out_of_memory', error };
    if (ended === 'recycled') return { thread, incarnation, cause: ended, recycle: why as RecycleCause };
    if (ended === 'aborted' && why instanceof Error) return { thread, incarnation, cause: ended, error: why };
    if (ended !== undefined) return { thread, incarnation, cause: ended };
    if (error === undefined) return { thread, incarnation, cause: 'exit', exitCode: code };
    return { thread, incarnation, cause: 'exception', error };
  }

  /**
   * `worker`, shard `thread`, has exited: it is down from now on, and its recovery is queued behind
   * any other in progress. One at a time, so that when two shards die together, each recovery knows
   * which threads are dead (the rings between two dead threads are reset by main, since neither end
   * can) and no two are handed the same standby.
   */
  private markDown(thread: number, worker: Worker, code: number): void {
    // An exit while stopping, or of a worker already replaced (or never up), is not a restart.
    if (this.stopping || this.workers[thread] !== worker || !this.up[thread]) return;
    this.up[thread] = false;
    const cause = this.causeOf(thread, code);
    // A recovery that throws is a bug; the system stops (as past the intensity) rather than go on
    // with a shard missing, and the chain stays settled for the next one and for stop().
    this.recoveries = this.recoveries
      .then(() => this.recover(thread, cause))
      .catch(() => {
        if (!this.stopping) this.host.fatal([...this.history]);
      });
  }

  private async recover(thread: number, cause: ThreadDownCause): Promise<void> {
    if (this.stopping) return;
    this.host.threadDownEvent(cause);
    const reason: ExitReason = { threadDown: cause };
    const retiring = cause.cause === 'retired';
    if (!retiring) {
      // Asked to retire, it went down otherwise (its own error first): it is restarted, not retired.
      this.retiring.delete(thread);
      this.growWhenRetired.delete(thread);
    }
    // Decided first, so the live threads learn with the news of its death whether it comes back.
    // A recycle is no restart: it is planned, and counts against no intensity.
    const recycle = cause.cause === 'recycled' ? cause.recycle : undefined;
    let allowed = retiring || recycle !== undefined || this.allowRestart(thread, cause);
    const silent = await this.host.forgetThread(thread, reason, !allowed);
    // A shard that did not confirm may still reset its rings with `thread` later, under the new
    // incarnation's feet: it is ended (and recovered in turn) before the new one starts.
    for (const other of silent) {
      const worker = this.workers[other];
      if (!this.up[other] || worker === undefined) continue;
      if (!this.ended.has(other)) this.ended.set(other, 'hang'); // one being ended keeps its cause
      this.markDown(other, worker, 1);
      await worker.terminate();
    }
    if (this.stopping) return;
    const { set } = this.options;
    for (let other = 1; other <= this.options.shards; other++) {
      if (other === thread || this.up[other] || this.growing.has(other)) continue;
      // Both ends dead: nobody else will empty these two rings before the new incarnation reads them.
      set.resetPair(thread, other);
    }
    set.resetThreadLine(thread);
    if (retiring) {
      this.retired.add(thread); // until `grow`: not a restart
      this.retiring.delete(thread);
      if (this.growWhenRetired.delete(thread)) this.grow(thread);
      return;
    }
    for (;;) {
      if (!allowed) {
        this.host.fatal([...this.history]);
        return;
      }
      try {
        await this.launch(thread, ...(await this.takeStandby(thread, reason)));
        break;
      } catch {
        // It would not even start: that is one more restart, and perhaps the last.
        if (this.stopping) return;
      }
      allowed = this.allowRestart(thread, cause);
    }
    if (recycle !== undefined) this.recycled[recycle]++;
    else this.restartsOf[thread]++;
    this.host.threadUpEvent({ thread, restarts: this.restartsOf[thread] });
    this.host.threadUp(thread);
  }

  /** Records a restart; false if it is one too many within the window. */
  private allowRestart(thread: number, cause: ThreadDownCause): boolean {
    const now = performance.now();
    this.history.push({ thread, at: new Date(), cause });
    if (this.history.length > HISTORY) this.history.shift();
    this.restartTimes.push(now);
    while (this.restartTimes.length !== 0 && this.restartTimes[0] < now - this.options.maxSeconds * 1000) this.restartTimes.shift();
    return this.restartTimes.length <= this.options.maxRestarts;
  }

  /**
   * Terminates a shard that has work but whose scheduler has not turned for `hangTimeout`. A shard
   * running a task (ThreadPool, system.run) is not hung: a task may run as long as it needs, and is
   * stopped by its AbortSignal.
   */
  private checkHeartbeats(): void {
    const { set } = this.options;
    const words = set.words;
    const now = performance.now();
    for (let thread = 1; thread <= this.options.shards; thread++) {
      if (!this.up[thread] || this.ended.has(thread)) continue;
      const pulse = {
        beat: Atomics.load(words, heartbeatIndex(thread)),
        resting: isParked(set, thread) || Atomics.load(words, taskIndex(thread)) !== 0,
        osThread: Atomics.load(words, osThreadIndex(thread)),
      };
      if (this.hangs.isHung(thread, pulse, now)) this.end(thread, 'hang');
    }
  }
}

/** A heap this full (permille of its limit) when a thread stops turning means it is running out of memory. */
const HEAP_FULL_PERMILLE = 900;

/** Cores this process's threads share (see `coreFreeForMain`). */
const CORES = availableParallelism();

let warnedOverCores = false;

/**
 * More shards than cores cannot run at once: each waits its turn for a core, calls take longer, and
 * CPU-bound work gains nothing. Allowed (the watchdog tells a starved shard from a hung one), but
 * said once per process.
 */
function warnIfOverCores(shards: number): void {
  const cores = CORES;
  if (warnedOverCores || shards <= cores) return;
  warnedOverCores = true;
  process.emitWarning(`weft: ${shards} shards on ${cores} cores; shards beyond the cores only wait their turn for one`, { code: 'WEFT_THREADS_OVER_CORES' });
}
