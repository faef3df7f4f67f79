/**
 * A thread's actor runtime: its endpoint, its actors, and what it does with each kind of frame. Each
 * shard runs one, and so does main (thread 0), which is why it lives in src/common: an actor behaves
 * the same whichever thread hosts it.
 *
 * Every frame is decoded here, in order, by the decoder paired with its sender (the codec's pairs
 * must see every frame). Messages for actors go to their cell; requests for the thread itself
 * (spawn, stop, stats) are handled here, and on main the kinds only main serves (names, exits,
 * dead letters) go to its `serve` hook. A call to an actor that does not exist is answered at once:
 * `ExitError` with the reason if it died recently (so a caller whose call crossed the death gets
 * why), `NoProcError` otherwise. A cast or send to a dead actor is dropped, as in Erlang, and
 * counted.
 */
import { MessageDecoder, MessageEncoder } from '../shm/codec.js';
import { Endpoint, NO_WORD, readWord } from '../shm/endpoint.js';
import { AbortError, CallTimeoutError, ClusterError, EncodeError, ExitError, FuseError, MailboxFullError, NoProcError, SpawnError, describeReason, isWeftError, standInError, travelable } from '../shm/errors.js';
import { timeoutMs } from './timeout.js';
import { checkSignal, onAbortWhileWaiting } from './call-abort.js';
import { AFAR, PendingReplies, settleReply } from './pending.js';
import { LocalQueue } from './local-queue.js';
import { Pid, threadKey } from '../shm/pid.js';
import { Placer, publishActorCount, type Placement } from '../shm/placement.js';
import { CALL_TRACED_BODY, Kind, RemoteOp, SPAWN_ARGS, rebaseOntoBody, type CallAbortEnvelope, type CallTracedEnvelope, type StreamEnvelope, type MailboxEnvelope, type DownEnvelope, type ExitSignalEnvelope, type LinkEnvelope, type MonitorEnvelope, type SpawnEnvelope, type SpawnedEnvelope, type ThreadStats, type StopEnvelope, type ThreadDownEnvelope } from '../shm/protocol.js';
import { claimIndex, heartbeatIndex, serialIndex, taskIndex, parkedIndex, type RingSet } from '../shm/ring-set.js';
import { isActor, type AnyActor, type Down, type ExitReason } from './actor.js';
import { ActorCell, type CellHost } from './cell.js';
import type { MainServices, NameScope } from './main-services.js';
import { Fuse, setThreadFuses } from './fuse.js';
import type { FuseTable } from '../shm/fuse-table.js';
import type { SupervisionEvent } from './supervision-events.js';
import type { CrashContext } from './crash-context.js';
import { ActorMeter } from './actor-meter.js';
import { mailboxLimit, type MailboxOptions } from './mailbox.js';
import { tracing } from './tracing.js';
import { tearDownAll } from './task-lifecycle.js';
import { openActorStream, type ActorStreamOptions } from './actor-stream-consumer.js';
import type { TaskStream } from './stream.js';
import { performance } from 'node:perf_hooks';

/** Milliseconds a spawn waits for the module to load and `init` to return, unless told. */
export const DEFAULT_SPAWN_TIMEOUT = 30_000;


/**
 * Same-thread messages run from microtasks (see `runLocalSoon`) before the event loop must get a
 * turn: by count, and by time for slow handlers. As the shards' loop yields after each batch.
 */
const LOCAL_BUDGET = 1024;
const LOCAL_BUDGET_MS = 10;

/** Reasons kept for actors that died, so late calls learn why; oldest forgotten first. */
const RECENT_DEATHS = 10_000;

/** Who gets a DOWN: an actor (as a message to its handleInfo) or main's `system.monitor`. */
export type DownListener = (down: Down) => void;
type Watcher = ActorCell | DownListener;

export interface RuntimeOptions {
  set: RingSet;
  /** 0 for main, 1..N for a shard. */
  thread: number;
  node: string;
  /** The node's creation (0 outside a cluster): see Pid. */
  creation: number;
  /** How long the thread spins before it parks (Endpoint option). */
  spinMicros: number;
  /** Cores the threads share: no spin while others hold them all (Endpoint option). @default Infinity */
  cores?: number;
  /** Whether a parked wait holds the thread's event loop open (shards: yes; main: no). */
  keepAlive: boolean;
  /** Default `call` timeout, ms. */
  callTimeout: number;
  /** Told when this thread starts and stops awaiting replies (main holds the process open then). */
  onBusyChange?: (busy: boolean) => void;
  /** Main's services: the System itself on main, frames to main on a shard. */
  main: (runtime: ThreadRuntime) => MainServices;
  /** A restarted shard: why its previous incarnation went down (`{ threadDown }`). */
  previousDown?: ExitReason;
  /** The fuse table every thread shares. */
  fuses: FuseTable;
  /** Main only: the kinds main alone serves (EXITED, REGISTER, …); returns false for a kind it does not know. */
  serve?: (from: number, kind: number, envelope: unknown[]) => boolean;
  /** How much a sender may hold for one destination thread (see `Backpressure`). */
  backpressure: Backpressure;
  /** Time each actor's handlers (src/common/actor-meter.ts); off: no meter, no cost. */
  actorMetrics?: boolean;
  /** Inline mode: run each actor's code in a context naming it, to charge its escaped exceptions to it (src/common/crash-context.ts). */
  crashContext?: CrashContext;
}

/**
 * Backpressure: what one thread may hold back for another (the destination's ring is full and the
 * rest waits in this thread's overflow, or, for its own actors, in its same-thread queue), in
 * encoded payload bytes. Below `highWater` a cast returns true; past it false (slow down: await
 * `ref.drained()`); at `maxPending` a cast, send or call is refused: `MailboxFullError`, or, with
 * `whenFull: 'drop'`, casts and sends are dropped as dead letters (calls are still refused).
 * Replies, exit signals, DOWNs and weft's own control messages are never refused.
 */
export interface Backpressure {
  maxPending: number;
  highWater: number;
  whenFull: 'throw' | 'drop';
}

export class ThreadRuntime implements CellHost {
  readonly thread: number;
  readonly node: string;
  readonly creation: number;
  readonly endpoint: Endpoint;
  readonly callTimeout: number;
  private readonly backpressure: Backpressure;
  /** Who waits in `drained()` for this thread's own same-thread queue to empty. */
  private localDrainWaiters: Array<() => void> = [];
  private readonly set: RingSet;
  private readonly main: MainServices;
  private readonly serve: ((from: number, kind: number, envelope: unknown[]) => boolean) | undefined;
  private readonly placer: Placer;
  private readonly encoders: MessageEncoder[] = [];
  private readonly decoders: MessageDecoder[] = [];
  /**
   * The control lane's codec pairs, one per peer: its frames overtake data frames encoded earlier,
   * so they cannot share the data lane's pair (whose shapes are defined in stream order).
   */
  private readonly controlEncoders: MessageEncoder[] = [];
  private readonly controlDecoders: MessageDecoder[] = [];
  private readonly cells = new Map<number, ActorCell>();
  /** Actors that have exited but whose `terminate` is still running: exit signals still reach
   *  their `awaitExit` waits (a supervisor stopping its children from `terminate`). */
  private readonly dying = new Map<number, ActorCell>();
  /** Actors whose `init` is running: exit signals wait in their mailbox until it returns. */
  private readonly starting = new Map<number, ActorCell>();
  private readonly recentDeaths = new Map<number, ExitReason>();
  private readonly modules = new Map<string, Promise<unknown>>();
  /** Calls and spawns this thread (its actors, or main's API) is waiting on. */
  private readonly pending: PendingReplies;
  /** Same-thread messages, run by the loop after each drain (see `post`). */
  private readonly local = new LocalQueue();
  /** A codec pair for same-thread messages (see `copy`). */
  private readonly localEncoder = new MessageEncoder();
  private readonly localDecoder = new MessageDecoder();
  /** Monitors held on this thread: monitor ref → who watches, and → watched pid. */
  private readonly watchersByRef = new Map<number, Watcher>();
  private readonly monitorTargets = new Map<number, Pid>();
  private nextMonitorRef = 1;
  /** True while the thread's loop is parked; a same-thread send then wakes it. */
  parked = false;
  /** Serials run from 1 and are never reused in the node's life (they wrap only past 2^30 spawns);
   *  the next one lives in shared memory (`serialIndex`), so a restarted thread goes on counting. */
  private nextSerial: number;
  /** The first serial of this incarnation: lower ones were the previous incarnation's actors. */
  private readonly firstSerial: number;
  /** Why this thread's previous incarnation went down, if it did (calls to its actors get it). */
  private readonly previousDown: ExitReason | undefined;
  private heartbeat = 0;
  deadLetters = 0;
  stopping = false;

