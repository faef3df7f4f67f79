/**
 * Tasks: plain functions run on the shards, for `ThreadPool.run`, `system.run` and `system.map`.
 * A dispatcher keeps one task runner actor per shard (src/common/task-runner.ts) and hands each
 * task to the shard with the fewest in flight.
 *
 * Each shard holds a limited number of tasks in flight (in its ring, or running); the rest wait
 * here, in order, up to `maxQueue`. Async tasks the shard has started and that are awaiting
 * (parked: they hold no CPU, and may never settle) do not count against the limit, so a shard
 * with tasks stuck on it still takes work, as long as its runner has a slot left for it
 * (`concurrency`, a pool's `concurrentTasksPerWorker`); with every slot held by a parked task, a
 * task sent there would wait behind tasks that may never settle, so it goes to another shard, or
 * waits here for a slot. The limit adapts to how long tasks take on that shard: about
 * PIPELINE_MS of work, between `floor` and `window`, and `floor` (one task) until measured; it is
 * measured every SAMPLE answers, or every 2 × limit while that is fewer, and at most doubles per
 * measurement: a shard turning from long tasks to tiny ones is pipelined again within a few round
 * trips. Main reads answers in bursts, the later ones of a burst seemingly instant, so a short
 * measurement raises the limit only for tasks clearly tiny (QUICK_RAMP_MS); one that reads
 * tasks near PIPELINE_MS goes on to SAMPLE answers, as every measurement did before. Tiny
 * tasks then flow at ring speed (hundreds in flight, no round trip between them), while long ones
 * are handed out one at a time, as a pool that gives each task to the next free worker does, so no
 * task waits behind a long one while another shard idles. A shard whose runner has been on the
 * same task for more than STALL_MS (its TASK word has not moved) counts as busy whatever its limit
 * says, and its limit drops back to `floor` until measured again: a task that turned out long (or
 * never ends) holds only itself, not a pipeline of quick ones behind it.
 *
 * Fed one at a time, a thread idles between long tasks while its answer reaches main and the next
 * task reaches it (0.1-0.2 ms a task here, with main's wake and the thread's). So while tasks wait
 * here and every thread is busy with tasks measured long, each such thread is sent the next one
 * ahead (`sendAhead`), with its id in the thread's CLAIM word (ring-set.ts `claimIndex`). The thread
 * claims it as it starts it, right after its answer. Until then main may take it back
 * (`takeBackAhead`): as soon as any thread has room, or the one it waits on may not run it soon
 * (aborting, being ended or retired, or on a task that has run past OVERDUE_FACTOR times its
 * measured time), the oldest task waiting ahead goes to the free thread, or back to the head of
 * the queue. So a task never waits behind a long one while a thread has room, and a thread never
 * waits for main between long tasks.
 *
 * Failures, each its own: a task that throws rejects its promise with what it threw; one whose
 * signal aborts is rejected with `AbortError` at once, and its thread is told (an ABORT_FN call to
 * the runner, behind the task in the ring; a message on the port for a task sent beside the rings):
 * held by the runner, it is dropped there; started, its own `signal` aborts. A task that honours it
 * answers, and its thread goes on. Only if it has not answered within `abortGrace` ms is its shard
 * ended (JavaScript cannot be interrupted), as piscina ends its worker at once; until then the shard
 * gets no new task, so none waits behind it and none is lost with it. One that takes its whole shard down rejects
 * with `ExitError({ threadDown })`, while the tasks that were only waiting on that shard are run
 * again elsewhere; the shard comes back and gets a new runner. Once the dispatcher is closed, every
 * task it has not answered rejects with its closing error (PoolClosedError for a destroyed pool,
 * SystemStoppedError for a stopped system), whether it waited here or was on a shard.
 *
 * Two more shapes of task go through here: a streamed task (`stream`: a generator whose values come
 * back in batches under credit, src/common/stream.ts and src/common/task-stream.ts), dispatched like
 * any task for its opening call and then talking to its runner directly; and a broadcast
 * (`broadcast`: the same task once on every shard, outside the shards' limits).
 */
import { randomUUID } from 'node:crypto';
import type { Transferable } from 'node:worker_threads';
import { compiledModule } from '../common/compiled-module.js';
import { AbortError, EncodeError, ExitError, ModuleError, PoolClosedError, QueueFullError, SystemStoppedError, describeReason } from '../shm/errors.js';
import type { Pid } from '../shm/pid.js';
import type { ActorRef } from '../common/actor-ref.js';
import type Runner from '../common/task-runner.js';
import { ABORT_FN, STOP_TASK, type AbortAnswer, type Returned, type TaskCall } from '../common/task-runner.js';
import { STREAM_CANCEL, STREAM_PULL, type StreamBatch } from '../common/task-stream.js';
import { TaskStream, abortableConnect, type StreamChannel } from '../common/stream.js';
import { tracing } from '../common/tracing.js';
import type { Abortable } from './task-signal.js';
import { isThreadDown, type System } from './system.js';
import type { ThreadDownCause } from './root-supervisor.js';

/** The task runner's module, for the shards to import. */
export const TASK_RUNNER_URL = compiledModule('common/task-runner.js');
const RUNNER_URL = TASK_RUNNER_URL;

export interface DispatcherOptions {
  /** Most tasks in flight per shard. */
  window: number;
  /** Fewest tasks in flight per shard, however long tasks take (a pool's `concurrentTasksPerWorker`). @default 2 */
  floor?: number;
  /** Tasks that may wait here beyond those in flight. */
  maxQueue: number;
  /** Async tasks a runner keeps pending at once (piscina's `concurrentTasksPerWorker`). @default Infinity */
  concurrency?: number;
  /** Hears each task's wait (taken to sent to a thread) and run (sent to answered) times, in ms. */
  timing?: TaskTiming;
  /** Called when the tasks waiting here have all gone to threads (piscina's 'drain'). */
  onDrain?: () => void;
  /**
   * Elastic threads (a ThreadPool's own, with `minThreads` < `maxThreads`): a task that finds no
   * room starts a retired shard, if any; a shard idle for `idleTimeout` ms is retired while more
   * than `min` run.
   */
  elastic?: { min: number; idleTimeout: number };
  /** Ms an aborted task has to answer before its shard is ended. @default DEFAULT_ABORT_GRACE */
  abortGrace?: number;
}

/** What a dispatcher tells of each task's times (a ThreadPool's `histogram`). */
export interface TaskTiming {
  wait(ms: number): void;
  run(ms: number): void;
}

/** How long (ms) an aborted task may take to notice its signal before its thread is ended. */
export const DEFAULT_ABORT_GRACE = 1000;

/** What `System` lends a dispatcher beyond its public face (see `System.taskRunning`, `System.endThread`). */
export interface TaskHost {
  readonly system: System;
  /** Lanes to spread tasks over, numbered from 1: the shards, or one whose runner is on main (inline mode, src/main/inline.ts). */
  readonly lanes: number;
  /** The task id shard `thread` is running now, 0 if none. */
  taskRunning(thread: number): number;
  /** Async tasks started on shard `thread` and awaiting, by all its runners (ring-set.ts `parkedIndex`). */
  parked(thread: number): number;
  /**
   * Offers task `id` to shard `thread` ahead of its turn (see the module comment): stores it in the
   * thread's CLAIM word (ring-set.ts `claimIndex`) if no task waits there so. False if one does, or
   * where nothing goes ahead (inline mode).
   */
  offerAhead(thread: number, id: number): boolean;
  /** Takes task `id`, offered to shard `thread`, back if its runner has not claimed it; true if it did. */
  takeBack(thread: number, id: number): boolean;
  /** True once shard `thread`'s runner has claimed task `id` offered to it. */
  claimed(thread: number, id: number): boolean;
  /** Ends shard `thread` (it restarts), to stop an aborted task running there; `why` is told as the cause's error. False if it cannot be ended (inline mode: main). */
  endThread(thread: number, why: Error): boolean;
  /** Tells shard `thread` that task `id`, sent beside the rings, was aborted (src/main/side-tasks.ts). */
  abortBeside(thread: number, id: number, cause: unknown): void;
  /** Shard `thread` is being recycled (src/main/recycler.ts): it gets no new task. */
  recycling(thread: number): boolean;
  /** A task of shard `thread` was answered (counted for `maxTasksPerThread`); undefined when nothing counts. */
  readonly taskAnswered: ((thread: number) => void) | undefined;
  /** A task left shard `thread` unanswered (taken back: see `takeBackFrom`), which may leave it empty; undefined when nothing recycles. */
  readonly taskMoved?: ((thread: number) => void) | undefined;
  /** True while shard `thread` is retired (an elastic pool's thread not running: see `elastic`). */
  isRetired(thread: number): boolean;
  /** Starts retired shard `thread` ('threadUp' follows). */
  grow(thread: number): void;
  /** Stops shard `thread`, idle, until `grow` ('threadDown' as 'retired' follows). */
  retire(thread: number): void;
  /** Runs a task beside the rings, on shard `thread`'s port, in a slot of runner `key` there (src/main/side-tasks.ts). */
  runBeside(thread: number, id: number, module: string, name: string, args: unknown[], transferList: readonly Transferable[], key: number, unsendable?: EncodeError): Promise<unknown>;
  /** Reads what waits in main's rings now (answers among it), as main's receive loop would on its next turn. */
  readReplies(): void;
  /** The shards now run tasks from `module`: the standby imports it ahead (root-supervisor.ts `warm`). */
  warm(module: string): void;
  /** A call to a runner, with no timeout, that throws at once if the task cannot be encoded. */
  callRunner(runner: Pid, task: TaskCall): Promise<unknown>;
  /** One more (1) or one fewer (-1) task awaited that is known to answer late (`ThreadRuntime.slowAwaited`). */
  awaitSlow(delta: 1 | -1): void;
  /** The next task id: one counter for all of a system's dispatchers, since the shards' TASK words are shared. */
  takeId(): number;
  /** Forget this dispatcher (it was closed). */
  closed(dispatcher: TaskDispatcher): void;
}

