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
 * - hangs: it is not parked, yet its heartbeat word (bumped every scheduler turn) has not moved for
 *   `hangTimeout` ms. JavaScript cannot be interrupted, so the thread is terminated.
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
 * boots the next standby in the background. Measured by the crash-recovery benchmark.
 */
import { Worker } from 'node:worker_threads';
import { SpawnError } from '../shm/errors.js';
import { isParked } from '../shm/endpoint.js';
import type { ShardData } from '../shm/protocol.js';
import { heartbeatIndex, type RingSet } from '../shm/ring-set.js';
import type { ExitReason } from '../common/actor.js';

/** Why a shard went down: `reason.threadDown` of every actor that went down with it. */
export interface ThreadDownCause {
  thread: number;
  cause: 'exception' | 'exit' | 'out_of_memory' | 'hang';
  /** What was thrown, for 'exception' and 'out_of_memory'. */
  error?: Error;
  /** The worker's exit code, for 'exit'. */
  exitCode?: number;
}

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
  /** Every live thread, main included, forgets `thread` (see `ThreadRuntime.threadDown`); resolves once all have. */
  forgetThread(thread: number, reason: ExitReason): Promise<void>;
  /** Shard `thread` is running again. */
  threadUp(thread: number): void;
  threadDownEvent(cause: ThreadDownCause): void;
  threadUpEvent(event: { thread: number; restarts: number }): void;
  /** Restarts ran past their intensity: the system must stop. */
  fatal(history: ThreadRestart[]): void;
}