  constructor(options: RuntimeOptions) {
    this.thread = options.thread;
    this.node = options.node;
    this.creation = options.creation;
    this.set = options.set;
    this.callTimeout = options.callTimeout;
    this.backpressure = options.backpressure;
    this.endpoint = new Endpoint(options.set, options.thread, { spinMicros: options.spinMicros, cores: options.cores, keepAlive: options.keepAlive });
    this.nextSerial = this.firstSerial = Atomics.load(options.set.words, serialIndex(options.thread)) || 1;
    this.previousDown = options.previousDown;
    // A restarted thread's refs start anywhere: a late reply meant for the last incarnation then
    // almost surely finds no wait.
    this.pending = new PendingReplies(options.onBusyChange, options.previousDown === undefined ? 1 : 1 + Math.floor(Math.random() * 0x3fff_0000));
    this.placer = new Placer(options.set);
    this.serve = options.serve;
    for (let peer = 0; peer < options.set.threads; peer++) {
      this.encoders.push(new MessageEncoder());
      this.decoders.push(new MessageDecoder());
      this.controlEncoders.push(new MessageEncoder());
      this.controlDecoders.push(new MessageDecoder());
    }
    this.main = options.main(this);
    this.meters = options.actorMetrics === true ? new Map() : undefined;
    this.crashContext = options.crashContext;
    this.fuses = options.fuses;
    setThreadFuses((name) => this.fuse(name));
  }

  /** Meters of this thread's live actors, by serial, when actor metrics are on. */
  private readonly meters: Map<number, ActorMeter> | undefined;
  private readonly crashContext: CrashContext | undefined;
  private readonly fuses: FuseTable;
  /** Handles made on this thread, by name. */
  private readonly fuseHandles = new Map<string, Fuse>();

  /** The fuse `name` (installed on main); FuseError if there is none. */
  fuse(name: string): Fuse {
    const known = this.fuseHandles.get(name);
    if (known !== undefined && known.isCurrent()) return known;
    const found = this.fuses.find(name);
    if (found === undefined) throw new FuseError(`no fuse is installed as ${JSON.stringify(name)}; install it on main with system.fuse(name, options)`);
    const handle = new Fuse(this.fuses, name, found.slot, found.generation, (notice) => this.main.fuse(notice));
    this.fuseHandles.set(name, handle);
    return handle;
  }

  /** Replies awaited on this thread. */
  get awaiting(): number {
    return this.pending.size;
  }

  /** Replies awaited on this thread that come through a ring (not from another node). */
  get awaitingRings(): number {
    return this.pending.size - this.pending.afar;
  }

  /**
   * Of `awaitingRings`, those known to come late: tasks on threads measured on long tasks, counted
   * by main's dispatchers (src/main/tasks.ts). Main's receive loop does not spin for these: a
   * spin of a fraction of a millisecond would not catch them, and on a machine whose cores the
   * threads keep busy it takes CPU from them.
   */
  slowAwaited = 0;

  /** The drain handler: one frame from thread `from`. */
  readonly onFrame = (from: number, kind: number, bytes: Uint8Array, start: number, end: number): void => {
    const decoder = this.decoders[from];
    // The hot kinds carry their addresses as words before the body (see protocol.ts).
    switch (kind) {
      case Kind.CAST:
      case Kind.INFO: {
        const serial = readWord(bytes, start);
        const body = decoder.decode(bytes, start + 4, end);
        const cell = this.live(serial);
        if (cell === undefined) this.deadLetter(serial, kind, body);
        else cell.deliver(kind, from, -1, body);
        return;
      }
      case Kind.CALL:
      case Kind.STREAM: {
        const serial = readWord(bytes, start);
        const ref = readWord(bytes, start + 4);
        const body = decoder.decode(bytes, start + 8, end);
        const cell = this.live(serial);
        if (cell !== undefined) cell.deliver(kind, from, ref, body);
        else this.replyError(from, ref, this.missing(serial));
        return;
      }
      case Kind.REPLY:
        this.pending.resolve(readWord(bytes, start), decoder.decode(bytes, start + 4, end));
        return;
      case Kind.NOTICE: {
        const serial = readWord(bytes, start);
        const body = decoder.decode(bytes, start + 4, end);
        const cell = this.live(serial);
        if (cell === undefined) this.deadLetter(serial, Kind.INFO, body);
        else cell.deliverSystem(from, body);
        return;
      }
      case Kind.CONTROL_CALL: {
        // The control lane's own codec pair: these frames overtake data frames (see `controlCall`).
        const serial = readWord(bytes, start);
        const ref = readWord(bytes, start + 4);
        const body = this.controlDecoders[from].decode(bytes, start + 8, end);
        const cell = this.live(serial);
        if (cell !== undefined) cell.deliver(Kind.CALL, from, ref, body);
        else this.replyError(from, ref, this.missing(serial));
        return;
      }
      case Kind.STATS: // its ref as a word and no body: see `statsOf`
        this.reply(from, readWord(bytes, start), this.stats());
        return;
    }
    const envelope = decoder.decode(bytes, start, end) as unknown[];
    switch (kind) {
      case Kind.SPAWN:
        void this.spawn(from, envelope as SpawnEnvelope); // never rejects: it answers SPAWN_ERROR
        return;
      case Kind.MONITOR: {
        const [serial, mref] = envelope as MonitorEnvelope;
        const cell = this.live(serial);
        if (cell !== undefined) cell.addWatcher(from, mref);
        else this.down(from, mref, serial, this.reasonOf(serial));
        return;
      }
      case Kind.DEMONITOR: {
        const [serial, mref] = envelope as MonitorEnvelope;
        this.live(serial)?.removeWatcher(from, mref);
        return;
      }
      case Kind.LINK:
      case Kind.UNLINK: {
        const [serial, fromSerial] = envelope as LinkEnvelope;
        this.linked(serial, this.sender(from, fromSerial), kind === Kind.LINK);
        return;
      }
      case Kind.EXIT_SIGNAL: {
        const [serial, fromSerial, reason, linked] = envelope as ExitSignalEnvelope;
        this.signalled(serial)?.exitSignal(this.sender(from, fromSerial), reason as ExitReason, linked);
        return;
      }
      case Kind.DOWN: {
        const [mref, serial, reason] = envelope as DownEnvelope;
        this.deliverDown(mref, this.sender(from, serial), reason as ExitReason);
        return;
      }
      case Kind.STOP:
        // stopActors never rejects (every cell's end settles); the catch only keeps a failed
        // send of the answer (main gone) from being an unhandled rejection.
        this.stopActors()
          .then(() => this.sendFrame(from, Kind.STOPPED, [(envelope as StopEnvelope)[0]]))
          .catch(() => undefined);
        return;
      case Kind.CALL_TRACED: {
        const [serial, ref, traceparent, body] = envelope as CallTracedEnvelope;
        this.deliverTraced(serial, from, ref, traceparent, body);
        return;
      }
      case Kind.CALL_ABORT: {
        const [serial, ref, timedOut] = envelope as CallAbortEnvelope;
        this.live(serial)?.abortCall(from, ref, timedOut);
        return;
      }
      case Kind.THREAD_DOWN: {
        const [ref, thread, reason, final] = envelope as ThreadDownEnvelope;
        this.threadDown(thread, reason as ExitReason, final);
        this.reply(from, ref, true);
        return;
      }
      case Kind.SPAWNED: {
        const [ref, serial] = envelope as SpawnedEnvelope;
        this.spawned(ref, this.pid(from, serial));
        return;
      }
      case Kind.MAILBOX: {
        const [serial, full] = envelope as MailboxEnvelope;
        this.noteMailbox(from, serial, full);
        return;
      }
      default:
        if (settleReply(this.pending, kind, envelope)) return;
        if (this.serve?.(from, kind, envelope) === true) return;
        throw new Error(`thread ${this.thread} got a frame of unknown kind ${kind} from thread ${from}`);
    }
  };