interface Job {
  /** The function's number (see `functionNumber`). */
  readonly fn: number;
  readonly args: unknown[];
  /** Set: the task goes beside the rings, moving these (see `send`). */
  readonly transfer: readonly Transferable[] | undefined;
  readonly signal: Abortable | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Set once dispatched (ids run from 1 and are unique among tasks in flight). */
  id: number;
  shard: number;
  /** The caller has its answer (an abort may come first; the late result is then dropped). */
  settled: boolean;
  /** Stops listening to `signal`. */
  unlisten: (() => void) | undefined;
  /** Set while an aborted task has `abortGrace` ms left to answer (see `abort`). */
  grace: NodeJS.Timeout | undefined;
  /** The tasks its runner said were started and awaiting when told of the abort (undefined: not answered yet). */
  startedAtAbort: readonly number[] | undefined;
  /** The caller's trace context, when tracing is on: a queued task is sent in it, not in whoever's frees a thread. */
  readonly trace: string | undefined;
  /** Set for a streamed task's opening call: the credit it grants (see src/common/task-stream.ts). */
  readonly credit?: number;
  /** Told where a streamed task's opening call went (again, if it runs elsewhere after its thread died). */
  readonly placed?: (shard: number, runner: Pid, id: number) => void;
  /** With `timing`: when it was taken, and when it was sent to a thread (0: not yet). */
  readonly created: number;
  sentAt: number;
  /** With `timing`, for a task sent ahead: when it was sent, and when it is thought to have started (0: not known). */
  aheadAt: number;
  startAt: number;
}

/** A side-path task that moves nothing (it shares a SharedArrayBuffer, or holds a class instance). */
const NOTHING_TO_MOVE: readonly Transferable[] = Object.freeze([]);
/** Work (ms) a shard is given ahead; see the module comment. */
const PIPELINE_MS = 1;
/** A shard on one task for longer than this (ms) is busy: it gets no more until that task ends. */
const STALL_MS = 1;
/** The longest the look timer waits between looks that find nothing to move and no task parked (see `lookAgain`). */
const LOOK_MAX_MS = 8;
/** A task running this many times its thread's measured time per task sends back what waits ahead of it (see `overdue`). */
const OVERDUE_FACTOR = 3;
/** Keys of the dispatchers' runners (see `TaskDispatcher.key`), unique in this process. */
let nextRunnerKey = 1;
/** Answers per measurement of a shard's time per task, once its limit is at least half this. */
const SAMPLE = 8;
/** Time per task (ms) under which a measurement of fewer than SAMPLE answers may raise a limit (see `answer`). */
const QUICK_RAMP_MS = PIPELINE_MS / 8;

/**
 * What a task whose thread went down rejects with: the thread's own error when it died of one (an
 * uncaught throw: the same class and message; out of heap: Node's ERR_WORKER_OUT_OF_MEMORY), as
 * piscina's tasks do, with weft's account of the death on `threadDown`; else (an exit, a hang, an
 * abort) the ExitError itself. Each task gets its own copy: the original stays in the exit reason
 * that actors and supervisors see, and a copy never points back at itself through `threadDown`.
 */
function threadError(error: unknown): unknown {
  if (!(error instanceof ExitError) || !isThreadDown(error.reason)) return error;
  const down = error.reason.threadDown;
  const own = down.error;
  if ((down.cause !== 'exception' && down.cause !== 'out_of_memory') || typeof own !== 'object' || own === null) return error;
  const copy = Object.create(Object.getPrototypeOf(own) as object | null) as Error & { threadDown?: ThreadDownCause };
  for (const key of Reflect.ownKeys(own)) Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(own, key)!);
  Object.defineProperty(copy, 'threadDown', { value: down, writable: true, configurable: true, enumerable: false });
  return copy;
}

/** What a stream's `next()` rejects with once its signal aborted (`cause`: the signal's reason). */
export function streamAborted(signal: Abortable | undefined): AbortError {
  return new AbortError('the task stream was aborted', { cause: signal?.reason });
}

export class TaskDispatcher {
  private readonly host: TaskHost;
  private readonly window: number;
  private readonly maxQueue: number;
  /** Per shard (index 0 unused): its runner (undefined while the shard is down) and tasks in flight. */
  private readonly runners: Array<ActorRef<typeof Runner> | undefined>;
  private readonly inFlight: number[];
  /**
   * Per shard: its current limit; answers counted, in all and in the current measurement; the
   * time it spent busy (with a task in flight that is not parked) during the current measurement,
   * and since when it is busy (-1: idle). Busy time over the measurement's answers is the shard's
   * time per task, whether it was pipelined or fed one at a time.
   */
  private readonly limit: number[];
  private readonly answers: number[];
  private readonly sampled: number[];
  private readonly busyTime: number[];
  private readonly busySince: number[];
  /**
   * Per shard, its last sign of progress (see `stalled`): when, and the task it was on then (the one
   * sent to it idle, or its TASK word when it answered or was seen on a new task).
   */
  private readonly progressTask: number[];
  private readonly progressAt: number[];
  /** Per shard, its last measured time per task (ms; see `answer`): a task sent ahead leaves a shard whose current task runs well past it (`overdue`). */
  private readonly perTask: number[];
  private readonly floor: number;
  private readonly queue: Job[] = [];
  private queueHead = 0;
  /** Per shard, the task sent ahead to it that its runner has not been seen to claim (see the module comment); and how many there are. */
  private readonly ahead: Array<Job | undefined>;
  private aheadCount = 0;
  /** Per shard, streamed tasks whose opening call is in flight there (see `load`). */
  private readonly openingStreams: number[];
  /**
   * Per shard, when it went down: the tasks that had started there (they reject with the thread's
   * ExitError; the others only waited, and run again elsewhere), or undefined when that is not known
   * (then none is run again: a task never runs twice).
   */
  private readonly culprits: Array<readonly number[] | undefined>;
  /**
   * Per shard, aborted tasks that have not answered yet (their `abortGrace` runs): until they do,
   * the shard gets no new task (it may be ended, and a task sent now could start before the end
   * and not be known to have).
   */
  private readonly aborting: number[];
  private readonly abortGrace: number;
  /** Aborted tasks whose `abortGrace` runs (see `abort`): a closing dispatcher ends their threads at once. */
  private readonly inGrace = new Set<Job>();
  /** Per shard being ended for an aborted task: the tasks that had started there (null: not known). */
  private readonly ending: Array<readonly number[] | null | undefined>;
  /** Per shard, what a direct task's answer goes through: made once, not a closure per task. */
  private readonly answered: Array<(value: unknown) => unknown>;
  private onAllStarted!: () => void;
  private onNeverStarted!: (error: unknown) => void;
  private readonly allStarted = new Promise<void>((resolve, reject) => {
    this.onAllStarted = resolve;
    this.onNeverStarted = reject;
  });
  /** Why tasks are refused and unanswered ones rejected, once closed. */
  private closing: 'destroyed' | 'stopped' | undefined;
  /** `module#name` → its number, and back; and per shard, the numbers its runner has been told. */
  private readonly functionNumbers = new Map<string, number>();
  private readonly functions: Array<[module: string, name: string]> = [];
  private readonly named: Array<Set<number>>;
  private closed = false;
  /** Armed while tasks wait here (see `lookAgain`), for `lookDelay` ms; `moves` counts tasks placed, for it to see whether a look moved any. */
  private lookTimer: NodeJS.Timeout | undefined;
  private lookDelay = STALL_MS;
  private looking = false;
  private moves = 0;
  /** Tasks answered (resolved or rejected) since start. */
  completed = 0;
  /** Tasks sent ahead to a busy thread, and those of them taken back before it claimed them (see the module comment). */
  readonly aheadCounts = { sent: 0, takenBack: 0 };
  /** Streams whose thread has started them, by the shard they run on: they fail if it goes down, or when this closes. */
  private readonly streams = new Map<TaskStream<unknown>, number>();
  /** Per shard, broadcasts waiting for its runner (see `runnerOn`). */
  private readonly runnerWaiters: Array<Array<{ resolve(): void; reject(error: unknown): void }>>;
  /**
   * Tasks taken and not yet answered, wherever they are (queued here, in a ring, running): while
   * there is one, `hold` keeps the process alive, as a pool with work to do must; once there is
   * none, nothing here does (the shards never do), so a script that is done exits even if it never
   * destroys its pool. A ref'd handle of our own rather than the waits': a task waiting here while
   * its thread restarts has no wait anywhere else.
   */
  private pending = 0;
  /** Resolves `whenIdle` waits once `pending` is 0. */
  private idleWaits: Array<() => void> = [];
  private readonly timing: TaskTiming | undefined;
  private readonly onDrain: (() => void) | undefined;
  private readonly elastic: { min: number; idleTimeout: number } | undefined;
  /** Shards asked to retire, until their 'threadDown' (elastic): they take no task meanwhile. */
  private readonly retiring = new Set<number>();
  /** Shards about to take tasks: growing, or their runner starting (elastic: no need to grow for what they will take). */
  private readonly coming = new Set<number>();
  /** Per shard, the timer that retires it once idle for `elastic.idleTimeout` (elastic only). */
  private readonly idleTimers: Array<NodeJS.Timeout | undefined>;
  private readonly hold = setInterval(() => undefined, 2 ** 31 - 1).unref();

