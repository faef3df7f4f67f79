/**
 * What an actor module imports (`weft/actor`): `defineActor` and the types of an actor's callbacks.
 *
 * An actor is a module whose default export is `defineActor({ ... })`. weft imports the module once
 * per thread (a shard, or main), and each `spawn` runs `init` to make a fresh state; then every message is handled one
 * at a time, in arrival order, by the callback for its kind:
 *
 * ```ts
 * // counter.ts
 * import { defineActor } from 'weft/actor';
 *
 * export default defineActor({
 *   init: (start: number) => ({ count: start }),
 *   handleCall: (msg: { type: 'get' } | { type: 'add'; by: number }, state) =>
 *     msg.type === 'get'
 *       ? { reply: state.count, state }
 *       : { reply: state.count + msg.by, state: { count: state.count + msg.by } },
 *   handleCast: (msg: { type: 'reset' }, state) => ({ count: 0 }),
 * });
 *
 * // main.ts
 * const counter = await system.spawn<typeof import('./counter.js').default>(new URL('./counter.js', import.meta.url), { args: 5 });
 * await counter.call({ type: 'add', by: 2 });   // 7, typed as number
 * counter.cast({ type: 'reset' });
 * ```
 *
 * ## The callback contract (written once, here)
 *
 * - `init(args, ctx)` returns the first state (or a promise of it). If it throws, `spawn` rejects
 *   with a `SpawnError` whose `cause` is the thrown error (whatever it is, on whatever thread: a
 *   value that cannot travel arrives described, see `travelable` in src/shm/errors.ts), and no
 *   actor exists. So does `ctx.stop(reason)` in `init` (OTP's `{stop, Reason}`: `cause` is the
 *   reason, actors it linked to get it, nothing else runs) and an exit signal it sends itself
 *   (`ctx.exit(ctx.self, reason)`).
 * - `handleCall(msg, state, ctx)` answers a `call`. It returns one of:
 *   - `{ reply, state }`: the caller gets `reply`; the actor goes on with `state`;
 *   - `ctx.noreply(state)`: no reply now; keep `ctx.from` and answer later with
 *     `ctx.reply(from, value)` (from this or a later handler), as OTP's `{noreply, State}`.
 *   A missing `handleCall` makes every call fail with an `ExitError` (the actor crashes).
 * - `handleCast(msg, state, ctx)` handles a `cast` and returns the next state (or a promise of it).
 * - `handleInfo(msg, state, ctx)` handles anything sent with `send`; returns as `handleCast` does.
 *   Without it, such messages are dropped.
 * - `terminate(reason, state, ctx)` runs once when the actor stops for any reason but a kill
 *   (a crash included); what it returns or throws does not change the exit reason.
 * - Once the actor has exited (and its `terminate` has returned), its `ctx` refuses every effect
 *   (`spawn`, `send`, `cast`, `call`, `link`, `monitor`, `exit`, `register`, `reply`,
 *   `sendAfter`) with `ActorExitedError`: a handler still awaiting when its actor was killed cannot
 *   leave an orphan child or a name behind. A `ctx.spawn` under way when its actor dies kills the
 *   child it started. `terminate` itself may still act (but not `register`).
 * - A reply is a copy, as any message is, whether the caller is on the actor's thread or not: a
 *   reply that cannot travel (a function in it) fails the call with `EncodeError` everywhere.
 * - A watch or link on an actor that is already gone fires at once with its real exit reason
 *   while its thread still remembers it (the last 10,000 exits per thread, and `{ threadDown }`
 *   for the actors of a thread's previous life), and with `'noproc'` otherwise. Erlang gives
 *   `'noproc'` for both; weft keeps the reason, so that `ctx.spawn(…, { link: true })` of a
 *   child that ended right after `init` (a supervisor's transient child that stopped `'normal'`)
 *   is told why, exactly as if the link had been made before the exit.
 *
 * Any callback may be `async`: the actor handles its next message only when the promise settles,
 * while every other actor on the thread keeps running. A callback that throws (or rejects) crashes
 * the actor with that error: `terminate` runs, the caller being answered gets an `ExitError` whose
 * `reason` is the error, and so does every call still in the mailbox. `ctx.stop(reason)` ends the
 * actor the same way after the current callback returns (a reply returned with it is still sent).
 *
 * ## When not to use an actor
 * For a pure function over its input (hash this, resize that), a pool's `run` is simpler: an actor
 * is for state that lives between messages, or for a thing that must be done one at a time.
 */
