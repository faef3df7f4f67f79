/**
 * The system: main's side of weft. `start()` launches the shards and returns a `System`, through
 * which main spawns actors, calls, casts and sends, and finally stops everything.
 *
 * Main is thread 0 of the ring set. A receive loop drains main's inbound rings for the whole life of
 * the system (replies, spawn results, exit notices); it parks on main's doorbell when idle without
 * holding the process open, and a ref'd timer holds it open only while a reply is awaited, so a
 * script that has nothing left to wait for exits by itself (after `stop()`).
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { MessageDecoder, MessageEncoder } from '../shm/codec.js';
import { Endpoint, NO_WORD, readWord } from '../shm/endpoint.js';
import {
  CallTimeoutError,
  InvalidArgumentError,
  NoProcError,
  SpawnError,
  SystemStoppedError,
  describeValue,
} from '../shm/errors.js';
import { LOCAL_NODE, Pid } from '../shm/pid.js';
import { Kind, rebaseOntoBody, type DeadLetterEnvelope, type DownEnvelope, type ExitedEnvelope, type RegisterEnvelope, type ThreadStats, type WhereisEnvelope, type ShardData, type SpawnEnvelope, SPAWN_ARGS } from '../shm/protocol.js';
import { RingSet } from '../shm/ring-set.js';
import { PendingReplies, settleReply } from '../common/pending.js';
import type { AnyActor, ArgsOf, ExitReason } from '../worker/actor.js';
import { ActorRef, type Router } from '../common/actor-ref.js';
import { resolveStartOptions, type ResolvedStartOptions, type StartOptions } from './options.js';
import { Placer, type Placement } from './placement.js';
import { Registry } from './registry.js';

/** Options of `spawn`; `args` is required when the actor's `init` needs one. */
export type SpawnOptions<Args> = {
  /** A name, unique on this node while the actor lives; `whereis(name)` and `send(name, …)` find it. */
  name?: string;
  /** Where to run it. @default 'round-robin' */
  thread?: Placement;
  /** Milliseconds to wait for the module to load and `init` to return. @default 30000 */
  timeout?: number;
} & (undefined extends Args ? { args?: Args } : { args: Args });

/**
 * The shard's entry. A worker thread runs JavaScript, so when this file itself runs as TypeScript
 * source (the test runner loads sources), the compiled shard in dist/ is used instead.
 */
const SHARD_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/src/worker/shard.js', import.meta.url)
  : new URL('../worker/shard.js', import.meta.url);
const STOP_TIMEOUT_MS = 10_000;
const SPAWN_TIMEOUT_MS = 30_000;
/** Drains between yields to the event loop on main, so user timers and I/O are not starved. */
const DRAINS_PER_YIELD = 16;
const noop = (): void => {};

/** Resolves when `worker` is running; rejects if it fails or exits first. */
function online(worker: Worker, thread: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new SpawnError(`shard ${thread} did not start: ${why}`));
    worker.once('online', () => resolve());
    worker.once('error', (error) => fail(error.message));
    worker.once('exit', (code) => fail(`it exited with code ${code}`));
  });
}

/** Starts a system: `threads` shards (default: one per core) plus main as thread 0. */
export async function start(options?: StartOptions): Promise<System> {
  const resolved = resolveStartOptions(options);
  const system = new System(resolved);
  await system.ready();
  return system;
}

/** A `cast` or `send` that reached no actor (it had exited, or never existed). */
export interface DeadLetter {
  /** Who it was for. */
  to: Pid;
  kind: 'cast' | 'send';
  message: unknown;
}

/** A watch on one actor from main, made by `system.monitor`. */
export interface Monitor {
  readonly ref: number;
  /**
   * Resolves when the actor exits (at once with `'noproc'` if it was already gone), with its pid
   * and exit reason. Never rejects; never resolves after `demonitor()`. It does not hold the
   * process open.
   */
  readonly down: Promise<{ pid: Pid; reason: ExitReason | 'noproc' }>;
  demonitor(): void;
}

/** The events a system emits, with their listeners' arguments. */
export interface SystemEvents {
  deadLetter: [letter: DeadLetter];
}