  constructor(host: TaskHost, options: DispatcherOptions) {
    this.host = host;
    this.window = options.window;
    this.maxQueue = options.maxQueue;
    const shards = host.lanes;
    this.runners = new Array(shards + 1).fill(undefined);
    this.inFlight = new Array<number>(shards + 1).fill(0);
    this.ahead = new Array<Job | undefined>(shards + 1).fill(undefined);
    this.openingStreams = new Array<number>(shards + 1).fill(0);
    this.floor = Math.min(options.floor ?? 1, options.window);
    // Until measured, a task may be long: one at a time, so the first tasks spread over every shard.
    this.limit = new Array<number>(shards + 1).fill(this.floor);
    this.answers = new Array<number>(shards + 1).fill(0);
    this.sampled = new Array<number>(shards + 1).fill(0);
    this.busyTime = new Array<number>(shards + 1).fill(0);
    this.busySince = new Array<number>(shards + 1).fill(-1);
    this.progressTask = new Array<number>(shards + 1).fill(0);
    this.progressAt = new Array<number>(shards + 1).fill(0);
    this.perTask = new Array<number>(shards + 1).fill(0);
    this.culprits = new Array<readonly number[] | undefined>(shards + 1).fill(undefined);
    this.ending = new Array<readonly number[] | null | undefined>(shards + 1).fill(undefined);
    this.aborting = new Array<number>(shards + 1).fill(0);
    this.abortGrace = options.abortGrace ?? DEFAULT_ABORT_GRACE;
    // Nobody need ask: a pool closed before its threads were up must not leave an unhandled rejection.
    this.allStarted.catch(() => undefined);
    this.named = Array.from({ length: shards + 1 }, () => new Set<number>());
    this.runnerWaiters = Array.from({ length: shards + 1 }, () => []);
    this.answered = Array.from({ length: shards + 1 }, (_, shard) => (value: unknown) => {
      this.answer(shard);
      this.completed++;
      if (--this.pending === 0) this.idle();
      if (this.queued !== 0 || this.aheadCount !== 0) this.pump();
      return value;
    });
    const { system } = host;
    system.on('threadDown', this.onThreadDown);
    system.on('threadUp', this.onThreadUp);
    this.concurrency = options.concurrency ?? Infinity;
    this.timing = options.timing;
    this.onDrain = options.onDrain;
    this.elastic = options.elastic;
    this.idleTimers = new Array<NodeJS.Timeout | undefined>(shards + 1).fill(undefined);
    for (let thread = 1; thread <= shards; thread++) if (!host.isRetired(thread)) void this.startRunner(thread);
  }

  private readonly concurrency: number;
  /** This dispatcher's runners' key on every shard: side tasks find their runner's slots by it. */
  private readonly key = nextRunnerKey++;
  /**
   * What its runners return a task unstarted with, when every slot of theirs is held by a started
   * async task (task-runner.ts `Returned`): unguessable, so no task's own rejection passes for it.
   */
  private readonly returnToken = randomUUID();

  /** True if `error` is a runner's return of a task it did not start (see `returnToken`). */
  private returned(error: unknown): boolean {
    return typeof error === 'object' && error !== null && (error as Partial<Returned>).weftReturned === this.returnToken;
  }

  /** Elastic: starts one retired shard, if any (a task had to wait: piscina starts a worker per waiting task, up to maxThreads). */
  private growOne(): void {
    // Threads starting (or whose runner is) will each take one: only tasks beyond them need another.
    let retired = -1;
    for (let thread = this.runners.length - 1; thread >= 1; thread--) if (this.host.isRetired(thread)) retired = thread;
    if (retired === -1 || this.queued <= this.coming.size) return;
    this.coming.add(retired);
    this.host.grow(retired);
  }

  /**
   * Elastic: shard `thread` has nothing in flight; after `idleTimeout` ms still so, it is retired,
   * while more than `min` shards run. Any task sent to it first disarms this (`send`).
   */
  private idleFrom(thread: number): void {
    const elastic = this.elastic;
    if (elastic === undefined || this.closed || this.inFlight[thread] !== 0 || elastic.idleTimeout === Infinity) return;
    clearTimeout(this.idleTimers[thread]);
    this.idleTimers[thread] = setTimeout(() => {
      this.idleTimers[thread] = undefined;
      if (this.closed || this.inFlight[thread] !== 0 || this.runners[thread] === undefined || this.retiring.has(thread)) return;
      // Those being retired already do not count: two timers at once must not both retire.
      let running = 0;
      for (let other = 1; other < this.runners.length; other++) if (this.runners[other] !== undefined && !this.retiring.has(other)) running++;
      if (running <= elastic.min) return;
      this.retiring.add(thread);
      this.host.retire(thread);
    }, elastic.idleTimeout).unref();
  }

  /** No task is left unanswered: the process may exit, and `whenIdle` waits end. */
  private idle(): void {
    this.hold.unref();
    if (this.idleWaits.length === 0) return;
    const waits = this.idleWaits;
    this.idleWaits = [];
    for (const wait of waits) wait();
  }

  /** Tasks taken and not yet answered (queued here, sent, running). */
  get unanswered(): number {
    return this.pending;
  }

  /** Resolves once every task taken so far (and any taken meanwhile) is answered. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaits.push(resolve));
  }

  /**
   * Tasks not started yet: those waiting here, and those sent to a thread that its runner has not
   * started (in its ring, or held for a slot): each thread's in flight less the one it runs now and
   * those parked there.
   */
  get notStarted(): number {
    let waiting = this.queued;
    for (let thread = 1; thread < this.runners.length; thread++) {
      const held = this.inFlight[thread] - this.host.parked(thread) - (this.host.taskRunning(thread) === 0 ? 0 : 1);
      if (held > 0) waiting += held;
    }
    return waiting;
  }