  reply(thread: number, ref: number, value: unknown): void {
    if (thread < 0) return; // a caller whose thread died
    if (thread === this.thread) {
      // A caller on this thread gets a copy, as one on another thread would: it never shares an
      // object with the actor's state, and a reply that could not cross threads fails here too.
      let copy: unknown;
      try {
        copy = this.copy(value);
      } catch (error) {
        if (!(error instanceof EncodeError)) throw error;
        this.pending.reject(ref, error);
        return;
      }
      this.pending.resolve(ref, copy);
      return;
    }
    try {
      this.endpoint.sendMessage(thread, Kind.REPLY, value, this.encoders[thread], ref);
    } catch (error) {
      // The reply cannot travel (a function in it, say): the caller gets the EncodeError instead.
      if (!(error instanceof EncodeError)) throw error;
      this.replyError(thread, ref, error);
    }
  }

  replyError(thread: number, ref: number, error: unknown): void {
    if (thread < 0) return;
    if (thread === this.thread) {
      this.pending.reject(ref, this.copyError(error));
      return;
    }
    this.sendError(thread, Kind.REPLY_ERROR, ref, error);
  }

  /**
   * An error for a caller on this thread, as it would arrive from another (see `sendError`): a
   * copy, rebuilt by its code, a stand-in for what cannot travel. So an actor or task behaves the
   * same whichever thread its caller is on, inline mode included (src/main/inline.ts). Never throws.
   */
  private copyError(error: unknown): unknown {
    try {
      return this.copy(error);
    } catch (failure) {
      const travelling = isWeftError(error) ? travelable(error, failure) : standInError(error, failure);
      try {
        return this.copy(travelling);
      } catch {
        return travelling;
      }
    }
  }

  /**
   * Sends an error frame (`REPLY_ERROR`, `SPAWN_ERROR`: `[ref, error]`) to another thread. What was
   * thrown may not travel (a class instance as an Error's cause, a Symbol): then `travelable`
   * stands in for the part that cannot, so the caller still gets the right class (`ExitError`,
   * `SpawnError`) and what could be read. Never throws for the error's sake.
   */
  private sendError(thread: number, kind: number, ref: number, error: unknown): void {
    try {
      this.sendFrame(thread, kind, [ref, error]);
    } catch (failure) {
      if (!(failure instanceof EncodeError)) throw failure;
      // A thrown non-weft value (a task's class instance) still arrives as an Error that says what it was.
      this.sendFrame(thread, kind, [ref, isWeftError(error) ? travelable(error, failure) : standInError(error, failure)]);
    }
  }

  // ── Router: refs made on this thread (ctx.ref, ctx.spawn) send through here ────────────────────

  call(pid: Pid, msg: unknown, timeout: number | undefined, signal?: AbortSignal): Promise<unknown> {
    let promise: Promise<unknown>;
    try {
      if (checkSignal(signal)?.aborted === true) throw new AbortError(`the call to ${pid} was aborted before it was sent`, { cause: signal!.reason });
      promise = this.startCall(pid, msg, timeoutMs(timeout, this.callTimeout));
    } catch (error) {
      return Promise.reject(error); // the message could not travel: the caller gets why
    }
    if (signal !== undefined) {
      const ref = this.pending.lastRef;
      onAbortWhileWaiting(signal, promise, () => {
        if (this.pending.reject(ref, new AbortError(`the call to ${pid} was aborted`, { cause: signal.reason }))) this.tellAbort(pid, ref, false);
      });
    }
    return promise;
  }

  /** The error of a call that timed out, whose actor is told so (its `ctx.signal` aborts): see PendingReplies.begin. */
  private readonly callTimedOut = (pid: unknown, ms: number, ref: number): Error => {
    this.tellAbort(pid as Pid, ref, true);
    return new CallTimeoutError(`call to ${String(pid)} got no reply within ${ms} ms`);
  };

  /**
   * Tells actor `pid` that the caller of its call `ref` (on this thread) stopped waiting: a
   * CALL_ABORT behind the CALL on the same path, so it never overtakes it. Never throws (it runs
   * from a timer or an abort listener). An actor on another node is told of an abort through main's
   * cluster (RemoteOp.CALL_ABORT); of a timeout it needs no word: its node runs the call with the
   * caller's timeout, and its own timer aborts `ctx.signal` (src/main/cluster/cluster.ts).
   */
  private tellAbort(pid: Pid, ref: number, timedOut: boolean): void {
    if (!this.isLocal(pid)) {
      if (timedOut) return;
      try {
        this.main.remote([RemoteOp.CALL_ABORT, pid, ref]);
      } catch {
        // Not a cluster node any more (stopping): the call went nowhere.
      }
      return;
    }
    if (!this.hasThread(pid.thread)) return;
    try {
      if (pid.thread !== this.thread) {
        this.sendFrame(pid.thread, Kind.CALL_ABORT, [pid.serial, ref, timedOut]);
        return;
      }
      this.local.push(pid.serial, Kind.CALL_ABORT, ref, timedOut);
      if (this.parked) this.runLocalSoon();
    } catch {
      // The thread is stopping or gone: so is the call's handler.
    }
  }

  /**
   * A call on the control lane (supervisor calls: src/common/supervisor-ref.ts): it overtakes the
   * data this thread holds back for the callee's thread, so a supervisor answers while a producer
   * floods an actor beside it. Control frames keep their order among themselves (one lane, one
   * codec pair per peer), and are never refused by backpressure. See architecture §5 for the
   * ordering rule. To an actor of this thread or of another node it is a plain call.
   */
  controlCall(pid: Pid, msg: unknown, timeout: number | undefined): Promise<unknown> {
    if (!this.isLocal(pid) || pid.thread === this.thread || !this.hasThread(pid.thread)) return this.call(pid, msg, timeout);
    const pending = this.pending;
    let promise: Promise<unknown>;
    try {
      promise = pending.begin(timeoutMs(timeout, this.callTimeout), pid.thread, this.callTimedOut, pid);
    } catch (error) {
      return Promise.reject(error);
    }
    const ref = pending.lastRef;
    try {
      this.endpoint.sendUrgentMessage(pid.thread, Kind.CONTROL_CALL, msg, this.controlEncoders[pid.thread], pid.serial, ref);
    } catch (error) {
      pending.forget(ref);
      return Promise.reject(error);
    }
    return promise;
  }

  /**
   * A call with no timeout whose message, if it cannot be sent (an EncodeError), throws here and
   * now rather than rejecting later: for a sender with another way to send it (tasks: src/main/tasks.ts).
   */
  callOrThrow(pid: Pid, msg: unknown): Promise<unknown> {
    return this.startCall(pid, msg, Infinity);
  }

  /** Router: a stream from actor `pid` for a ref made on this thread (see `ActorRef.stream`). */
  actorStream(pid: Pid, msg: unknown, options: ActorStreamOptions | undefined): TaskStream<unknown> {
    return openActorStream<unknown>((to, envelope) => this.streamCall(to, envelope), pid, msg, options);
  }