import type { Pid } from '../shm/pid.js';
import type { ActorRef, CallOptions } from './actor-ref.js';
import type { Placement } from '../shm/placement.js';
import type { SuperviseOptions, SupervisorRef, SupervisorSpec } from './supervisor-ref.js';
import type { PoolRef } from './pool-ref.js';
import type { Fuse } from './fuse.js';

export { fuse, type Fuse } from './fuse.js';

const ACTOR: unique symbol = Symbol.for('weft.actor') as never;
const NO_REPLY: unique symbol = Symbol.for('weft.noreply') as never;

/** Why an actor stopped: `'normal'`, `'shutdown'`, `'kill'`, the error it crashed with, or anything given to `ctx.stop`. */
export type ExitReason = 'normal' | 'shutdown' | 'kill' | 'killed' | Error | { threadDown: unknown } | (string & {}) | object;

import type { MailboxOptions } from './mailbox.js';

/** Options of `ctx.spawn`. */
export interface ActorSpawnOptions<Args> {
  args?: Args;
  /** `'local'` (this actor's thread), or a placement as `system.spawn` takes. @default 'local' */
  thread?: Placement | 'local';
  /** Milliseconds to wait for the module to load and `init` to return. @default 30000 */
  timeout?: number;
  /** Link the new actor with this one as soon as it has started. */
  link?: boolean;
  /** Register the new actor under this name once started. */
  name?: string;
  /**
   * Start it on another node of the cluster (its name); `thread` then places it among that node's
   * threads (`'local'`: round-robin there). `name` registers it on that node.
   */
  node?: string;
  /** Bound its mailbox: at most `max` casts, sends and calls wait (see `MailboxOptions`). @default unbounded */
  mailbox?: MailboxOptions;
}

/** Who is waiting for a reply: keep it to answer later with `ctx.reply` (see `noreply`). */
export interface ReplyTo<Reply> {
  readonly ref: number;
  readonly thread: number;
  /** Phantom: ties the handle to the reply type, so `ctx.reply` checks the value. */
  readonly __reply?: (value: Reply) => void;
}

/**
 * Returned by `ctx.noreply(state)`. `Reply` is the type of the answer that will be given later with
 * `ctx.reply`: name it (`ctx.noreply<State, Done>(state)`) when a handler only ever answers that way,
 * so callers' `call` is typed; otherwise it is inferred from the `{ reply }` returns.
 */
export interface NoReply<State, Reply = never> {
  readonly [NO_REPLY]: true;
  readonly state: State;
  /** Phantom: carries `Reply` for inference; never set. */
  readonly __reply?: Reply;
}

export type CallOutcome<Reply, State> = { reply: Reply; state: State } | NoReply<State, Reply>;