  /** Rejects every task still waiting here with `error()` (piscina's `close({ force: true })`); those on threads run on. */
  rejectQueued(error: () => unknown): void {
    for (const job of this.takeAllBack()) this.finish(job, false, error());
    for (let i = this.queueHead; i < this.queue.length; i++) this.finish(this.queue[i], false, error());
    this.queue.length = 0;
    this.queueHead = 0;
  }

  /** Resolves once every shard has a runner at the same time (tasks sent before simply wait for one). */
  whenReady(): Promise<void> {
    return this.allStarted;
  }

  /** The module URLs this dispatcher's tasks come from (for a standby to import ahead: root-supervisor.ts). */
  modules(): string[] {
    return this.functions.map(([module]) => module);
  }

  /** Tasks of this dispatcher in flight on shard `thread` (in its ring, held, running or awaiting; beside the rings too). */
  inFlightOn(thread: number): number {
    return this.inFlight[thread] ?? 0;
  }

  /** True if shard `thread` has this dispatcher's runner (an actor there that is weft's, not the user's). */
  hasRunner(thread: number): boolean {
    return this.runners[thread] !== undefined;
  }

  /** Tasks waiting here (not yet on a shard). */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Runs `module[name](...args)` on a shard; see the module comment for how it can fail. */
  run(module: string, name: string, args: unknown[], signal?: Abortable, transferList?: readonly Transferable[]): Promise<unknown> {
    return this.runFunction(this.functionNumber(module, name), args, signal, transferList);
  }