export interface RootOptions {
  url: URL;
  set: RingSet;
  shards: number;
  hangTimeout: number;
  resourceLimits: Worker['resourceLimits'] | undefined;
  maxRestarts: number;
  maxSeconds: number;
}

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
  /** Threads the watchdog terminated, so their exit is told as a hang. */
  private readonly hung = new Set<number>();
  /** Per thread: the heartbeat last seen, and when it last moved (or the thread was parked). */
  private readonly beats: number[] = [];
  private readonly beatAt: number[] = [];
  private readonly history: ThreadRestart[] = [];
  /** When the restarts within the intensity window happened (ms), oldest first. */
  private readonly restartTimes: number[] = [];
  private restartsOf: number[] = [];
  private watchdog: NodeJS.Timeout | undefined;
  /** A booted worker waiting to become a shard; undefined if it failed to boot. */
  private standby: Promise<Worker | undefined> | undefined;
  private stopping = false;

  constructor(host: RootHost, options: RootOptions) {
    this.host = host;
    this.options = options;
    this.restartsOf = new Array<number>(options.shards + 1).fill(0);
  }

  /** Starts every shard; rejects (having ended them all) if one fails to start. */
  async start(): Promise<void> {
    const starting: Promise<void>[] = [];
    for (let thread = 1; thread <= this.options.shards; thread++) starting.push(this.launch(thread, this.newWorker(thread), true));
    this.standby = this.bootStandby();
    try {
      await Promise.all(starting);
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (Number.isFinite(this.options.hangTimeout)) {
      this.watchdog = setInterval(() => this.checkHeartbeats(), Math.max(5, Math.min(500, this.options.hangTimeout / 4))).unref();
    }
  }

  /** True while shard `thread` is running (not down, not restarting). */
  isUp(thread: number): boolean {
    return this.up[thread] === true;
  }

  /** Ends every shard for good; their exits are no longer restarts. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    const standby = this.standby;
    this.standby = undefined;
    await Promise.all([...this.workers.map((worker) => worker?.terminate()), standby?.then((worker) => worker?.terminate())]);
  }

  private newWorker(thread: number, previousDown?: ExitReason): Worker {
    const worker = new Worker(this.options.url, { workerData: this.host.shardData(thread, previousDown), name: `weft shard ${thread}`, resourceLimits: this.options.resourceLimits });
    // Shards do not hold the process open: main decides (see System's `hold`).
    worker.unref();
    return worker;
  }

  /** Boots a worker that loads the shard and waits to be given a thread; undefined if it fails. */
  private bootStandby(): Promise<Worker | undefined> {
    const worker = new Worker(this.options.url, { workerData: { standby: true }, name: 'weft shard (standby)', resourceLimits: this.options.resourceLimits });
    worker.unref();
    return new Promise((resolve) => {
      worker.once('message', () => resolve(worker));
      worker.once('error', () => resolve(undefined));
      worker.once('exit', () => resolve(undefined));
    });
  }

  /** The standby, given thread `thread` (and the next standby booting); else a new worker. */
  private async takeStandby(thread: number, previousDown: ExitReason): Promise<[worker: Worker, fresh: boolean]> {
    const standby = await this.standby;
    this.standby = this.stopping ? undefined : this.bootStandby();
    if (standby === undefined) return [this.newWorker(thread, previousDown), true];
    standby.postMessage({ shard: this.host.shardData(thread, previousDown) });
    return [standby, false];
  }

  /** Makes `worker` shard `thread`; a `fresh` one (not a standby) is awaited until it runs. */
  private async launch(thread: number, worker: Worker, fresh: boolean): Promise<void> {
    this.workers[thread] = worker;
    this.lastError[thread] = undefined;
    worker.on('error', (error) => (this.lastError[thread] = error));
    worker.on('exit', (code) => void this.down(thread, worker, code));
    if (fresh) await online(worker, thread);
    this.beats[thread] = Atomics.load(this.options.set.words, heartbeatIndex(thread));
    this.beatAt[thread] = performance.now();
    this.up[thread] = true;
  }

  /** Why `thread` exited with `code`. */
  private causeOf(thread: number, code: number): ThreadDownCause {
    if (this.hung.delete(thread)) return { thread, cause: 'hang' };
    const error = this.lastError[thread];
    if (error === undefined) return { thread, cause: 'exit', exitCode: code };
    const outOfMemory = (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
    return { thread, cause: outOfMemory ? 'out_of_memory' : 'exception', error };
  }

  private async down(thread: number, worker: Worker, code: number): Promise<void> {
    // An exit while stopping, or of a worker already replaced (or never up), is not a restart.
    if (this.stopping || this.workers[thread] !== worker || !this.up[thread]) return;
    this.up[thread] = false;
    const cause = this.causeOf(thread, code);
    this.host.threadDownEvent(cause);
    const reason: ExitReason = { threadDown: cause };
    await this.host.forgetThread(thread, reason);
    if (this.stopping) return;
    this.options.set.resetThreadLine(thread);
    for (;;) {
      if (!this.allowRestart(thread, cause)) {
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
    }
    this.restartsOf[thread]++;
    this.host.threadUpEvent({ thread, restarts: this.restartsOf[thread] });
    this.host.threadUp(thread);
  }

  /** Records a restart; false if it is one too many within the window. */
  private allowRestart(thread: number, cause: ThreadDownCause): boolean {
    const now = performance.now();
    this.history.push({ thread, at: new Date(), cause });
    this.restartTimes.push(now);
    while (this.restartTimes.length !== 0 && this.restartTimes[0] < now - this.options.maxSeconds * 1000) this.restartTimes.shift();
    return this.restartTimes.length <= this.options.maxRestarts;
  }

  /** Terminates a shard that has work but whose scheduler has not turned for `hangTimeout`. */
  private checkHeartbeats(): void {
    const { set, hangTimeout } = this.options;
    const now = performance.now();
    for (let thread = 1; thread <= this.options.shards; thread++) {
      if (!this.up[thread] || this.hung.has(thread)) continue;
      const beat = Atomics.load(set.words, heartbeatIndex(thread));
      if (beat !== this.beats[thread] || isParked(set, thread)) {
        this.beats[thread] = beat;
        this.beatAt[thread] = now;
      } else if (now - this.beatAt[thread] > hangTimeout) {
        this.hung.add(thread);
        void this.workers[thread]!.terminate();
      }
    }
  }
}