export class System extends EventEmitter<SystemEvents> implements Router {
  /** Shards (worker threads) running actors; main is thread 0 besides them. */
  readonly threads: number;
  readonly node = LOCAL_NODE;
  private readonly options: ResolvedStartOptions;
  private readonly set: RingSet;
  private readonly endpoint: Endpoint;
  private readonly workers: Worker[] = [];
  private readonly encoders: MessageEncoder[] = [];
  private readonly decoders: MessageDecoder[] = [];
  private readonly pending: PendingReplies;
  private readonly placer: Placer;
  private readonly names = new Registry();
  /** Holds the process open while a reply is awaited (the parked receive loop does not). */
  private readonly hold = setInterval(noop, 2 ** 31 - 1).unref();
  private stopping: Promise<void> | undefined;
  private closed = false;
  /** Set once the shards are gone: the receive loop ends. */
  private finished = false;
  /** Errors thrown out of shards (see `ready`). */
  readonly threadErrors: Error[] = [];
  /** Main's monitors: monitor ref → resolver of its `down` promise. */
  private readonly monitors = new Map<number, (value: { pid: Pid; reason: ExitReason | 'noproc' }) => void>();
  private nextMonitorRef = 1;
  /** Casts and sends that reached no actor, since start (each also emitted as 'deadLetter'). */
  deadLetters = 0;

  /** Use `start()`. */
  constructor(options: ResolvedStartOptions) {
    super();
    this.options = options;
    this.threads = options.threads;
    this.set = RingSet.create({ threads: options.threads + 1, ringCapacity: options.ringCapacity });
    this.endpoint = new Endpoint(this.set, 0, { spinMicros: options.mainSpinMicros, keepAlive: false });
    this.pending = new PendingReplies((busy) => (busy ? this.hold.ref() : this.hold.unref()));
    this.placer = new Placer(options.threads);
    for (let thread = 0; thread <= options.threads; thread++) {
      this.encoders.push(new MessageEncoder());
      this.decoders.push(new MessageDecoder());
    }
  }

  /** Starts the shards and the receive loop. */
  async ready(): Promise<void> {
    for (let thread = 1; thread <= this.threads; thread++) {
      const data: ShardData = { buffer: this.set.buffer, thread, node: this.node, spinMicros: this.options.spinMicros, batch: this.options.batch };
      const worker = new Worker(SHARD_URL, { workerData: data, name: `weft shard ${thread}` });
      // A shard that throws out of its loop: kept for now; restarting it is the root supervisor's
      // job (ARCHITECTURE §6), which is not built yet. Without a listener the error would crash main.
      worker.on('error', (error) => this.threadErrors.push(error));
      worker.unref();
      this.workers.push(worker);
    }
    void this.receive();
    this.hold.ref(); // the shards are unref'd; hold the process until they are up
    try {
      await Promise.all(this.workers.map((worker, index) => online(worker, index + 1)));
    } catch (error) {
      this.closed = true;
      this.finished = true;
      this.endpoint.interrupt();
      await Promise.all(this.workers.map((worker) => worker.terminate()));
      throw error;
    } finally {
      if (this.pending.size === 0) this.hold.unref();
    }
  }

  /**
   * Starts an actor from the module at `module` (a URL or file URL string whose default export is
   * `defineActor(...)`) and resolves with a typed ref once its `init` has returned.
   *
   * ```ts
   * const counter = await system.spawn<typeof import('./counter.js').default>(new URL('./counter.js', import.meta.url), { args: 5, name: 'counter' });
   * ```
   * Rejects with `SpawnError` (module missing or not an actor, `init` threw: the error is its
   * `cause`), `AlreadyRegisteredError` for a taken name, `InvalidArgumentError` for a bad thread.
   */
  async spawn<A extends AnyActor>(module: URL | string, ...[options]: undefined extends ArgsOf<A> ? [SpawnOptions<ArgsOf<A>>?] : [SpawnOptions<ArgsOf<A>>]): Promise<ActorRef<A>> {
    this.checkOpen('spawn');
    const url = module instanceof URL ? module.href : String(module);
    const thread = this.placer.place(options?.thread);
    const name = options?.name ?? null;
    if (name !== null) this.names.reserve(name);
    const timeout = options?.timeout ?? SPAWN_TIMEOUT_MS;
    const args = (options as { args?: unknown } | undefined)?.args;
    try {
      const serial = await this.pending.request<number>(
        timeout,
        () => new CallTimeoutError(`spawn of ${url} on thread ${thread} did not finish within ${timeout} ms`),
        (ref) => this.sendSpawn(thread, [ref, url, args, name]),
      );
      const pid = new Pid(this.node, thread, serial);
      if (name !== null) this.names.bind(name, pid);
      return new ActorRef<A>(pid, this);
    } catch (error) {
      if (name !== null) this.names.release(name);
      throw error;
    }
  }

  /** The actor registered under `name`, if any. */
  whereis<A extends AnyActor = AnyActor>(name: string): ActorRef<A> | undefined {
    const pid = this.names.whereis(name);
    return pid ? new ActorRef<A>(pid, this) : undefined;
  }

  /**
   * Sends `msg` to an actor's `handleInfo`, by name, ref or pid, without waiting. A name nobody
   * holds is a `NoProcError` (as Erlang's `name ! msg` raises `badarg`); a dead pid is dropped.
   */
  send(to: string | ActorRef | Pid, msg: unknown): void {
    this.post(Kind.INFO, this.resolve(to), msg);
  }