  /**
   * Like `run`, for a function numbered once by `functionNumber` (a pool's default one): saves
   * building and looking up its `module#name` key on every task.
   */
  runFunction(fn: number, args: unknown[], signal: Abortable | undefined, transfer?: readonly Transferable[]): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closedError('cannot run a task'));
    if (signal?.aborted) return Promise.reject(new AbortError('the task was aborted before it was queued', { cause: signal.reason }));
    if (signal === undefined && transfer === undefined && this.queued === 0) {
      const shard = this.pick();
      if (shard !== -1) {
        if (this.pending++ === 0) this.hold.ref();
        return this.timing === undefined ? this.dispatchDirect(fn, args, shard) : this.timed(this.timing, this.dispatchDirect(fn, args, shard));
      }
    }
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<unknown>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const job: Job = { fn, args, transfer, signal, resolve, reject, id: 0, shard: 0, settled: false, unlisten: undefined, grace: undefined, startedAtAbort: undefined, trace: tracing.capture?.(), created: this.timing === undefined ? 0 : performance.now(), sentAt: 0, aheadAt: 0, startAt: 0 };
    const refused = this.submit(job);
    if (refused !== undefined) return Promise.reject(refused);
    if (signal !== undefined) {
      job.unlisten = signal.listen(() => this.abort(job));
    }
    return promise;
  }

  /**
   * Tasks the threads whose runner is still starting will take as soon as it is up (a slot each per
   * `concurrency`): they wait here meanwhile, but beyond `maxQueue` only past them, as piscina
   * counts its pending workers' capacity. Counted only when `maxQueue` is finite.
   */
  private startingRoom(): number {
    if (this.maxQueue === Infinity) return 0;
    let room = 0;
    for (let thread = 1; thread < this.runners.length; thread++) {
      if (this.runners[thread] === undefined && !this.host.isRetired(thread)) room += this.concurrency === Infinity ? 1 : this.concurrency;
    }
    return room;
  }

  /** Sends `job` to a shard with room, or queues it; returns QueueFullError if the queue is full. */
  private submit(job: Job): QueueFullError | undefined {
    const shard = this.queued === 0 ? this.pick() : -1;
    if (shard === -1 && this.queued >= this.maxQueue && this.queued >= this.maxQueue + this.startingRoom()) return new QueueFullError(`the task queue is full (maxQueue ${this.maxQueue}, every thread busy)`);
    if (this.pending++ === 0) this.hold.ref();
    if (shard !== -1) {
      this.dispatch(job, shard);
    } else {
      this.queue.push(job);
      this.lookAgain();
      if (this.elastic !== undefined) this.growOne();
      this.sendAhead();
    }
    return undefined;
  }

  /**
   * A streamed task: `fn(...args)` is a generator (or returns an iterable) whose values the stream
   * yields, the thread running at most `highWaterMark` values ahead of the consumer (credit: see
   * src/common/task-stream.ts). It is sent when first pulled, queued as any task, and counts
   * against its shard's limit until its first values come back; after that, pulls go straight to
   * the runner that holds the generator. Its shard going down fails it with the thread's error (as
   * `run` does); the dispatcher closing fails it with PoolClosedError or SystemStoppedError; its
   * `signal` aborting fails it with AbortError and ends the generator (src/common/stream.ts `abortableConnect`).
   */
  stream<T>(fn: number, args: unknown[], highWaterMark: number, signal?: Abortable): TaskStream<T> {
    return new TaskStream<T>(abortableConnect(signal, () => streamAborted(signal), (stream) => this.streamChannel(fn, args, stream)), highWaterMark);
  }

  /** The channel `stream` talks to its thread through (see `stream`); it is sent when opened. */
  streamChannel(fn: number, args: unknown[], stream: TaskStream<unknown>): StreamChannel {
    let at: { shard: number; runner: Pid; id: number } | undefined;
    /** The consumer is done with it (an abort can close it while it opens: it must not be remembered after). */
    let gone = false;
    return {
      open: (credit) => {
        if (this.closed) return Promise.reject(this.closedError('cannot stream a task'));
        return new Promise<unknown>((resolve, reject) => {
          const placed = (shard: number, runner: Pid, id: number) => (at = { shard, runner, id });
          const job: Job = { fn, args, transfer: undefined, signal: undefined, resolve, reject, id: 0, shard: 0, settled: false, unlisten: undefined, grace: undefined, startedAtAbort: undefined, trace: tracing.capture?.(), created: this.timing === undefined ? 0 : performance.now(), sentAt: 0, aheadAt: 0, startAt: 0, credit, placed };
          const refused = this.submit(job);
          if (refused !== undefined) reject(refused);
        }).then((batch) => {
          // Closed while it opened: its runner ends the generator; the consumer hears why.
          if (this.closed) throw this.closedError('the stream was not finished');
          if (!gone) this.streams.set(stream, at!.shard);
          return batch as StreamBatch;
        });
      },
      pull: (credit) => this.toStream(at, STREAM_PULL, [credit]) as Promise<StreamBatch>,
      cancel: () => this.toStream(at, STREAM_CANCEL, []),
      close: () => {
        gone = true;
        this.streams.delete(stream);
      },
    };
  }

  /** A PULL or CANCEL for the stream `at` names, to the runner that holds it. */
  private toStream(at: { runner: Pid; id: number } | undefined, op: number, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closedError('the stream was not finished'));
    try {
      return this.host.callRunner(at!.runner, [at!.id, op, args]).then(undefined, (error: unknown) => {
        throw this.failure(error);
      });
    } catch (error) {
      return Promise.reject(this.failure(error));
    }
  }

  /**
   * Runs `fn(...args)` once on every shard and resolves with the results in shard order (index 0:
   * shard 1). A shard that is down (restarting) gets it once it is back. Rejects with the first
   * failure, in time; the other shards still ran theirs.
   */
  broadcast(fn: number, args: unknown[]): Promise<unknown[]> {
    if (this.closed) return Promise.reject(this.closedError('cannot broadcast a task'));
    const shards = Array.from({ length: this.runners.length - 1 }, (_, index) => index + 1);
    return Promise.all(shards.map((shard) => this.runOn(shard, fn, args)));
  }

  /** Runs a task on shard `shard`, whatever its limit, once it has a runner; again there if its thread went down under another task. */
  private async runOn(shard: number, fn: number, args: unknown[]): Promise<unknown> {
    let returns = 0.5;
    for (;;) {
      if (this.runners[shard] === undefined) await this.runnerOn(shard);
      const id = this.host.takeId();
      let answer: unknown;
      try {
        answer = await this.send(shard, id, fn, args);
      } catch (error) {
        this.answer(shard);
        if (this.runsElsewhere(error, shard, id)) continue;
        if (this.returned(error)) {
          // Every slot there is held by an awaiting task: it must run there, once one frees.
          await new Promise((resolve) => setTimeout(resolve, (returns = Math.min(returns * 2, 64))));
          if (this.closed) throw this.closedError('the task never ran');
          continue;
        }
        this.completed++;
        throw this.failure(error);
      }
      this.answer(shard);
      this.completed++;
      if (this.queued !== 0 || this.aheadCount !== 0) this.pump();
      return answer;
    }
  }

  /** Resolves once shard `shard` has a runner; rejects with the closing error if this closes first. */
  private runnerOn(shard: number): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError('the task never ran'));
    return new Promise((resolve, reject) => this.runnerWaiters[shard].push({ resolve, reject }));
  }

  /**
   * Refuses new tasks and rejects the waiting ones; tasks already on a shard finish, and those
   * whose runner ends first (async ones still awaiting) reject too. `why`: the pool was destroyed
   * (PoolClosedError) or its system stopped (SystemStoppedError).
   */
  close(why: 'destroyed' | 'stopped' = 'destroyed'): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = why;
    clearTimeout(this.lookTimer);
    this.lookTimer = undefined;
    clearInterval(this.hold); // what is left is answered by the system's stop, or the pool's
    for (const timer of this.idleTimers) clearTimeout(timer);
    this.onNeverStarted(this.closedError('the pool can never be ready'));
    // Aborted tasks still in their grace hold threads the pool no longer waits for: ended now, as
    // piscina's destroy ends its workers (a stuck one would hold a stop for its whole timeout).
    for (const job of [...this.inGrace]) {
      clearTimeout(job.grace);
      this.graceOver(job, true);
    }
    this.host.closed(this);
    this.host.system.off('threadDown', this.onThreadDown);
    this.host.system.off('threadUp', this.onThreadUp);
    // The runners end after the tasks already in their rings; async ones still pending there are
    // answered with ExitError('normal'), which nobody waits for any more.
    for (const job of this.takeAllBack()) this.finish(job, false, this.closedError('the task never ran'));
    for (const runner of this.runners) if (runner !== undefined) this.host.callRunner(runner.pid, STOP_TASK).catch(() => undefined);
    for (let i = this.queueHead; i < this.queue.length; i++) this.finish(this.queue[i], false, this.closedError('the task never ran'));
    this.queue.length = 0;
    this.queueHead = 0;
    for (const waiters of this.runnerWaiters) for (const waiter of waiters.splice(0)) waiter.reject(this.closedError('the task never ran'));
    // Their runners end their generators (the runner's terminate); the consumers hear why now.
    for (const stream of [...this.streams.keys()]) stream.fail(this.closedError('the stream was not finished'));
    this.streams.clear();
  }

  /** The error for what the dispatcher refuses or leaves unanswered once closed. */
  private closedError(what: string): Error {
    return this.closing === 'stopped' ? new SystemStoppedError(`${what}: the system stopped`) : new PoolClosedError(`${what}: the pool was destroyed`);
  }

  /**
   * What a task answered with `error` rejects with: once closed, a runner or thread that ended
   * under it (ExitError) or a system that stopped means the pool closed under it.
   */
  private failure(error: unknown): unknown {
    if (this.closed && (error instanceof ExitError || error instanceof SystemStoppedError)) return this.closedError('the task was not answered');
    return threadError(error);
  }

  /** The number tasks give `module[name]` by (the same for the dispatcher's life). */
  functionNumber(module: string, name: string): number {
    const key = `${module}#${name}`;
    let fn = this.functionNumbers.get(key);
    if (fn === undefined) {
      fn = this.functions.length;
      this.functions.push([module, name]);
      this.functionNumbers.set(key, fn);
      if (!this.functions.some(([other], index) => other === module && index !== fn)) this.host.warm(module);
    }
    return fn;
  }

  /**
   * Starts shard `thread`'s runner; tasks wait here until one is up. If it cannot start (the
   * system stopped meanwhile, or the shard went down again: its threadUp starts another), the
   * shard just gets no tasks.
   */
  private async startRunner(thread: number): Promise<void> {
    let runner: ActorRef<typeof Runner>;
    this.coming.add(thread);
    try {
      runner = await this.host.system.spawn<typeof Runner>(RUNNER_URL, { thread, args: { concurrency: this.concurrency, key: this.key, returnToken: this.returnToken } });
    } catch {
      return;
    } finally {
      this.coming.delete(thread);
    }
    if (this.closed) {
      this.host.callRunner(runner.pid, STOP_TASK).catch(() => undefined);
      return;
    }
    this.named[thread].clear(); // a new runner knows no function yet
    this.runners[thread] = runner;
    void this.watch(thread, runner);
    if (this.runners.every((other, shard) => shard === 0 || other !== undefined || this.host.isRetired(shard))) this.onAllStarted();
    for (const waiter of this.runnerWaiters[thread].splice(0)) waiter.resolve();
    this.idleFrom(thread);
    this.pump();
  }

  /**
   * A runner never ends on a task (task-runner.ts), but should one end other than with its thread
   * (the thread's own events restart those), the shard gets a new one rather than tasks sent to
   * nobody.
   */
  private async watch(thread: number, runner: ActorRef<typeof Runner>): Promise<void> {
    let reason: unknown;
    try {
      ({ reason } = await this.host.system.monitor(runner.pid).down);
    } catch {
      return; // the system stopped
    }
    if (this.closed || this.runners[thread] !== runner || isThreadDown(reason)) return;
    this.runners[thread] = undefined;
    void this.startRunner(thread);
  }

  /**
   * Tasks on shard `thread` that count against its limit: those in flight but not parked. Parked
   * ones hold no CPU, but each holds one of the runner's `concurrency` slots: with every slot held,
   * a task sent there would wait behind tasks that may never settle, so the shard counts as full
   * (Infinity) until one does. (PARKED counts other dispatchers' tasks on the thread too: no more
   * than ours in flight are taken to be ours.)
   */
  private load(thread: number): number {
    const inFlight = this.inFlight[thread];
    const parked = Math.min(this.host.parked(thread), inFlight);
    // A stream awaiting its first values counts as parked too (task-stream.ts), but holds no slot.
    const streams = this.openingStreams[thread];
    if (parked - streams >= this.concurrency) return Infinity;
    return inFlight - parked;
  }

  /**
   * The live shard with the fewest tasks in flight that still has room under its limit; else -1.
   * A shard that may hold an aborted task (being asked, or being ended) gets none, nor one stalled
   * on a long task. Ties go to a shard running nothing now.
   */
  private pick(): number {
    let best = -1;
    let fewest = Infinity;
    for (let thread = 1; thread < this.runners.length; thread++) {
      if (this.runners[thread] === undefined || this.aborting[thread] !== 0 || this.ending[thread] !== undefined || this.retiring.has(thread) || this.host.recycling(thread)) continue;
      const inFlight = this.load(thread);
      if (inFlight < this.limit[thread] && (inFlight < fewest || (inFlight === fewest && this.host.taskRunning(thread) === 0)) && !this.stalled(thread, inFlight)) {
        best = thread;
        fewest = inFlight;
      }
    }
    return best;
  }

  /**
   * True if shard `thread` has been on one task for more than STALL_MS: its TASK word (the task its
   * runner is in now) still shows the task it was on at its last sign of progress (an answer, a
   * task sent to it idle, a new task seen running), and that was more than STALL_MS ago. A shard
   * whose answers main has not read yet (main busy submitting) is not stalled: its TASK word moved.
   * Its limit drops to `floor`, so once the long task ends the shard is fed one task at a time
   * until measured fast again (the measurement under way goes on: the long task's busy time is in
   * it, so it reads long, and resetting it only slowed the ramp after blocking tasks by 2-3 ms in
   * `pool-blocking`). Costs an Atomics.load per look, and the clock while a task runs.
   */
  private stalled(thread: number, inFlight: number): boolean {
    if (inFlight === 0 || this.onTaskFor(thread) <= STALL_MS) return false;
    this.limit[thread] = this.floor;
    return true;
  }

  /**
   * A task of `shard` was answered: one fewer in flight, and every SAMPLE answers (every 2 × its
   * limit while that is fewer, unless that would raise it for tasks not clearly tiny) a new
   * estimate of its time per task, hence its limit (see the module comment).
   */
  private answer(shard: number): void {
    // Counted out first: the recycler hands a drained shard over once nothing is in flight there.
    const left = --this.inFlight[shard];
    this.host.taskAnswered?.(shard);
    if (left === 0 && this.elastic !== undefined) this.idleFrom(shard);
    this.answers[shard]++;
    const counted = ++this.sampled[shard] >= Math.min(SAMPLE, 2 * this.limit[shard]);
    const idle = this.load(shard) === 0;
    const now = performance.now();
    this.progressAt[shard] = now;
    this.progressTask[shard] = this.host.taskRunning(shard);
    if (this.busySince[shard] !== -1) this.busyTime[shard] += now - this.busySince[shard];
    this.busySince[shard] = idle ? -1 : now;
    // A task sent ahead starts as the one before it answers (see `landed` for its times).
    const next = this.ahead[shard];
    if (next !== undefined && next.startAt === 0) next.startAt = now;
    if (!counted) return;
    const sampled = this.sampled[shard];
    const perTask = this.busyTime[shard] / sampled;
    const fits = Math.round(PIPELINE_MS / Math.max(perTask, 0.0001));
    // One answer main read late makes the next ones seem quick: a short measurement that would
    // raise the limit for tasks not clearly tiny goes on, up to SAMPLE answers.
    if (sampled < SAMPLE && fits > this.limit[shard] && perTask > QUICK_RAMP_MS) return;
    this.perTask[shard] = perTask;
    this.busyTime[shard] = this.sampled[shard] = 0;
    this.limit[shard] = Math.max(this.floor, Math.min(this.window, fits, 2 * this.limit[shard]));
  }

  /**
   * Sends task `id` (function `fn` with `args`) to shard `shard`'s runner, or beside the rings when
   * `transfer` is set (its data holds what a ring cannot carry); resolves with its answer.
   */
  private send(shard: number, id: number, fn: number, args: unknown[], transfer?: readonly Transferable[], credit?: number): Promise<unknown> {
    if (this.busySince[shard] === -1) {
      // Idle until now: this task is the next it runs, so it is the one to watch for a stall.
      this.busySince[shard] = this.progressAt[shard] = performance.now();
      this.progressTask[shard] = id;
    }
    this.inFlight[shard]++;
    if (this.idleTimers[shard] !== undefined) {
      clearTimeout(this.idleTimers[shard]);
      this.idleTimers[shard] = undefined;
    }
    const [module, name] = this.functions[fn];
    if (transfer !== undefined) return this.host.runBeside(shard, id, module, name, args, transfer, this.key);
    try {
      return this.callTask(shard, id, fn, args, credit);
    } catch (error) {
      // Not plain data (a SharedArrayBuffer, a class instance): structured clone carries it, beside
      // the rings; but not a stream's opening call, whose values come back through the rings.
      if (error instanceof EncodeError && credit === undefined) return this.host.runBeside(shard, id, module, name, args, NOTHING_TO_MOVE, this.key, error);
      return Promise.reject(error);
    }
  }

  /**
   * Calls shard `shard`'s runner with task `wireId` (negated: sent ahead), or with a stream's
   * opening call when `credit` is given. The first task of `fn` on a runner names it; tasks sent
   * after it in the same ring find it. Throws EncodeError if `args` cannot travel through the rings.
   */
  private callTask(shard: number, wireId: number, fn: number, args: unknown[], credit?: number): Promise<unknown> {
    const named = this.named[shard];
    const runner = this.runners[shard]!.pid;
    let answer: Promise<unknown>;
    if (named.has(fn)) {
      answer = this.host.callRunner(runner, credit === undefined ? [wireId, fn, args] : [wireId, fn, args, null, null, credit]);
    } else {
      const [module, name] = this.functions[fn];
      answer = this.host.callRunner(runner, credit === undefined ? [wireId, fn, args, module, name] : [wireId, fn, args, module, name, credit]);
      named.add(fn);
      answer = answer.then(undefined, (error: unknown) => this.namingFailed(shard, fn, error));
    }
    // A thread measured on long tasks answers late: main need not spin for it (see `awaitSlow`).
    if (credit === undefined && this.limit[shard] === 1 && this.answers[shard] >= SAMPLE) {
      this.host.awaitSlow(1);
      answer.then(this.slowAnswered, this.slowAnswered);
    }
    return answer;
  }

  private readonly slowAnswered = (): void => this.host.awaitSlow(-1);

  /** The task that named `fn` to `shard`'s runner failed: name it again next time (the import may work then). */
  private namingFailed(shard: number, fn: number, error: unknown): never {
    if (error instanceof ModuleError) this.named[shard].delete(fn);
    throw error;
  }

  private dispatch(job: Job, shard: number): void {
    if (this.timing !== undefined) {
      job.sentAt = performance.now();
      this.timing.wait(job.sentAt - job.created);
    }
    const id = (job.id = this.host.takeId());
    job.shard = shard;
    this.moves++;
    job.placed?.(shard, this.runners[shard]!.pid, id);
    if (job.credit !== undefined) this.openingStreams[shard]++;
    this.landOn(job, shard, id, this.send(shard, id, job.fn, job.args, job.transfer, job.credit));
  }

  /** `dispatch` in the caller's trace context (the job's, not that of whoever freed a thread). */
  private dispatchTraced(job: Job, shard: number): void {
    if (tracing.enter === undefined) this.dispatch(job, shard);
    else tracing.enter(job.trace, () => this.dispatch(job, shard));
  }

  /** `answer`, the call of `job` sent to `shard` as task `id`, lands (see `landed`). */
  private landOn(job: Job, shard: number, id: number, answer: Promise<unknown>): void {
    answer.then(
      (value) => this.landed(job, shard, id, true, value),
      (error: unknown) => this.landed(job, shard, id, false, error),
    );
  }

  /**
   * Sends the tasks at the head of the queue ahead, one to each busy shard that takes long tasks
   * and has none waiting ahead yet (see the module comment). Only while every lane has its runner
   * (a thread starting, growing or restarting will take the next task itself), and only for a task
   * that can go through the rings: one for the side channel stays queued, and so does all behind it.
   */
  private sendAhead(): void {
    if (this.floor !== 1 || this.closed) return;
    let everyLaneUp = false;
    for (let shard = 1; shard < this.runners.length && this.queueHead < this.queue.length; shard++) {
      if (!this.takesAhead(shard)) continue;
      if (!everyLaneUp) {
        for (let lane = 1; lane < this.runners.length; lane++) if (this.runners[lane] === undefined || this.host.isRetired(lane)) return;
        everyLaneUp = true;
      }
      const job = this.queue[this.queueHead];
      if (job.settled) {
        this.queueHead++; // aborted while it waited
        shard--;
        continue;
      }
      if (job.transfer !== undefined || job.credit !== undefined) return;
      const id = this.host.takeId();
      if (!this.host.offerAhead(shard, id)) continue; // another dispatcher's task waits ahead there
      let answer!: Promise<unknown>;
      try {
        if (tracing.enter === undefined) answer = this.callTask(shard, -id, job.fn, job.args);
        else tracing.enter(job.trace, () => (answer = this.callTask(shard, -id, job.fn, job.args)));
      } catch {
        this.host.takeBack(shard, id);
        return; // not plain data: it goes beside the rings, once a thread has room
      }
      this.queueHead++;
      job.id = id;
      job.shard = shard;
      if (this.timing !== undefined) job.aheadAt = performance.now();
      this.inFlight[shard]++;
      this.ahead[shard] = job;
      this.aheadCount++;
      this.aheadCounts.sent++;
      this.moves++;
      this.landOn(job, shard, id, answer);
    }
  }

  /** True if shard `shard` may be sent a task ahead: busy (no room), on tasks measured long, nothing waiting ahead there. */
  private takesAhead(shard: number): boolean {
    if (this.limit[shard] !== 1 || this.answers[shard] < SAMPLE || this.unfitAhead(shard) || this.host.recycling(shard)) return false;
    const load = this.load(shard);
    return load !== 0 && load !== Infinity && this.waitingAhead(shard) === undefined;
  }

  /** The task waiting ahead on shard `shard` that its runner has not claimed; one it has claimed is forgotten here (`claimedAhead`). */
  private waitingAhead(shard: number): Job | undefined {
    const job = this.ahead[shard];
    if (job === undefined || !this.host.claimed(shard, job.id)) return job;
    this.claimedAhead(shard, job);
    return undefined;
  }

  /**
   * True if shard `shard` may not run a task waiting ahead there soon: it has no runner, it may be
   * ended or retired, or its current task has run well past its measured time (`overdue`: it may
   * never end, and the other threads would run younger tasks meanwhile). A recycled shard runs
   * what it has (the recycler hands it over once it has answered it).
   */
  private unfitAhead(shard: number): boolean {
    return this.runners[shard] === undefined || this.aborting[shard] !== 0 || this.ending[shard] !== undefined || this.retiring.has(shard) || this.overdue(shard);
  }

  /**
   * True if shard `shard` has been on its current task for over OVERDUE_FACTOR times its measured
   * time per task (and over STALL_MS): its TASK word has not moved since main last saw it move (see `stalled`).
   */
  private overdue(shard: number): boolean {
    return this.onTaskFor(shard) > Math.max(OVERDUE_FACTOR * this.perTask[shard], STALL_MS);
  }

  /**
   * Ms shard `thread` has been on the task it runs now, as far as main can tell: since main last saw
   * its TASK word move (an answer, or a look that found a new task there); 0 if it runs none, or
   * has just moved on (noted now).
   */
  private onTaskFor(thread: number): number {
    const running = this.host.taskRunning(thread);
    if (running === 0) return 0;
    const now = performance.now();
    if (running !== this.progressTask[thread]) {
      this.progressTask[thread] = running;
      this.progressAt[thread] = now;
      return 0;
    }
    return now - this.progressAt[thread];
  }

  /** Shard `shard`'s runner claimed `job`, sent ahead: it is an ordinary task in flight there now. */
  private claimedAhead(shard: number, job: Job): void {
    this.ahead[shard] = undefined;
    this.aheadCount--;
    if (job.startAt === 0 && job.aheadAt !== 0) job.startAt = performance.now();
  }

  /** Takes `job` back from shard `shard`, where it waits ahead; false if its runner claimed it first. */
  private takeBackFrom(shard: number, job: Job): boolean {
    if (!this.host.takeBack(shard, job.id)) {
      this.claimedAhead(shard, job);
      return false;
    }
    this.ahead[shard] = undefined;
    this.aheadCount--;
    this.aheadCounts.takenBack++;
    job.id = 0; // its runner answers null for it (task-runner.ts `start`), which `landed` drops
    job.aheadAt = job.startAt = 0;
    if (--this.inFlight[shard] === 0) {
      // Left with nothing, as an answer leaves a shard (see `answer`), but no answer will say so.
      if (this.busySince[shard] !== -1) this.busyTime[shard] += performance.now() - this.busySince[shard];
      this.busySince[shard] = -1;
      this.idleFrom(shard);
      this.host.taskMoved?.(shard);
    }
    return true;
  }

  /**
   * While a shard has room, the oldest task waiting ahead on another (not yet claimed) goes there;
   * one waiting on a shard that may not run it soon goes back to the head of the queue.
   */
  private takeBackAhead(): void {
    let requeued = 0;
    for (;;) {
      const free = this.pick();
      let from = -1;
      for (let shard = 1; shard < this.ahead.length; shard++) {
        const job = this.waitingAhead(shard);
        if (job === undefined) continue;
        if ((free !== -1 || this.unfitAhead(shard)) && (from === -1 || job.id < this.ahead[from]!.id)) from = shard;
      }
      if (from === -1) return;
      const job = this.ahead[from]!;
      if (!this.takeBackFrom(from, job)) continue;
      if (free === -1) this.queue.splice(this.queueHead + requeued++, 0, job); // oldest first: each pass takes the oldest left
      else this.dispatchTraced(job, free);
    }
  }

  /** Takes back every task waiting ahead that no runner has claimed (the dispatcher closes, or rejects what waits). */
  private takeAllBack(): Job[] {
    const back: Job[] = [];
    for (let shard = 1; shard < this.ahead.length; shard++) {
      const job = this.ahead[shard];
      if (job !== undefined && this.takeBackFrom(shard, job)) back.push(job);
    }
    return back;
  }

  /**
   * The common case, with nothing to wait for and no signal to watch: the task goes out at once and
   * its promise is the call's, with no job record and no promise of our own around it.
   */
  private dispatchDirect(fn: number, args: unknown[], shard: number): Promise<unknown> {
    const id = this.host.takeId();
    return this.send(shard, id, fn, args).then(
      this.answered[shard],
      (error: unknown) => {
        this.answer(shard);
        this.pending--; // taken again (below: then it counts again), or answered
        if (this.returned(error) || this.runsElsewhere(error, shard, id)) return this.runFunction(fn, args, undefined);
        this.completed++;
        if (this.pending === 0) this.idle();
        if (this.queued !== 0 || this.aheadCount !== 0) this.pump();
        throw this.failure(error);
      },
    );
  }

  /** A task sent at once: it waited 0 ms, and ran until `answer` settles. */
  private timed(timing: TaskTiming, answer: Promise<unknown>): Promise<unknown> {
    const sent = performance.now();
    timing.wait(0);
    return answer.then(
      (value) => {
        timing.run(performance.now() - sent);
        return value;
      },
      (error: unknown) => {
        timing.run(performance.now() - sent);
        throw error;
      },
    );
  }

  /** True if `error` says task `id`'s shard went down under another task (then it runs again elsewhere). */
  private runsElsewhere(error: unknown, shard: number, id: number): boolean {
    const started = this.culprits[shard];
    return error instanceof ExitError && isThreadDown(error.reason) && started !== undefined && !started.includes(id) && !this.closed;
  }

  /**
   * A dispatched task's answer came back (`id`: the one it was sent as). One taken back from where
   * it waited ahead has moved on (its runner answered null, or its thread went down): dropped.
   */
  private landed(job: Job, shard: number, id: number, ok: boolean, answer: unknown): void {
    if (job.id !== id) return;
    if (job.credit !== undefined) this.openingStreams[shard]--;
    if (this.ahead[shard] === job) {
      this.ahead[shard] = undefined;
      this.aheadCount--;
      // Answered without being claimed (its module failed to load): its id must not stay in the CLAIM word.
      this.host.takeBack(shard, id);
    }
    // Sent ahead (with `timing`): it waited until the task before it answered (see `answer`), then ran.
    const startedAhead = job.aheadAt === 0 || job.settled ? 0 : job.startAt !== 0 ? job.startAt : job.aheadAt;
    job.aheadAt = job.startAt = 0;
    if (job.grace !== undefined) {
      // An aborted task answered (it honoured its signal, or its thread went down): no end for it.
      clearTimeout(job.grace);
      job.grace = undefined;
      this.inGrace.delete(job);
      this.aborting[shard]--;
    }
    this.answer(shard);
    if (!job.settled && !ok && (this.returned(answer) || this.runsElsewhere(answer, shard, job.id))) {
      // Its runner returned it unstarted (every slot held), or its shard went down under another
      // task: it only waited there, so it runs again, elsewhere or once a slot frees (id 0: waiting
      // here again, so an abort now drops it from the queue).
      job.id = 0;
      this.queue.splice(this.queueHead, 0, job);
    } else {
      if (startedAhead !== 0) {
        job.sentAt = startedAhead;
        this.timing?.wait(startedAhead - job.created);
      }
      this.finish(job, ok, ok ? answer : this.failure(answer));
    }
    this.pump();
  }

  /** Settles `job` once: resolved with `answer` if `ok`, else rejected with it (which may be any value, undefined too). */
  private finish(job: Job, ok: boolean, answer: unknown): void {
    if (job.unlisten !== undefined) job.unlisten();
    if (job.settled) return;
    job.settled = true;
    if (job.sentAt !== 0) this.timing?.run(performance.now() - job.sentAt);
    this.completed++;
    if (--this.pending === 0) this.idle();
    if (ok) job.resolve(answer);
    else job.reject(answer);
  }

  /**
   * While tasks wait here (or ahead), looks for room again even if no answer comes: a shard makes
   * room without answering when a task parks (an async task awaiting, which may never settle), and
   * a shard stalled on a long task is passed over only while it stays so. Within STALL_MS at first;
   * each look that moves nothing while no task is parked anywhere waits twice as long for the next,
   * up to LOOK_MAX_MS (threads busy on long tasks answer by themselves, and a look costs main a wake
   * of its event loop, taken from the threads' cores), and a look that moves a task, a parked task,
   * or a queue formed anew brings it back to STALL_MS.
   */
  private lookAgain(): void {
    if (this.lookTimer !== undefined || this.looking || this.closed) return;
    this.lookTimer = setTimeout(this.look, this.lookDelay);
    this.lookTimer.unref(); // waiting tasks alone keep nothing alive: their shards do, while they run
  }

  private readonly look = (): void => {
    this.lookTimer = undefined;
    if (this.closed) return;
    const moves = this.moves;
    this.looking = true;
    try {
      this.pump();
    } finally {
      this.looking = false;
    }
    if (this.queued === 0 && this.aheadCount === 0) return;
    this.lookDelay = this.moves !== moves || this.anyParked() ? STALL_MS : Math.min(this.lookDelay * 2, LOOK_MAX_MS);
    this.lookAgain();
  };

  /** True if a task is parked (started, awaiting) on any shard. */
  private anyParked(): boolean {
    for (let thread = 1; thread < this.runners.length; thread++) if (this.host.parked(thread) !== 0) return true;
    return false;
  }

  /** Moves waiting tasks onto shards with room: first those waiting ahead elsewhere, then the queue's; the rest ahead, if they may go. */
  private pump(): void {
    if (this.aheadCount !== 0) this.takeBackAhead();
    const queue = this.queue;
    while (this.queueHead < queue.length) {
      const job = queue[this.queueHead];
      if (job.settled) {
        this.queueHead++; // aborted while it waited
        continue;
      }
      const shard = this.pick();
      if (shard === -1) break;
      this.queueHead++;
      this.dispatchTraced(job, shard);
    }
    if (this.queueHead < queue.length) this.sendAhead();
    if (this.queueHead === queue.length) {
      const drained = queue.length !== 0;
      queue.length = 0;
      this.queueHead = 0;
      if (this.aheadCount === 0) this.lookDelay = STALL_MS; // the next queue starts looking afresh
      if (drained) this.onDrain?.();
    } else {
      this.lookAgain();
      if (this.elastic !== undefined) this.growOne();
    }
    // A shard can make room without answering (a task that parks): what waits ahead must see it.
    if (this.aheadCount !== 0) this.lookAgain();
    if (this.queueHead > 1024 && this.queueHead * 2 > queue.length) {
      queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /**
   * The caller aborted `job`: it rejects at once. Waiting here, it is dropped. On a shard, its
   * thread is told: the runner drops it if it is held there, or aborts its `signal` if it has
   * started (ABORT_FN, which comes after the task in the ring, so a task sent and not yet taken up
   * starts first and sees its signal aborted soon after); a task sent beside the rings is told on
   * the port. Then the task has `abortGrace` ms to answer (a sync task running now answers when
   * it returns); if it has not, its thread is ended (see `graceOver`). Until it answers, its shard
   * gets no new task.
   */
  private abort(job: Job): void {
    if (job.settled) return;
    const reason: unknown = job.signal?.reason;
    if (job.id === 0) {
      // Still waiting here: out of the queue (aborts are rare; the search is fine).
      const at = this.queue.indexOf(job, this.queueHead);
      if (at !== -1) this.queue.splice(at, 1);
      this.finish(job, false, new AbortError('the task was aborted before it ran', { cause: reason }));
      return;
    }
    const { shard, id } = job;
    if (this.ahead[shard] === job && this.takeBackFrom(shard, job)) {
      this.finish(job, false, new AbortError('the task was aborted before it ran', { cause: reason }));
      return;
    }
    const running = this.host.taskRunning(shard) === id;
    this.finish(job, false, new AbortError(running ? `the task was aborted while it ran; its thread is ended unless it answers within ${this.abortGrace} ms (abortGrace)` : 'the task was aborted after it was sent to a thread', { cause: reason }));
    this.aborting[shard]++;
    this.inGrace.add(job);
    job.grace = setTimeout(() => this.graceTimeUp(job), this.abortGrace);
    job.grace.unref(); // the task's own answer (or its thread's end) is what settles things, not this timer
    // Its shard may be ended: a task waiting ahead there goes elsewhere.
    if (this.ahead[shard] !== undefined) this.pump();
    if (job.transfer !== undefined) {
      this.host.abortBeside(shard, id, reason);
      return;
    }
    const runner = this.runners[shard];
    if (runner === undefined) return; // its thread is down: the task went with it, and landed() follows
    let asked: Promise<unknown>;
    try {
      asked = this.host.callRunner(runner.pid, [id, ABORT_FN, [reason]]);
    } catch {
      try {
        // The reason cannot travel (a class instance, a DOMException): its description goes instead.
        asked = this.host.callRunner(runner.pid, [id, ABORT_FN, [describeReason(reason)]]);
      } catch {
        return; // the system is stopping: the thread goes with it
      }
    }
    asked.then(
      (answer) => {
        if (job.grace !== undefined) job.startedAtAbort = (answer as AbortAnswer).started;
      },
      () => undefined, // the runner or its thread ended meanwhile: so did the task, and landed() follows
    );
  }

  /**
   * `job`'s grace is up. Its answer may already be in main's ring, unread (main's event loop was
   * busy: a loop of aborts that never yields, say, lets no frame be read while the timers fall
   * due): the rings are read first, and the thread is ended only if the answer is still not in
   * once what was read has been handled (its continuations run before the next immediate).
   */
  private graceTimeUp(job: Job): void {
    this.host.readReplies();
    setImmediate(() => {
      if (job.grace !== undefined) this.graceOver(job);
    });
  }

  /**
   * `job` was aborted `abortGrace` ms ago and has not answered: it ignores its signal (or is a sync
   * task still running), so its thread is ended. The tasks that had started there reject with the
   * thread's ExitError; the rest only waited, and run again elsewhere. Which had started: those its
   * runner listed when told of the abort, and the one running now; not known (none runs again) when
   * more are awaiting there than were listed, or the runner never answered while others await.
   */
  private graceOver(job: Job, closing = false): void {
    job.grace = undefined;
    this.inGrace.delete(job);
    const { shard, id } = job;
    this.aborting[shard]--;
    if ((this.closed && !closing) || this.ending[shard] !== undefined) return;
    const running = this.host.taskRunning(shard);
    const parked = this.host.parked(shard);
    let started: number[] | null;
    if (job.startedAtAbort !== undefined) {
      started = parked > job.startedAtAbort.length ? null : [...job.startedAtAbort];
      if (started !== null && running !== 0 && !started.includes(running)) started.push(running);
      if (started !== null && !started.includes(id)) started.push(id);
    } else {
      started = parked !== 0 ? null : running === 0 || running === id ? [id] : [running, id];
    }
    const why = closing ? `task ${id} had not answered its abort when its pool closed: its thread was ended` : `task ${id} ignored its aborted signal for ${this.abortGrace} ms (abortGrace): its thread was ended`;
    this.endShard(shard, started, new AbortError(why));
  }

  /**
   * Ends shard `thread` (it restarts) to stop an aborted task; `started` had started there (the
   * rest run again elsewhere), null if that is not known (none runs again).
   */
  private endShard(thread: number, started: readonly number[] | null, why: Error): void {
    if (this.ending[thread] !== undefined) return;
    this.ending[thread] = started;
    // Main (inline mode) cannot be ended: the task runs on there, its result dropped, and the lane takes work.
    if (!this.host.endThread(thread, why)) this.ending[thread] = undefined;
  }

  private readonly onThreadDown = (cause: ThreadDownCause): void => {
    const { thread } = cause;
    if (thread >= this.runners.length) return;
    // Streams whose generator was there fail now: no slot of theirs may be open to hear it.
    for (const [stream, shard] of [...this.streams]) {
      if (shard !== thread) continue;
      this.streams.delete(stream);
      stream.fail(this.failure(new ExitError(`thread ${thread} went down while streaming: ${describeReason({ threadDown: cause })}`, { threadDown: cause })));
    }
    // Which tasks had started there: those an abort ended it for, else the one running now; not
    // known when async tasks were awaiting there (they may be ours).
    const running = this.host.taskRunning(thread);
    const ending = this.ending[thread];
    this.culprits[thread] = ending !== undefined ? (ending ?? undefined) : this.host.parked(thread) !== 0 ? undefined : running === 0 ? [] : [running];
    this.ending[thread] = undefined;
    this.runners[thread] = undefined;
    this.retiring.delete(thread);
    // A task waiting ahead there went down with it unstarted: its answer (ExitError) runs it again elsewhere.
    if (this.ahead[thread] !== undefined) {
      this.ahead[thread] = undefined;
      this.aheadCount--;
    }
  };

  private readonly onThreadUp = ({ thread }: { thread: number }): void => {
    if (thread >= this.runners.length || this.closed) return;
    this.ending[thread] = undefined; // an end asked of a thread already down meant nothing to this one
    void this.startRunner(thread);
  };
}