  /**
   * A call of an actor stream (a STREAM frame: src/common/actor-stream.ts), answered as a call is,
   * with no timeout: the consumer's pace is the stream's. Rejects with ClusterError for an actor on
   * another node (streams do not cross nodes), NoProcError or ExitError as a call would.
   */
  streamCall(pid: Pid, envelope: StreamEnvelope): Promise<unknown> {
    if (!this.isLocal(pid)) return Promise.reject(new ClusterError(`cannot stream from actor ${pid}: it is on node ${JSON.stringify(pid.node)}, and actor streams do not cross nodes (call it, or stream from an actor of this node)`));
    try {
      return this.startCall(pid, envelope, Infinity, Kind.STREAM);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Registers the wait and sends the CALL (or STREAM); if it cannot be sent, drops the wait and throws. */
  private startCall(pid: Pid, msg: unknown, ms: number, kind: typeof Kind.CALL | typeof Kind.STREAM = Kind.CALL): Promise<unknown> {
    const pending = this.pending;
    const remote = !this.isLocal(pid);
    // A remote callee's thread is not one of ours: main's cluster rejects the wait if its node goes down.
    const promise = pending.begin(ms, remote ? AFAR : pid.thread, this.callTimedOut, pid);
    const ref = pending.lastRef;
    try {
      if (remote) this.main.remote([RemoteOp.CALL, pid, ref, ms, msg]);
      else if (this.fullMailboxes.size !== 0 && this.fullMailboxes.has(threadKey(pid.thread, pid.serial))) throw this.actorMailboxFull(pid);
      else if (this.hasThread(pid.thread) && this.pathBytes(pid.thread) >= this.backpressure.maxPending) throw this.mailboxFull(pid);
      else {
        // One load when tracing is off; a traceparent only when a span is active (src/common/tracing.ts).
        const traceparent = tracing.capture === undefined || kind !== Kind.CALL ? undefined : tracing.capture();
        if (traceparent === undefined) this.post(pid, kind, ref, msg);
        else this.postTraced(pid, ref, msg, traceparent);
      }
    } catch (error) {
      pending.forget(ref);
      throw error;
    }
    return promise;
  }

  /** A user's cast: bounded by backpressure. Returns false once the path to `pid` is above `highWater`. */
  cast(pid: Pid, msg: unknown): boolean {
    return this.offer(pid, Kind.CAST, msg);
  }

  /** A user's send (to `handleInfo`): bounded as `cast` is. */
  send(pid: Pid, msg: unknown): boolean {
    return this.offer(pid, Kind.INFO, msg);
  }

  /**
   * A cast or send from weft itself (a pool's checkin, a node's news, a message that came over
   * the network): never refused by backpressure, since losing it would break a promise weft made.
   */
  control(pid: Pid, kind: typeof Kind.CAST | typeof Kind.INFO, msg: unknown): void {
    this.post(pid, kind, -1, msg);
  }

  /**
   * A system message for `pid`'s `handleInfo` (a nodedown): like `control`, never refused, and on
   * arrival never counted against the actor's mailbox bound nor dropped by it (Kind.NOTICE).
   */
  notify(pid: Pid, msg: unknown): void {
    if (!this.isLocal(pid) || !this.hasThread(pid.thread)) return;
    if (pid.thread !== this.thread) {
      this.endpoint.sendMessage(pid.thread, Kind.NOTICE, msg, this.encoders[pid.thread], pid.serial);
      return;
    }
    this.local.push(pid.serial, Kind.NOTICE, -1, this.copy(msg));
    if (this.parked) this.runLocalSoon();
  }

  /**
   * Resolves once nothing is held back on the path from this thread to `pid`'s thread (its
   * overflow went into the ring; for an actor of this thread, its same-thread queue ran). The
   * producer's side of backpressure: `if (!ref.cast(m)) await ref.drained()`.
   */
  drained(pid: Pid): Promise<void> {
    if (!this.isLocal(pid) || !this.hasThread(pid.thread)) return Promise.resolve();
    if (pid.thread !== this.thread) return this.endpoint.drained(pid.thread);
    if (this.local.weight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.localDrainWaiters.push(resolve));
  }

  /** Lets every `drained()` wait go (the system stops: nothing will drain any more). */
  releaseDrainWaiters(): void {
    this.endpoint.releaseAllDrainWaiters();
    this.releaseLocalDrainWaiters();
  }

  /** Bytes held back on the path to thread `to` (see `Backpressure`). */
  pathBytes(to: number): number {
    return to === this.thread ? this.local.weight : this.endpoint.pendingBytes(to);
  }

  private offer(pid: Pid, kind: number, msg: unknown): boolean {
    if (!this.isLocal(pid)) {
      this.post(pid, kind, -1, msg);
      return true;
    }
    const to = pid.thread;
    if (this.fullMailboxes.size !== 0 && this.fullMailboxes.has(threadKey(to, pid.serial))) {
      // The actor's 'reject' mailbox told this thread it is full: refused here, as at maxPending.
      if (this.backpressure.whenFull === 'throw') throw this.actorMailboxFull(pid);
      this.deadLetters++;
      this.main.deadLetter(pid, kind, msg, 'mailbox_full');
      return false;
    }
    if (this.hasThread(to) && this.pathBytes(to) >= this.backpressure.maxPending) {
      if (this.backpressure.whenFull === 'throw') throw this.mailboxFull(pid);
      this.deadLetters++;
      this.main.deadLetter(pid, kind, msg, 'full');
      return false;
    }
    this.post(pid, kind, -1, msg);
    return this.pathBytes(to) < this.backpressure.highWater;
  }

  private actorMailboxFull(pid: Pid): MailboxFullError {
    return new MailboxFullError(`the mailbox of actor ${pid} is full (its \`mailbox.max\`, overflow 'reject'): it refuses messages from this thread until it is down to half; wait and send again`);
  }

  /**
   * Actors (by `threadKey(thread, serial)`) whose 'reject' mailbox told this thread it is full
   * (Kind.MAILBOX): casts, sends and calls to them are refused here until they say otherwise, they
   * exit, or their thread goes down. Empty, it costs `offer` one load of `size`.
   */
  private readonly fullMailboxes = new Set<number>();

  private noteMailbox(thread: number, serial: number, full: boolean): void {
    if (full) this.fullMailboxes.add(threadKey(thread, serial));
    else this.fullMailboxes.delete(threadKey(thread, serial));
  }

  tellMailboxFull(thread: number, serial: number, full: boolean): void {
    if (thread === this.thread) this.noteMailbox(this.thread, serial, full);
    else if (this.hasThread(thread)) this.sendFrame(thread, Kind.MAILBOX, [serial, full] satisfies MailboxEnvelope);
  }

  mailboxDropped(pid: Pid, kind: number, body: unknown): void {
    this.deadLetters++;
    this.main.deadLetter(pid, kind, body, 'mailbox_full');
  }

  private mailboxFull(pid: Pid): MailboxFullError {
    const held = this.pathBytes(pid.thread);
    return new MailboxFullError(`the path to ${pid} (thread ${pid.thread}) holds ${held} bytes, the most \`maxPending\` allows (${this.backpressure.maxPending}): its thread is not keeping up; wait for ref.drained() and send again`);
  }

  /**
   * Sends to an actor on any thread. On this thread the message is queued for the loop's next turn
   * rather than handled at once: handling it inside the sender's callback could re-enter the
   * sender, or recurse without bound along a chain of actors. Same-thread messages are not encoded
   * either, so a message that could not cross threads is still refused, as it would be elsewhere.
   */
  private post(pid: Pid, kind: number, ref: number, msg: unknown): void {
    if (!this.isLocal(pid)) {
      this.main.remote([kind === Kind.CAST ? RemoteOp.CAST : RemoteOp.SEND, pid, msg]);
      return;
    }
    if (pid.thread !== this.thread) {
      if (!this.hasThread(pid.thread)) throw new NoProcError(`no actor ${pid}: this system has threads 0 to ${this.set.threads - 1}`);
      this.endpoint.sendMessage(pid.thread, kind, msg, this.encoders[pid.thread], pid.serial, kind === Kind.CALL || kind === Kind.STREAM ? ref : NO_WORD);
      return;
    }
    const bytes = this.localEncoder.encode(msg);
    this.local.push(pid.serial, kind, ref, this.localDecoder.decode(bytes), bytes.length);
    if (this.parked) this.runLocalSoon();
  }

  /** A CALL inside an active span: as `post` sends a CALL, with the caller's `traceparent` beside it. */
  private postTraced(pid: Pid, ref: number, msg: unknown, traceparent: string): void {
    if (pid.thread === this.thread) {
      const bytes = this.localEncoder.encode(msg);
      this.local.push(pid.serial, Kind.CALL_TRACED, ref, [traceparent, this.localDecoder.decode(bytes)], bytes.length);
      if (this.parked) this.runLocalSoon();
      return;
    }
    if (!this.hasThread(pid.thread)) throw new NoProcError(`no actor ${pid}: this system has threads 0 to ${this.set.threads - 1}`);
    try {
      this.sendFrame(pid.thread, Kind.CALL_TRACED, [pid.serial, ref, traceparent, msg]);
    } catch (error) {
      throw rebaseOntoBody(error, CALL_TRACED_BODY);
    }
  }

  /** A traced CALL for actor `serial` of this thread: its handler runs in the caller's trace context. */
  private deliverTraced(serial: number, from: number, ref: number, traceparent: string, body: unknown): void {
    const cell = this.live(serial);
    if (cell === undefined) this.replyError(from, ref, this.missing(serial));
    else if (tracing.enter === undefined) cell.deliver(Kind.CALL, from, ref, body);
    else cell.deliverIn(tracing.enter, traceparent, Kind.CALL, from, ref, body);
  }

  /**
   * The message as the receiver would get it from another thread: a copy through the codec, so a
   * same-thread receiver never shares an object with its sender, and a value that could not cross
   * threads is refused here too (EncodeError at the sender).
   */
  copy(msg: unknown): unknown {
    return this.localDecoder.decode(this.localEncoder.encode(msg));
  }

  /**
   * A same-thread message was queued while the loop is parked (sent from a timer, an I/O callback,
   * or main's own code): run it in a microtask rather than wake the loop, which would cost a
   * notify (a system call) and a trip through the event loop. The loop, parked on its rings,
   * stays parked; what the handlers send goes out in one publish per ring.
   */
  private runLocalSoon(): void {
    if (this.localScheduled) return;
    this.localScheduled = true;
    queueMicrotask(this.runLocalNow);
  }

  private localScheduled = false;
  /** Same-thread messages run from microtasks since the event loop last had a turn, and since when. */
  private localSinceTurn = 0;
  private localTurnStart = 0;
  private readonly turned = (): void => {
    this.localSinceTurn = 0;
  };
  private readonly afterTurn = (): void => {
    this.localSinceTurn = 0;
    this.runLocalNow();
  };

  private readonly runLocalNow = (): void => {
    this.localScheduled = false;
    if (!this.parked) return; // the loop is up again and runs them itself
    if (this.localSinceTurn === 0) {
      // The first run since the event loop's last turn: note when, and learn when it turns again.
      this.localTurnStart = performance.now();
      setImmediate(this.turned);
    } else if (this.localSinceTurn >= LOCAL_BUDGET || performance.now() - this.localTurnStart >= LOCAL_BUDGET_MS) {
      // A budget's worth ran with no turn of the event loop between (a loop of calls to an actor
      // on this thread, each answer sending the next): the rest waits for the next turn, so that
      // timers, I/O and replies in the rings (the doorbell's wake-up is a task) are not starved.
      this.localScheduled = true;
      setImmediate(this.afterTurn);
      return;
    }
    const endpoint = this.endpoint;
    endpoint.cork();
    try {
      this.localSinceTurn += this.runLocal(LOCAL_BUDGET);
    } finally {
      endpoint.uncork();
    }
    // More than a budget's worth (a chain of sends): the loop takes over, yielding to the event loop.
    if (this.local.size !== 0) this.endpoint.interrupt();
  };

  /** Runs queued same-thread messages, up to `budget`; returns how many ran. */
  runLocal(budget: number): number {
    const local = this.local;
    let ran = 0;
    while (ran < budget && local.size !== 0) {
      const serial = local.serial();
      const kind = local.kind();
      const ref = local.ref();
      const body = local.body();
      local.shift();
      ran++;
      if (kind === Kind.EXIT_SIGNAL) {
        // ref holds `linked` (1 or 0), body [from, reason]: see exitSignal.
        const [from, reason] = body as [Pid, ExitReason];
        this.signalled(serial)?.exitSignal(from, reason, ref === 1);
        continue;
      }
      if (kind === Kind.CALL_TRACED) {
        const [traceparent, msg] = body as [string, unknown];
        this.deliverTraced(serial, this.thread, ref, traceparent, msg);
        continue;
      }
      if (kind === Kind.CALL_ABORT) {
        this.live(serial)?.abortCall(this.thread, ref, body === true);
        continue;
      }
      const cell = this.live(serial);
      if (kind === Kind.NOTICE) {
        // A DOWN or a nodedown: a system message, never counted against a mailbox bound.
        if (cell !== undefined) cell.deliverSystem(this.thread, body);
        else this.deadLetter(serial, Kind.INFO, body);
      } else if (cell !== undefined) cell.deliver(kind, this.thread, ref, body);
      else if (kind === Kind.CALL || kind === Kind.STREAM) this.replyError(this.thread, ref, this.missing(serial));
      else this.deadLetter(serial, kind, body);
    }
    if (local.weight === 0 && this.localDrainWaiters.length !== 0) this.releaseLocalDrainWaiters();
    return ran;
  }

  private releaseLocalDrainWaiters(): void {
    const waiters = this.localDrainWaiters;
    this.localDrainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Starts an actor on thread `target` (this one included) and resolves with its pid once `init`
   * has returned. With `name`, `target` registers it before it runs (see `spawn`); if the name
   * is taken, it never runs and the spawn rejects with AlreadyRegisteredError. `replacing`: the
   * actor it replaces (a supervisor's restart), whose hold on the name gives way even if main has
   * not yet heard that it exited; `reservation`: main's hold on the name for this spawn. If `init`
   * answers after `timeout`, the actor is killed (see `spawned`).
   */
  async spawnOn(target: number, module: URL | string, args: unknown, timeout: number | undefined, name?: string, replacing?: Pid, reservation?: number, mailbox?: MailboxOptions): Promise<Pid> {
    const url = module instanceof URL ? module.href : String(module);
    const ms = timeoutMs(timeout, DEFAULT_SPAWN_TIMEOUT);
    const limit = mailboxLimit(mailbox) ?? null;
    // From main onto a shard, main names the actor as it reads SPAWNED (see `spawned`), which
    // saves the shard a round trip to main; elsewhere the actor's own thread names it.
    const naming = name !== undefined && this.thread === 0 && target !== 0 ? { name, replacing, reservation } : undefined;
    const envelope = (ref: number, body: unknown): SpawnEnvelope =>
      naming === undefined ? [ref, url, body, name ?? null, replacing ?? null, reservation ?? null, limit] : [ref, url, body, null, null, null, limit];
    let sent: number | undefined;
    try {
      const serial = await this.pending.request<number>(
        ms,
        () => new CallTimeoutError(`spawn of ${url} on thread ${target} did not finish within ${ms} ms`),
        (ref) => {
          sent = ref;
          if (target === this.thread) {
            void this.spawn(this.thread, envelope(ref, this.copy(args)));
            return;
          }
          if (naming !== undefined) this.namings.set(ref, naming);
          try {
            this.sendFrame(target, Kind.SPAWN, envelope(ref, args));
          } catch (error) {
            throw rebaseOntoBody(error, SPAWN_ARGS);
          }
        },
        target,
      );
      return this.pid(target, serial);
    } finally {
      if (naming !== undefined && sent !== undefined) this.namings.delete(sent);
    }
  }

  /** Main only: names to give actors that spawns from main start on shards, by the spawn's ref. */
  private readonly namings = new Map<number, { name: string; replacing: Pid | undefined; reservation: number | undefined }>();

  /**
   * Spawn `ref` has started `pid`. If no one waits for it any more (the spawn timed out, or the
   * system is stopping), the actor is killed, as OTP's `start` kills a child whose init answered
   * too late: nothing would know it, and its name would be lost to it.
   */
  private spawned(ref: number, pid: Pid): void {
    const naming = this.namings.get(ref);
    if (naming === undefined || !this.pending.has(ref)) {
      if (!this.pending.resolve(ref, pid.serial)) this.exitSignal(pid, pid, 'kill');
      return;
    }
    this.namings.delete(ref);
    // Main's registry binds now, as this SPAWNED is read (main's register binds before it returns
    // its promise): before any exit notice of the actor, which comes later on the same ring. If
    // the name is taken, the actor is killed and the spawn rejects.
    this.main.register(pid, naming.name, naming.replacing, naming.reservation).then(
      () => {
        if (!this.pending.resolve(ref, pid.serial)) this.exitSignal(pid, pid, 'kill');
      },
      (error: unknown) => {
        this.exitSignal(pid, pid, 'kill');
        this.pending.reject(ref, error);
      },
    );
  }

  /** `ctx.spawn` with `node`: asks main's cluster to start it on that node, and waits for its pid. */
  spawnElsewhere(node: string, module: URL | string, args: unknown, thread: Placement | undefined, timeout: number | undefined, name?: string): Promise<Pid> {
    const url = module instanceof URL ? module.href : String(module);
    let ms: number;
    try {
      ms = timeoutMs(timeout, DEFAULT_SPAWN_TIMEOUT);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.pending.request<Pid>(
      ms,
      () => new CallTimeoutError(`spawn of ${url} on node ${JSON.stringify(node)} did not finish within ${ms} ms`),
      (ref) => this.main.remote([RemoteOp.SPAWN, ref, node, url, args, name ?? null, thread ?? null, ms]),
      AFAR,
    );
  }

  /** `ctx.spawn`: `'local'` is this thread; anything else is placed as `system.spawn` places. */
  spawnFrom(module: URL | string, args: unknown, thread: Placement | 'local' | undefined, timeout: number | undefined, name?: string, replacing?: Pid, mailbox?: MailboxOptions): Promise<Pid> {
    const target = thread === undefined || thread === 'local' ? this.thread : this.placer.place(thread);
    return this.spawnOn(target, module, args, timeout, name, replacing, undefined, mailbox);
  }

  markTask(id: number): void {
    Atomics.store(this.set.words, taskIndex(this.thread), id);
  }

  parkTask(delta: 1 | -1): void {
    Atomics.add(this.set.words, parkedIndex(this.thread), delta);
  }

  claimTask(id: number): boolean {
    return Atomics.compareExchange(this.set.words, claimIndex(this.thread), id, 0) === id;
  }

  flushSends(): void {
    this.endpoint.publishCorked();
  }

  event(event: SupervisionEvent): void {
    this.main.event(event);
  }

  /**
   * Inline mode: an exception escaped actor `serial`'s code (src/common/crash-context.ts); it
   * crashes with it, as if a handler had thrown. False if no such actor lives here.
   */
  crash(serial: number, error: unknown): boolean {
    const cell = this.cells.get(serial) ?? this.starting.get(serial);
    if (cell === undefined || !cell.alive) return false;
    cell.crash(error as ExitReason);
    return true;
  }

  /** Keeps why actor `serial` exited, for calls and links that come after. */
  private remember(serial: number, reason: ExitReason): void {
    this.recentDeaths.set(serial, reason);
    if (this.recentDeaths.size > RECENT_DEATHS) this.recentDeaths.delete(this.recentDeaths.keys().next().value!);
  }

  buried(cell: ActorCell): void {
    this.dying.delete(cell.self.serial);
  }

  /** The actor `serial` of this thread, running or in its `init` (messages to it then wait in its mailbox). */
  private live(serial: number): ActorCell | undefined {
    return this.cells.get(serial) ?? this.starting.get(serial);
  }

  /** The actor an exit signal for `serial` goes to: a live one, one in `init`, or one still in its `terminate`. */
  private signalled(serial: number): ActorCell | undefined {
    return this.live(serial) ?? this.dying.get(serial);
  }

  /** Where `placement` puts an actor (see src/shm/placement.ts). */
  place(placement: Placement | undefined): number {
    return this.placer.place(placement);
  }

  exited(cell: ActorCell, reason: ExitReason): void {
    this.cells.delete(cell.self.serial);
    this.meters?.delete(cell.self.serial);
    this.dying.set(cell.self.serial, cell);
    publishActorCount(this.set, this.thread, this.cells.size);
    // Its own monitors die with it; a DOWN still on its way finds no watcher and is dropped.
    for (const mref of [...cell.watching]) this.dropMonitor(mref);
    this.remember(cell.self.serial, reason);
    this.main.exited(cell.self, cell.name, reason);
  }

  /**
   * A cast or send for an actor that is not here: dropped, as in Erlang, but counted and reported
   * to main, which emits 'deadLetter', so nothing vanishes unseen.
   */
  private deadLetter(serial: number, kind: number, body: unknown): void {
    this.deadLetters++;
    this.main.deadLetter(this.pid(this.thread, serial), kind, body, 'noproc');
  }

  // ── names (main keeps them) ────────────────────────────────────────────────────────────────────

  register(pid: Pid, name: string): Promise<void> {
    return this.main.register(pid, name);
  }

  unregister(serial: number, name: string): void {
    this.main.unregister(this.pid(this.thread, serial), name);
  }

  whereis(name: string, where?: NameScope): Promise<Pid | undefined> {
    return this.main.whereis(name, where);
  }

  /**
   * Sends a request frame to thread `to` and resolves with its REPLY (or rejects with its
   * REPLY_ERROR, or a CallTimeoutError after `timeout` ms). `frame` builds the kind and envelope
   * around the request's ref.
   */
  request<T>(to: number, what: string, frame: (ref: number) => [kind: number, envelope: unknown[]], timeout = this.callTimeout): Promise<T> {
    return this.pending.request<T>(
      timeout,
      () => new CallTimeoutError(`thread ${to} did not answer ${what} within ${timeout} ms`),
      (ref) => {
        const [kind, envelope] = frame(ref);
        this.sendFrame(to, kind, envelope);
      },
      to,
    );
  }

  /**
   * Asks thread `to` for its figures. The request overtakes any backlog this thread holds for
   * `to` (`Endpoint.sendUrgentWord`), so `stats()` still answers while a producer floods a slow
   * actor there, and shows the flood.
   */
  statsOf(to: number): Promise<ThreadStats> {
    return this.pending.request<ThreadStats>(
      this.callTimeout,
      () => new CallTimeoutError(`thread ${to} did not answer stats within ${this.callTimeout} ms`),
      (ref) => this.endpoint.sendUrgentWord(to, Kind.STATS, ref),
      to,
    );
  }

  // ── links and exit signals ─────────────────────────────────────────────────────────────────────

  linkFrom(from: ActorCell, target: Pid, on: boolean): void {
    this.link(target, from.self, on);
  }

  /**
   * Links (or unlinks) `target` to `from`, on `target`'s side; `from` has already noted it. `from`
   * is an actor of this thread, or (on main, for main's cluster) of another node.
   */
  link(target: Pid, from: Pid, on: boolean): void {
    if (!this.isLocal(target)) {
      this.main.remote([on ? RemoteOp.LINK : RemoteOp.UNLINK, target, from]);
      return;
    }
    if (!this.hasThread(target.thread)) {
      if (on) this.exitSignal(from, target, 'noproc', true);
      return;
    }
    if (target.thread !== this.thread) this.sendFrame(target.thread, on ? Kind.LINK : Kind.UNLINK, [target.serial, this.wireSender(from)]);
    else this.linked(target.serial, from, on);
  }

  /** `target` (an actor of this thread) is asked to link to `other`, or to unlink. */
  private linked(serial: number, other: Pid, on: boolean): void {
    const cell = this.live(serial);
    if (!on) cell?.removeLink(other);
    else if (cell !== undefined) cell.addLink(other);
    else this.exitSignal(other, this.pid(this.thread, serial), this.reasonOf(serial), true);
  }

  exitSignal(target: Pid, from: Pid, reason: ExitReason, linked = false): void {
    if (!this.isLocal(target)) {
      this.main.remote([RemoteOp.EXIT, target, from, reason, linked]);
      return;
    }
    if (!this.hasThread(target.thread)) return;
    if (target.thread === this.thread) {
      // Through the local queue, so it never runs inside the exiting (or signalling) actor's code.
      this.local.push(target.serial, Kind.EXIT_SIGNAL, linked ? 1 : 0, [from, reason]);
      if (this.parked) this.runLocalSoon();
      return;
    }
    this.sendWithReason(target.thread, Kind.EXIT_SIGNAL, [target.serial, this.wireSender(from), reason, linked], 2);
  }

  /** True for a pid of this node's present life (any thread). */
  isLocal(pid: Pid): boolean {
    return pid.node === this.node && pid.creation === this.creation;
  }

  /** The pid of actor `serial` on `thread` of this node. */
  pid(thread: number, serial: number): Pid {
    return new Pid(this.node, thread, serial, this.creation);
  }

  /** How a frame names its sender actor `pid`: by serial when it is on this thread, else whole. */
  private wireSender(pid: Pid): number | Pid {
    return pid.thread === this.thread && this.isLocal(pid) ? pid.serial : pid;
  }

  /** The sender actor a frame from thread `from` names (see wireSender). */
  private sender(from: number, named: number | Pid): Pid {
    return typeof named === 'number' ? this.pid(from, named) : named;
  }

  // ── monitors ────────────────────────────────────────────────────────────────────────────────────

  /** `ctx.monitor` (the watcher is an actor) or `system.monitor` (a listener on main). */
  monitorFrom(watcher: Watcher, target: Pid): number {
    const mref = this.nextMonitorRef;
    this.nextMonitorRef = mref >= 0x3fff_ffff ? 1 : mref + 1;
    this.watchersByRef.set(mref, watcher);
    this.monitorTargets.set(mref, target);
    if (watcher instanceof ActorCell) watcher.watching.add(mref);
    if (!this.isLocal(target)) {
      this.main.remote([RemoteOp.MONITOR, target, mref]);
    } else if (!this.hasThread(target.thread)) {
      this.down(this.thread, mref, target.serial, 'noproc');
    } else if (target.thread === this.thread) {
      const cell = this.live(target.serial);
      if (cell !== undefined) cell.addWatcher(this.thread, mref);
      else this.down(this.thread, mref, target.serial, this.reasonOf(target.serial));
    } else {
      this.sendFrame(target.thread, Kind.MONITOR, [target.serial, mref]);
    }
    return mref;
  }

  demonitorFrom(watcher: Watcher, mref: number): void {
    const target = this.monitorTargets.get(mref);
    if (target === undefined || this.watchersByRef.get(mref) !== watcher) return;
    this.forgetMonitor(mref);
    if (!this.isLocal(target)) this.main.remote([RemoteOp.DEMONITOR, target, mref]);
    else if (target.thread === this.thread) this.live(target.serial)?.removeWatcher(this.thread, mref);
    else this.sendFrame(target.thread, Kind.DEMONITOR, [target.serial, mref]);
  }

  down(thread: number, mref: number, serial: number, reason: ExitReason): void {
    if (thread === this.thread) {
      this.deliverDown(mref, this.pid(this.thread, serial), reason);
      return;
    }
    this.sendWithReason(thread, Kind.DOWN, [mref, serial, reason], 2);
  }

  monitorNode(watcher: Pid, node: string): void {
    if (this.creation === 0) throw new ClusterError(`cannot monitorNode(${JSON.stringify(node)}): this system is not a cluster node (start it with { node: { name, nats } })`);
    this.main.monitorNode(watcher, node);
  }

  /** Main's cluster: a DOWN for monitor `mref` of `thread` (here or a shard), of `pid` on another node. */
  downFromAfar(thread: number, mref: number, pid: Pid, reason: ExitReason): void {
    if (thread === this.thread) this.deliverDown(mref, pid, reason);
    else if (this.hasThread(thread)) this.sendWithReason(thread, Kind.DOWN, [mref, pid, reason], 2);
  }

  /** Hands a DOWN to the actor on this thread that holds monitor `mref`, as a message to its handleInfo. */
  private deliverDown(mref: number, pid: Pid, reason: ExitReason): void {
    const watcher = this.watchersByRef.get(mref);
    if (watcher === undefined) return; // demonitored, or the watcher has exited
    this.forgetMonitor(mref);
    if (!(watcher instanceof ActorCell)) {
      watcher({ type: 'DOWN', ref: mref, pid, reason });
      return;
    }
    // Through the local queue, like any same-thread message: never inside the exiting actor's code.
    this.local.push(watcher.self.serial, Kind.NOTICE, -1, { type: 'DOWN', ref: mref, pid, reason } satisfies Down);
    if (this.parked) this.runLocalSoon();
  }

  /** Forgets monitor `mref` of a watcher that is gone; one of another node's actor is demonitored there too (or main's cluster would keep it). */
  private dropMonitor(mref: number): void {
    const target = this.monitorTargets.get(mref);
    this.forgetMonitor(mref);
    if (target !== undefined && !this.isLocal(target)) this.main.remote([RemoteOp.DEMONITOR, target, mref]);
  }

  private forgetMonitor(mref: number): void {
    const watcher = this.watchersByRef.get(mref);
    if (watcher instanceof ActorCell) watcher.watching.delete(mref);
    this.watchersByRef.delete(mref);
    this.monitorTargets.delete(mref);
  }

  /** Why the actor `serial` of this thread is gone: its exit reason if remembered, else 'noproc'. */
  private reasonOf(serial: number): ExitReason {
    const reason = this.recentDeaths.get(serial);
    if (reason !== undefined) return reason;
    return this.previousDown !== undefined && serial < this.firstSerial ? this.previousDown : 'noproc';
  }

  /** This thread's figures; reading them starts a new mailbox peak (see ThreadStats `mailboxPeak`). */
  stats(): ThreadStats {
    let mailboxDepth = this.local.size;
    let mailboxPeak = 0;
    for (const cell of this.cells.values()) {
      mailboxDepth += cell.depth;
      if (cell.peakDepth > mailboxPeak) mailboxPeak = cell.peakDepth;
      cell.peakDepth = cell.depth;
    }
    const { idle, active } = performance.eventLoopUtilization();
    const { messagesReceived, messagesSent, parks, notifies, overflowed } = this.endpoint.stats;
    const pending: ThreadStats['pending'] = [];
    for (let to = 0; to < this.set.threads; to++) {
      const bytes = this.pathBytes(to);
      if (bytes !== 0) pending.push({ to, bytes, frames: to === this.thread ? this.local.size : this.endpoint.pendingFrames(to) });
    }
    const stats: ThreadStats = { thread: this.thread, actors: this.cells.size, mailboxDepth, messagesIn: messagesReceived, messagesOut: messagesSent, parks, notifies, overflowed, deadLetters: this.deadLetters, pending, elu: { idle, active }, mailboxPeak };
    if (this.meters !== undefined) {
      stats.actorMetrics = [...this.meters.values()].map((meter) => {
        const cell = this.cells.get(meter.serial);
        return { ...meter.report(), mailboxDepth: cell?.depth ?? 0, mailboxHighWater: cell?.highWater ?? 0, mailboxDropped: cell?.dropped ?? 0 };
      });
    }
    return stats;
  }

  /**
   * `sendFrame` for an envelope holding an exit reason at `at`: a reason that cannot travel (a
   * class instance given to ctx.stop, say) goes as its description, so the news still arrives.
   */
  sendWithReason(to: number, kind: number, envelope: unknown[], at: number): void {
    try {
      this.sendFrame(to, kind, envelope);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      envelope[at] = travelable(envelope[at], error);
      this.sendFrame(to, kind, envelope);
    }
  }

  /** A frame of kind `kind` with `envelope` to thread `to` (never this thread: it has no ring to itself). */
  sendFrame(to: number, kind: number, envelope: unknown[]): void {
    this.endpoint.sendMessage(to, kind, envelope, this.encoders[to]);
  }

  private missing(serial: number): Error {
    const pid = this.pid(this.thread, serial);
    if (this.recentDeaths.has(serial)) {
      const reason = this.recentDeaths.get(serial);
      return new ExitError(`actor ${pid} exited before replying: ${describeReason(reason)}`, reason);
    }
    if (this.previousDown !== undefined && serial < this.firstSerial) {
      return new ExitError(`actor ${pid} went down with its thread: ${describeReason(this.previousDown)}`, this.previousDown);
    }
    return new NoProcError(`no actor ${pid}: it does not exist or exited long ago`);
  }

  /**
   * Runs spawn `ref` asked by thread `from`: imports the module, runs `init`, names the actor if
   * asked (from this thread, so main hears of the name before it can hear of the actor's exit:
   * both go in order on this thread's ring to main, and a name is never left bound to a dead pid),
   * then answers SPAWNED, or SPAWN_ERROR with why it did not start. Never rejects.
   */
  private async spawn(from: number, [ref, moduleUrl, args, name, replacing, reservation, mailbox]: SpawnEnvelope): Promise<void> {
    try {
      if (this.stopping) throw new SpawnError(`thread ${this.thread} is stopping; ${moduleUrl} was not started`);
      const actor = await this.load(moduleUrl);
      const pid = this.pid(this.thread, this.nextSerial);
      this.nextSerial = this.nextSerial >= 0x3fff_ffff ? 1 : this.nextSerial + 1;
      Atomics.store(this.set.words, serialIndex(this.thread), this.nextSerial);
      // init gets the cell as its context; exit signals reach it meanwhile (see `signalled`).
      let behaviour = actor.behaviour;
      if (this.meters !== undefined) {
        const meter = new ActorMeter(pid.serial, name);
        this.meters.set(pid.serial, meter);
        behaviour = meter.wrap(behaviour);
      }
      if (this.crashContext !== undefined) behaviour = this.crashContext.wrap(behaviour, pid.serial);
      const cell = new ActorCell(pid, name, behaviour, this, mailbox ?? undefined);
      this.starting.set(pid.serial, cell);
      let state: unknown;
      let named = false;
      try {
        const context = this.crashContext;
        state = await (context === undefined ? actor.behaviour.init(args, cell) : context.run(pid.serial, () => actor.behaviour.init(args, cell)));
        this.checkStarted(cell, moduleUrl);
        if (name !== null) {
          await this.main.register(pid, name, replacing ?? undefined, reservation ?? undefined);
          named = true;
          this.checkStarted(cell, moduleUrl);
        }
      } catch (error) {
        const failure = isWeftError(error) ? error : new SpawnError(`init of ${moduleUrl} threw: ${describeReason(error)}`, { cause: error });
        if (cell.alive) {
          // `ctx.stop(reason)` in init: as OTP's {stop, Reason}, linked actors get that reason.
          const reason = cell.stopRequested ?? (isWeftError(error) ? error : (error as ExitReason));
          cell.abandon(reason);
          this.remember(pid.serial, reason);
        }
        if (named) this.main.unregister(pid, name!);
        this.meters?.delete(pid.serial);
        for (const mref of [...cell.watching]) this.dropMonitor(mref);
        throw failure;
      } finally {
        this.starting.delete(pid.serial);
      }
      this.cells.set(pid.serial, cell);
      publishActorCount(this.set, this.thread, this.cells.size);
      // Answered before the actor takes what waited in its mailbox: a message there may end it at
      // once, and its exit notice must follow the SPAWNED on the ring to main (main names an actor
      // it spawned on a shard as it reads SPAWNED: see `spawned`).
      if (from === this.thread) this.spawned(ref, pid);
      else this.sendFrame(from, Kind.SPAWNED, [ref, pid.serial]);
      cell.started(state);
    } catch (error) {
      const failure = isWeftError(error) ? error : new SpawnError(`cannot spawn ${moduleUrl}: ${describeReason(error)}`, { cause: error });
      if (from === this.thread) this.pending.reject(ref, this.copyError(failure));
      else this.sendError(from, Kind.SPAWN_ERROR, ref, failure);
    }
  }

  /** After `init` (and after naming): throws the SpawnError for an actor that must not run. */
  private checkStarted(cell: ActorCell, moduleUrl: string): void {
    if (this.stopping) throw new SpawnError(`thread ${this.thread} is stopping; ${moduleUrl} was not started`);
    if (!cell.alive) throw new SpawnError(`${moduleUrl} exited during its init: ${describeReason(cell.exitReason)}`, { cause: cell.exitReason });
    const stop = cell.stopRequested;
    if (stop !== undefined) throw new SpawnError(`init of ${moduleUrl} called ctx.stop(${describeReason(stop)})`, { cause: stop });
  }

  /** The module's actor, imported once per thread. */
  private async load(moduleUrl: string): Promise<AnyActor> {
    let loading = this.modules.get(moduleUrl);
    if (loading === undefined) {
      loading = import(moduleUrl);
      this.modules.set(moduleUrl, loading);
    }
    let module: { default?: unknown };
    try {
      module = (await loading) as { default?: unknown };
    } catch (error) {
      this.modules.delete(moduleUrl);
      throw new SpawnError(`cannot import actor module ${moduleUrl}: ${describeReason(error)}`, { cause: error });
    }
    if (!isActor(module.default)) {
      throw new SpawnError(`module ${moduleUrl} does not export a defineActor(...) default; expected \`export default defineActor({ init, ... })\`, got: default export of type ${module.default === null ? 'null' : typeof module.default}`);
    }
    return module.default;
  }

  /**
   * Thread `thread` died (`reason` is `{ threadDown }`): its rings with this thread start afresh
   * (after reading what it sent before dying) with a fresh codec pair; waits it was to answer
   * reject with ExitError(reason); monitors of its actors deliver DOWN and links to them deliver the
   * exit signal, as if every actor there had exited with `reason`; what its actors held here
   * (watches, open calls) is forgotten. Main calls this on every live thread before it starts the
   * thread's next incarnation.
   */
  threadDown(thread: number, reason: ExitReason, final = false): void {
    this.endpoint.resetPeer(thread, this.onFrame);
    this.encoders[thread] = new MessageEncoder();
    this.decoders[thread] = new MessageDecoder();
    this.controlEncoders[thread] = new MessageEncoder();
    this.controlDecoders[thread] = new MessageDecoder();
    // Full mailboxes there are gone with their actors.
    for (const key of this.fullMailboxes) if (key % 1024 === thread) this.fullMailboxes.delete(key);
    const error = () => new ExitError(`thread ${thread} went down before replying: ${describeReason(reason)}`, reason);
    // `final` (it will not come back): set before the exit signals below, so a supervisor that
    // restarts a child there hears at once that it cannot, instead of waiting out a spawn timeout.
    if (final) this.pending.loseThread(thread, error);
    else this.pending.rejectThread(thread, error);
    for (const [mref, target] of [...this.monitorTargets]) {
      if (target.thread === thread && this.isLocal(target)) this.deliverDown(mref, target, reason);
    }
    // The exit signals are given here and now, not queued: this runs from a frame, never inside an
    // actor's code, and an actor they kill tells main it exited (freeing its names) before this
    // thread confirms to main that it forgot `thread`, so main's restarts find those names free.
    for (const cell of [...this.cells.values(), ...this.starting.values(), ...this.dying.values()]) {
      for (const pid of cell.forgetThread(thread)) cell.exitSignal(pid, reason, true);
    }
    if (this.parked) this.runLocalSoon();
  }

  /** The scheduler turned: main's watchdog reads this to tell a busy thread from a hung one. */
  beat(): void {
    // Never 0: 0 is the line's reset value, which the watchdog reads as "has not started yet".
    this.heartbeat = (this.heartbeat + 1) | 0 || 1;
    Atomics.store(this.set.words, heartbeatIndex(this.thread), this.heartbeat);
  }

  /**
   * Stops every actor (terminate runs, queued calls fail with 'shutdown'); spawns still loading are
   * refused. Then the thread's task modules' `teardown` exports run (src/common/task-lifecycle.ts).
   */
  async stopActors(): Promise<void> {
    // What was sent to this thread's own actors before the stop is handled first, as messages from
    // other threads are (they come ahead of the STOP in the ring): a cast from main to an actor on
    // main just before stop() is not lost. Only those already queued: an actor casting to itself
    // forever cannot hold the stop.
    for (let left = this.local.size; left > 0 && this.local.size !== 0; ) left -= this.runLocal(left);
    this.stopping = true;
    // Those already exiting too: a supervisor in its terminate is still stopping its children.
    await Promise.all([...[...this.cells.values()].map((cell) => cell.shutdown('shutdown')), ...[...this.dying.values()].map((cell) => cell.ended)]);
    // Then the task modules' teardowns (their runners, and their open streams, have ended above).
    await tearDownAll();
  }

  /** Rejects every reply still awaited on this thread, and stops their timers. */
  abandonWaits(error: () => Error): void {
    this.pending.rejectAll(error);
    this.pending.close();
  }

  private hasThread(thread: number): boolean {
    return Number.isInteger(thread) && thread >= 0 && thread < this.set.threads;
  }
}