  /**
   * Watches an actor from main: `monitor.down` resolves with its exit reason when it exits, as
   * Erlang's monitor delivers a DOWN. Watching does not affect the actor.
   *
   * ```ts
   * const { down } = system.monitor(counter);
   * counter.cast({ type: 'stop' });
   * console.log((await down).reason); // 'normal'
   * ```
   */
  monitor(target: ActorRef | Pid): Monitor {
    this.checkOpen('monitor');
    const pid = target instanceof ActorRef ? target.pid : target;
    const mref = this.nextMonitorRef;
    this.nextMonitorRef = mref >= 0x3fff_ffff ? 1 : mref + 1;
    let resolve!: (value: { pid: Pid; reason: ExitReason | 'noproc' }) => void;
    const down = new Promise<{ pid: Pid; reason: ExitReason | 'noproc' }>((done) => (resolve = done));
    if (pid.node !== this.node || pid.thread < 1 || pid.thread > this.threads) {
      resolve({ pid, reason: 'noproc' });
    } else {
      this.monitors.set(mref, resolve);
      this.sendTo(pid.thread, Kind.MONITOR, [pid.serial, mref]);
    }
    return {
      ref: mref,
      down,
      demonitor: () => {
        if (this.monitors.delete(mref) && !this.closed) this.sendTo(pid.thread, Kind.DEMONITOR, [pid.serial, mref]);
      },
    };
  }

  /**
   * Figures per thread (main first, then each shard): live actors, mailbox depth, messages in and
   * out, parks and notifies, overflowed frames, dead letters; and the replies main awaits.
   */
  async stats(): Promise<{ awaitedReplies: number; threads: ThreadStats[] }> {
    this.checkOpen('stats');
    const { messagesReceived, messagesSent, parks, notifies, overflowed } = this.endpoint.stats;
    const main: ThreadStats = { thread: 0, actors: 0, mailboxDepth: 0, messagesIn: messagesReceived, messagesOut: messagesSent, parks, notifies, overflowed, deadLetters: this.deadLetters };
    const shards = await Promise.all(
      this.workers.map((_, index) =>
        this.pending.request<ThreadStats>(this.options.callTimeout, () => new CallTimeoutError(`shard ${index + 1} did not report its stats`), (ref) =>
          this.sendTo(index + 1, Kind.STATS, [ref]),
        ),
      ),
    );
    return { awaitedReplies: this.pending.size, threads: [main, ...shards] };
  }

  // ── Router: what ActorRef calls ───────────────────────────────────────────────────────────────

  call(pid: Pid, msg: unknown, timeout: number | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(this.stoppedError('call'));
    const ms = timeout ?? this.options.callTimeout;
    if (!(ms === Infinity || (typeof ms === 'number' && ms >= 0))) {
      return Promise.reject(new InvalidArgumentError(`expected \`timeout\` to be a number of ms >= 0 or Infinity, got: ${describeValue(timeout)}`));
    }
    return this.pending.request(
      ms,
      () => new CallTimeoutError(`call to ${pid} got no reply within ${ms} ms`),
      (ref) => this.sendAddressed(pid, Kind.CALL, msg, ref),
    );
  }

  cast(pid: Pid, msg: unknown): void {
    this.post(Kind.CAST, pid, msg);
  }

  // ── stop ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stops every actor (each `terminate` runs with reason `'shutdown'`), ends every shard, and
   * rejects whatever is still awaited with `SystemStoppedError`. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    const stops = this.workers.map((_, index) =>
      this.pending
        .request<void>(STOP_TIMEOUT_MS, () => new CallTimeoutError(`shard ${index + 1} did not stop within ${STOP_TIMEOUT_MS} ms`), (ref) => this.sendTo(index + 1, Kind.STOP, [ref]))
        .catch(noop),
    );
    await Promise.all(stops);
    this.pending.rejectAll(() => this.stoppedError('call'));
    this.pending.close();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.finished = true;
    this.endpoint.interrupt();
    clearInterval(this.hold);
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  private resolve(to: string | ActorRef | Pid): Pid {
    if (typeof to === 'string') {
      const pid = this.names.whereis(to);
      if (!pid) throw new NoProcError(`no actor is registered as ${JSON.stringify(to)}`);
      return pid;
    }
    if (to instanceof ActorRef) return to.pid;
    if (to instanceof Pid) return to;
    throw new InvalidArgumentError(`expected a name, an ActorRef or a Pid, got: ${describeValue(to)}`);
  }

  private post(kind: number, pid: Pid, msg: unknown): void {
    this.checkOpen(kind === Kind.CAST ? 'cast' : 'send');
    this.sendAddressed(pid, kind, msg, NO_WORD);
  }