/** What every callback gets as `ctx`. */
export interface ActorContext {
  /** This actor's pid. */
  readonly self: Pid;
  /** Stop this actor with `reason` once the current callback returns. */
  stop(reason?: ExitReason): void;
  /** Answer a call that was left open with `noreply`. Ignored if that caller has stopped waiting. */
  reply<Reply>(to: ReplyTo<Reply>, value: Reply): void;
  /** A typed ref for a pid that came in a message (`ctx.ref<typeof Counter>(msg.counter)`). */
  ref<A extends AnyActor>(pid: Pid): ActorRef<A>;
  /**
   * Starts an actor from this one: on this actor's own thread (`'local'`, the default), or placed
   * as `system.spawn` places (a thread number, 0 being main, `'round-robin'`, `'least-loaded'`,
   * `{ key }`).
   * Resolves with its ref once its `init` has returned; rejects as `system.spawn` does. With
   * `link: true` the two are linked as soon as it has started (if it has already exited by then,
   * the link delivers its exit reason at once, as if it had been linked from the start). With
   * `name`, the new actor is registered by its own thread once `init` has returned and before it
   * handles anything, so its name is freed whenever it exits, however soon; if the name is taken,
   * it never runs and the spawn rejects with `AlreadyRegisteredError`. An actor whose `init`
   * finishes after the spawn's `timeout` (`CallTimeoutError`) is killed, as OTP's `start` does.
   * `timeout` is ms >= 0 or `Infinity` (`InvalidArgumentError` otherwise).
   */
  spawn<A extends AnyActor>(module: URL | string, options?: ActorSpawnOptions<ArgsOf<A>>): Promise<ActorRef<A>>;
  /**
   * Starts a supervisor (see src/common/supervisor.ts) as this actor's child: linked to it, on its
   * thread unless `thread` says otherwise. If this actor exits abnormally, the supervisor stops its
   * children and exits too; if the supervisor gives up (too many restarts), this actor gets its
   * exit signal, as a parent supervisor would.
   */
  supervise(spec: SupervisorSpec, options?: SuperviseOptions): Promise<SupervisorRef>;
  /**
   * The pool whose manager is `pool` (a pid that came in a message, or `(await ctx.whereis(name)).pid`),
   * as a typed handle for this actor: the pool watches this actor while it borrows, and takes back
   * what it holds if it dies.
   */
  pool<W extends AnyActor>(pool: ActorRef | Pid): PoolRef<W>;
  /** The fuse `name`, installed on main with `system.fuse` (see src/common/fuse.ts); FuseError if there is none. */
  fuse(name: string): Fuse;
  /**
   * `ref.call` / `ref.cast` / `ref.send`, spelled from the context (the ref may be on any thread).
   * `cast` and `send` return false once the path to `to` is above the backpressure high-water
   * mark: an actor that produces a stream then awaits `to.drained()` before it goes on.
   */
  call<A extends AnyActor>(to: ActorRef<A>, msg: CallOf<A>, options?: CallOptions): Promise<ReplyOf<A>>;
  cast<A extends AnyActor>(to: ActorRef<A>, msg: CastOf<A>): boolean;
  send(to: ActorRef | Pid, msg: unknown): boolean;
  /**
   * Watches another actor (on any thread): when it exits, or at once if it is already gone, this
   * actor's `handleInfo` gets `{ type: 'DOWN', ref, pid, reason }` (see `Down`), with the ref this
   * returns. Watching does not tie the two together: nothing happens to this actor. For an actor
   * already gone, `reason` is its exit reason if its thread remembers it, else `'noproc'` (see
   * "The callback contract").
   */
  monitor(target: ActorRef | Pid): number;
  /** Stops watching; a DOWN already on its way may still arrive. */
  demonitor(ref: number): void;
  /**
   * Watches a node of the cluster, as Erlang's `monitor_node`: once it goes down (at once if it is
   * not up), this actor's `handleInfo` gets `{ type: 'nodedown', node, why }` (see `NodeDown`).
   * Once per call. ClusterError outside a cluster.
   */
  monitorNode(node: string): void;
  /**
   * Links this actor with another (on any thread), both ways: when either exits with a reason
   * other than `'normal'`, the other gets an exit signal and exits with the same reason, unless it
   * traps exits (then its `handleInfo` gets `{ type: 'EXIT', from, reason }`, see `ExitSignal`).
   * Linking to an actor already gone delivers its exit signal at once: its exit reason if its
   * thread remembers it, else `'noproc'` (see "The callback contract").
   */
  link(target: ActorRef | Pid): void;
  unlink(target: ActorRef | Pid): void;
  /**
   * Sends an exit signal to `target` as if a linked actor had exited with `reason`. `'kill'`
   * cannot be trapped: the target exits with `'killed'`. `'normal'` does nothing to an actor that
   * does not trap exits.
   */
  exit(target: ActorRef | Pid, reason: ExitReason): void;
  /** While true, exit signals (but `'kill'`) arrive in `handleInfo` as messages instead of killing this actor. */
  trapExit(on: boolean): void;
  /**
   * Sends `msg` to this actor's `handleInfo` (or to `to`) after `ms` milliseconds, like Erlang's
   * `send_after`. The timer dies with this actor; `cancel()` stops it and says whether it had not
   * fired yet.
   */
  sendAfter(ms: number, msg: unknown, to?: ActorRef | Pid): { cancel(): boolean };
  /**
   * Names this actor on the node (names live on main and are seen from every thread); rejects
   * with `AlreadyRegisteredError` if the name is taken. Freed when the actor exits.
   */
  register(name: string): Promise<void>;
  unregister(name: string): void;
  /** The actor registered as `name` on this node, if any (asks main: one round trip). */
  whereis<A extends AnyActor>(name: string): Promise<ActorRef<A> | undefined>;
  /** The actor registered as `name` on node `node` (asks that node). ClusterError outside a cluster. */
  whereisOn<A extends AnyActor>(name: string, node: string): Promise<ActorRef<A> | undefined>;
  /** The actor holding the cluster-wide name `name`, on any node. ClusterError outside a cluster. */
  whereisGlobal<A extends AnyActor>(name: string): Promise<ActorRef<A> | undefined>;
}

