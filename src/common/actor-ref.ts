/**
 * `ActorRef<A>`: a pid with its actor's types, so `ref.call(msg)` checks the message and types the
 * reply at compile time. Made by `spawn`, `whereis` and `ctx.ref(pid)`; works on any thread (its
 * router is that thread's system or shard runtime); still valid (and failing with `NoProcError` /
 * `ExitError`) after the actor is gone. To hand an actor to another actor, send `ref.pid` (a pid
 * travels in messages; a ref, which holds its thread's router, does not) and rebuild the ref there
 * with `ctx.ref<A>(pid)`.
 */
import type { AnyActor, CallOf, CastOf, InfoOf, ReplyOf, StreamOf, YieldOf } from './actor.js';
import type { Pid } from '../shm/pid.js';
import type { Kind } from '../shm/protocol.js';
import type { TaskStream } from './stream.js';
import type { ActorStreamOptions } from './actor-stream-consumer.js';

/** What a ref needs from its system; the system implements it. */
export interface Router {
  /** `signal`: aborts the call (see `CallOptions.signal`). */
  call(pid: Pid, msg: unknown, timeout: number | undefined, signal?: AbortSignal): Promise<unknown>;
  /** A call on the control lane: ahead of the data held back for the callee's thread (supervisor calls). */
  controlCall(pid: Pid, msg: unknown, timeout: number | undefined): Promise<unknown>;
  /** Bounded by backpressure: false once the path to `pid` is above its high-water mark. */
  cast(pid: Pid, msg: unknown): boolean;
  send(pid: Pid, msg: unknown): boolean;
  /** Resolves once nothing is held back on the path to `pid` (see `ActorRef.drained`). */
  drained(pid: Pid): Promise<void>;
  /** A cast from weft's own protocols (a pool's checkin): never refused by backpressure. */
  control(pid: Pid, kind: typeof Kind.CAST, msg: unknown): void;
  /** A stream of what `pid`'s `handleStream(msg)` yields (see `ActorRef.stream`). */
  actorStream(pid: Pid, msg: unknown, options: ActorStreamOptions | undefined): TaskStream<unknown>;
}

export interface CallOptions {
  /**
   * Milliseconds to wait for the reply; `Infinity` waits forever. When it passes, the call rejects
   * with `CallTimeoutError` and the actor's `ctx.signal` for it aborts.
   * @default the system's `callTimeout` (5000)
   */
  timeout?: number;
  /**
   * Aborts the call: it rejects at once with `AbortError` (`cause`: the signal's reason), and the
   * actor's `ctx.signal` for it aborts in its thread, so a handler still at work can give up; its
   * reply, if it sends one, is dropped. Already aborted: the call rejects and nothing is sent.
   * @example ref.call({ type: 'search', q }, { signal: AbortSignal.timeout(200) })
   */
  signal?: AbortSignal;
}

export class ActorRef<A extends AnyActor = AnyActor> {
  readonly pid: Pid;
  private readonly router: Router;

  constructor(pid: Pid, router: Router) {
    this.pid = pid;
    this.router = router;
  }

  /**
   * Sends `msg` to `handleCall` and resolves with the reply. Rejects with `CallTimeoutError` after
   * the timeout, `AbortError` when `options.signal` aborts, `ExitError` (with `reason`) if the actor
   * exits first, `NoProcError` if it does not exist, `EncodeError` if `msg` cannot travel,
   * `SystemStoppedError` once the system is stopped. A timeout or an abort also aborts the
   * handler's `ctx.signal`.
   */
  call(msg: CallOf<A>, options?: CallOptions): Promise<ReplyOf<A>> {
    return this.router.call(this.pid, msg, options?.timeout, options?.signal) as Promise<ReplyOf<A>>;
  }

  /**
   * Sends `msg` to `handleStream` and iterates the values its generator yields, with
   * backpressure: the actor's generator runs at most `highWaterMark` values ahead of this consumer
   * (credit, as `pool.stream`), and is pulled between the actor's messages, never while one of its
   * handlers runs. `break` (or `return()`) ends the generator there (its finally blocks run);
   * `options.signal` does too, and rejects the waiting `next()` with `AbortError`. `next()` rejects
   * with `ExitError` if the actor exits (a throw in `handleStream` or its generator crashes it),
   * `NoProcError` if it does not exist, `SystemStoppedError` once the system stops, and
   * `ClusterError` for an actor on another node (streams do not cross nodes). The stream opens with
   * the first `next()`; throws `InvalidArgumentError` now for a bad `highWaterMark` or `signal`.
   *
   * ```ts
   * for await (const row of table.stream({ type: 'scan', where: 'age > 30' })) send(row);
   * ```
   */
  stream(msg: StreamOf<A>, options?: ActorStreamOptions): TaskStream<YieldOf<A>> {
    return this.router.actorStream(this.pid, msg, options) as TaskStream<YieldOf<A>>;
  }

  /**
   * Sends `msg` to `handleCast`, without waiting. Returns false once the path to the actor holds
   * more than the system's `backpressure.highWater` (its thread is not keeping up): a producer
   * then awaits `drained()` before it goes on, as with a Node stream's `write()` and `'drain'`.
   * Throws `EncodeError` if `msg` cannot travel, `MailboxFullError` at `backpressure.maxPending`.
   */
  cast(msg: CastOf<A>): boolean {
    return this.router.cast(this.pid, msg);
  }

  /** Sends `msg` to `handleInfo` (Erlang's `!`), without waiting; returns and throws as `cast`. */
  send(msg: InfoOf<A>): boolean {
    return this.router.send(this.pid, msg);
  }

  /**
   * Resolves once nothing is held back on the path to this actor: what a producer awaits when
   * `cast` returned false.
   *
   * ```ts
   * for (const line of lines) if (!ref.cast({ type: 'line', line })) await ref.drained();
   * ```
   */
  drained(): Promise<void> {
    return this.router.drained(this.pid);
  }

  toString(): string {
    return String(this.pid);
  }
}