  /** Answers a shard's request (register, whereis) as a REPLY: the ref as a word before the value. */
  private replyTo(thread: number, ref: number, value: unknown): void {
    this.endpoint.sendMessage(thread, Kind.REPLY, value, this.encoders[thread], ref);
  }

  /** A CAST, INFO or CALL: the actor's serial (and the call's ref) as words before the message. */
  private sendAddressed(pid: Pid, kind: number, msg: unknown, ref: number): void {
    const thread = pid.thread;
    if (!Number.isInteger(thread) || thread < 1 || thread > this.threads) {
      throw new NoProcError(`no thread ${thread} in this system (shards are 1 to ${this.threads})`);
    }
    this.endpoint.sendMessage(thread, kind, msg, this.encoders[thread], pid.serial, ref);
  }

  private sendTo(thread: number, kind: number, envelope: unknown[]): void {
    if (!Number.isInteger(thread) || thread < 1 || thread > this.threads) {
      throw new NoProcError(`no thread ${thread} in this system (shards are 1 to ${this.threads})`);
    }
    this.endpoint.sendMessage(thread, kind, envelope, this.encoders[thread]);
  }

  /** A SPAWN envelope; an EncodeError names the path inside the user's `args`, not the envelope. */
  private sendSpawn(thread: number, envelope: SpawnEnvelope): void {
    try {
      this.sendTo(thread, Kind.SPAWN, envelope);
    } catch (error) {
      throw rebaseOntoBody(error, SPAWN_ARGS);
    }
  }

  private checkOpen(what: string): void {
    if (this.closed) throw this.stoppedError(what);
  }

  private stoppedError(what: string): SystemStoppedError {
    return new SystemStoppedError(`cannot ${what}: the system has been stopped`);
  }

  /** Main's receive loop: runs until the system stops. */
  private async receive(): Promise<void> {
    let drains = 0;
    while (!this.finished) {
      if (this.endpoint.drain(this.onFrame, 1024) === 0) {
        // Spin only while a reply is awaited: with nothing expected, spinning would only block
        // main's event loop.
        await this.endpoint.wait(this.pending.size === 0 ? 0 : this.options.mainSpinMicros);
      } else if (++drains % DRAINS_PER_YIELD === 0) {
        await yieldToEventLoop();
      } else {
        // Let the continuations of the replies just resolved run (they may send the next calls).
        await null;
      }
    }
  }

  private readonly onFrame = (from: number, kind: number, bytes: Uint8Array, start: number, end: number): void => {
    if (kind === Kind.REPLY) {
      // A call's answer: its ref is a word before the value (see protocol.ts).
      this.pending.resolve(readWord(bytes, start), this.decoders[from].decode(bytes, start + 4, end));
      return;
    }
    const envelope = this.decoders[from].decode(bytes, start, end) as unknown[];
    if (settleReply(this.pending, kind, envelope)) return;
    switch (kind) {
      case Kind.BORN:
        this.placer.counts[from]++;
        return;
      case Kind.DOWN: {
        const [mref, serial, reason] = envelope as DownEnvelope;
        const resolve = this.monitors.get(mref);
        if (resolve === undefined) return;
        this.monitors.delete(mref);
        resolve({ pid: new Pid(this.node, from, serial), reason: reason as ExitReason });
        return;
      }
      case Kind.DEAD_LETTER: {
        const [serial, letterKind, message] = envelope as DeadLetterEnvelope;
        this.deadLetters++;
        this.emit('deadLetter', { to: new Pid(this.node, from, serial), kind: letterKind === Kind.CAST ? 'cast' : 'send', message });
        return;
      }
      case Kind.EXITED: {
        const [serial] = envelope as ExitedEnvelope;
        this.placer.counts[from]--;
        this.names.exited(new Pid(this.node, from, serial));
        return;
      }
      case Kind.REGISTER: {
        const [ref, serial, name, thread] = envelope as RegisterEnvelope;
        try {
          this.names.bind(name, new Pid(this.node, thread ?? from, serial));
          this.replyTo(from, ref, true);
        } catch (error) {
          this.sendTo(from, Kind.REPLY_ERROR, [ref, error]);
        }
        return;
      }
      case Kind.UNREGISTER: {
        const [, serial, name] = envelope as RegisterEnvelope;
        this.names.unbind(name, new Pid(this.node, from, serial));
        return;
      }
      case Kind.WHEREIS: {
        const [ref, name] = envelope as WhereisEnvelope;
        this.replyTo(from, ref, this.names.whereis(name) ?? null);
        return;
      }
      default:
        throw new Error(`main got a frame of unknown kind ${kind} from thread ${from}`);
    }
  };
}