/** What a trapped exit signal delivers to `handleInfo`. */
export interface ExitSignal {
  type: 'EXIT';
  from: Pid;
  reason: ExitReason | 'noproc';
}

/** What a monitor delivers to `handleInfo` when the watched actor exits (if it was gone already: its remembered reason, or `'noproc'`). */
export interface Down {
  type: 'DOWN';
  ref: number;
  pid: Pid;
  reason: ExitReason | 'noproc';
}

/** What `ctx.monitorNode` delivers to `handleInfo` when the node goes down. */
export interface NodeDown {
  type: 'nodedown';
  node: string;
  /** 'timeout' (no heartbeat for `downAfter`), 'goodbye', 'restarted', or 'noconnection' (it was not up). */
  why: string;
}

/**
 * `ctx` inside `handleCall`: also who is asking, and how to leave the answer for later. Not generic
 * over the reply type on purpose: a type parameter in `ctx`'s type would be fixed (to `never`)
 * while TypeScript types the callback's parameters, before it could be inferred from what the
 * callback returns.
 */
export interface CallContext extends ActorContext {
  readonly from: ReplyTo<unknown>;
  /**
   * Aborts when the caller of the call in hand stops waiting: its `call(msg, { signal })` aborted
   * (reason: `AbortError`), its timeout passed (reason: `CallTimeoutError`), or its thread went
   * down. A handler that works for long (awaits I/O, loops over chunks) checks it, or hands it to
   * `fetch`, and gives up: its reply would be dropped anyway. Read it in the handler (before an
   * `await` or after: it stays this call's); with `noreply`, keep it beside `ctx.from`, and it
   * stays live until the call is answered.
   *
   * ```ts
   * handleCall: async (msg: { type: 'fetch'; url: string }, state, ctx) => {
   *   const body = await (await fetch(msg.url, { signal: ctx.signal })).text();
   *   return { reply: body, state };
   * }
   * ```
   * A call the caller gave up on while it waited in the mailbox is still handled, with its signal
   * already aborted.
   */
  readonly signal: AbortSignal;
  noreply<State, Reply = never>(state: State): NoReply<State, Reply>;
}

type MaybePromise<T> = T | Promise<T>;

/** What `handleStream` returns: a generator (sync or async) or any iterable, whose values stream back. */
export type StreamSource<Yield> = Iterable<Yield> | AsyncIterable<Yield>;

/** The callbacks given to `defineActor`. See the module comment for the contract. */
export interface ActorBehaviour<Args, State, Call, Reply, Cast, Info, Stream = never, Yield = never> {
  init(args: Args, ctx: ActorContext): MaybePromise<State>;
  handleCall?(msg: Call, state: State, ctx: CallContext): MaybePromise<CallOutcome<Reply, State>>;
  /**
   * Answers `ref.stream(msg)` with a stream of values: returns a generator (`function*` or
   * `async function*`) or any iterable (or a promise of one), whose values the caller iterates,
   * under credit (the generator runs at most `highWaterMark` values ahead of its consumer).
   *
   * The actor stays one actor: the generator is pulled between its messages, never while another
   * handler runs. Each step (one `next()`) is handled as a message is: a step that awaits holds
   * the actor's mailbox until it settles, and the messages that came meanwhile are handled before
   * the next step. So the generator and the handlers never interleave, and other calls are
   * answered while a stream is open. `state` is the state when the stream opened (a handler's new
   * state is not seen by an open generator: send it what it needs, or reopen).
   *
   * The consumer's `break` (or `return()`) ends the generator with `return()`: its `finally`
   * blocks run on the actor's thread. A throw from `handleStream` or from the generator crashes the
   * actor, as a throw from `handleCall` does: the consumer's `next()` rejects with `ExitError`.
   *
   * ```ts
   * handleStream: async function* (msg: { type: 'tail'; from: number }, state) {
   *   for (let line = msg.from; line < state.lines.length; line++) yield state.lines[line];
   * }
   * ```
   */
  handleStream?(msg: Stream, state: State, ctx: ActorContext): MaybePromise<StreamSource<Yield>>;
  handleCast?(msg: Cast, state: State, ctx: ActorContext): MaybePromise<State>;
  handleInfo?(msg: Info, state: State, ctx: ActorContext): MaybePromise<State>;
  terminate?(reason: ExitReason, state: State, ctx: ActorContext): MaybePromise<void>;
}

/** A defined actor: the behaviour, branded so a thread can tell an actor module from any other. */
export interface Actor<Args = unknown, State = unknown, Call = unknown, Reply = unknown, Cast = unknown, Info = unknown, Stream = never, Yield = never> {
  readonly [ACTOR]: true;
  readonly behaviour: ActorBehaviour<Args, State, Call, Reply, Cast, Info, Stream, Yield>;
}

/**
 * Any actor, whatever its types. The callbacks are declared as methods, which TypeScript compares
 * bivariantly, so every `Actor<…>` is assignable to this.
 */
export type AnyActor = Actor<unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown>;

export type ArgsOf<A> = A extends Actor<infer Args, infer _S, infer _C, infer _R, infer _K, infer _I, infer _M, infer _Y> ? Args : never;
export type CallOf<A> = A extends Actor<infer _A, infer _S, infer Call, infer _R, infer _K, infer _I, infer _M, infer _Y> ? Call : never;
export type ReplyOf<A> = A extends Actor<infer _A, infer _S, infer _C, infer Reply, infer _K, infer _I, infer _M, infer _Y> ? Reply : never;
export type CastOf<A> = A extends Actor<infer _A, infer _S, infer _C, infer _R, infer Cast, infer _I, infer _M, infer _Y> ? Cast : never;
export type InfoOf<A> = A extends Actor<infer _A, infer _S, infer _C, infer _R, infer _K, infer Info, infer _M, infer _Y> ? Info : never;
/** The message `ref.stream(msg)` takes: `handleStream`'s first parameter. */
export type StreamOf<A> = A extends Actor<infer _A, infer _S, infer _C, infer _R, infer _K, infer _I, infer Stream, infer _Y> ? Stream : never;
/** The values `ref.stream(msg)` yields: what `handleStream`'s generator yields. */
export type YieldOf<A> = A extends Actor<infer _A, infer _S, infer _C, infer _R, infer _K, infer _I, infer _M, infer Yield> ? Yield : never;

/**
 * Defines an actor; a module's default export. The message and reply types are inferred from the
 * callbacks' parameter annotations and return values, and every `ActorRef` to the actor checks them.
 */
export function defineActor<Args, State, Call = never, Reply = never, Cast = never, Info = unknown, Stream = never, Yield = never>(
  behaviour: ActorBehaviour<Args, State, Call, Reply, Cast, Info, Stream, Yield>,
): Actor<Args, State, Call, Reply, Cast, Info, Stream, Yield> {
  if (typeof behaviour !== 'object' || behaviour === null || typeof behaviour.init !== 'function') {
    throw new TypeError('defineActor expects an object with an `init` function');
  }
  return { [ACTOR]: true, behaviour };
}

/** True if `value` is what `defineActor` returns (checked by brand, so it works across module copies). */
export function isActor(value: unknown): value is AnyActor {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ACTOR] === true;
}

/** True if a `handleCall` result is `ctx.noreply(state)`. */
export function isNoReply(value: unknown): value is NoReply<unknown, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[NO_REPLY] === true;
}

/** Makes the `ctx.noreply(state)` result. */
export function noReply<State, Reply = never>(state: State): NoReply<State, Reply> {
  return { [NO_REPLY]: true, state };
}
