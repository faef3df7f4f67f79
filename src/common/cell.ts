/**
 * One actor on its thread (a shard, or main): its behaviour, its state and its mailbox, handling one message at a
 * time in arrival order.
 *
 * The fast path allocates nothing: a message for an idle actor with an empty mailbox is handled at
 * once, inside the thread's drain. Only when the actor is busy (an async callback is pending) does a
 * message wait in the mailbox, and the actor takes the next one when that callback settles.
 */
import { AbortError, ActorExitedError, CallTimeoutError, ExitError, InvalidArgumentError, MailboxFullError, describeReason, describeValue } from '../shm/errors.js';
import { Kind, StreamOp } from '../shm/protocol.js';
import { pidEquals, threadKey, type Pid } from '../shm/pid.js';
import { isThenable } from './thenable.js';
import { moduleUrl } from './module-url.js';
import { tracing } from './tracing.js';
import { LocalQueue } from './local-queue.js';
import { ActorStreams } from './actor-stream.js';
import type { StreamEnvelope } from '../shm/protocol.js';
import type { MailboxLimit, MailboxOptions } from './mailbox.js';
import type { Placement } from '../shm/placement.js';
import type { SupervisionEvent } from './supervision-events.js';
import { PoolRef } from './pool-ref.js';
import type { Fuse } from './fuse.js';
import type { NameScope } from './main-services.js';
import { SUPERVISOR_URL, SupervisorRef, supervisorData, type SuperviseOptions, type SupervisorSpec } from './supervisor-ref.js';
import { ActorRef, type CallOptions, type Router } from './actor-ref.js';
import {
  isNoReply,
  noReply,
  type ActorBehaviour,
  type ActorSpawnOptions,
  type AnyActor,
  type ArgsOf,
  type CallContext,
  type CallOf,
  type CastOf,
  type ExitReason,
  type ExitSignal,
  type NoReply,
  type ReplyOf,
  type ReplyTo,
} from './actor.js';

/** What a cell needs from its thread's runtime (which is also the router of refs made on this thread). */
export interface CellHost extends Router {
  /** Sends a call's answer (`REPLY`) or failure (`REPLY_ERROR`) back to the caller's thread. */
  reply(thread: number, ref: number, value: unknown): void;
  replyError(thread: number, ref: number, error: unknown): void;
  /** The actor is gone: forget it, remember why, tell main. Its `terminate` runs after this. */
  exited(cell: ActorCell, reason: ExitReason): void;
  /** Its `terminate` has returned: nothing more reaches it. */
  buried(cell: ActorCell): void;
  /** A cast or send this actor's bounded mailbox dropped: a dead letter (reason `'mailbox_full'`). */
  mailboxDropped(pid: Pid, kind: number, body: unknown): void;
  /** Tells thread `thread` that the mailbox of this thread's actor `serial` is full (a `'reject'` bound), or no longer. */
  tellMailboxFull(thread: number, serial: number, full: boolean): void;
  /** Hands a supervision event to main, which emits it. */
  event(event: SupervisionEvent): void;
  markTask(id: number): void;
  /** Counts an async task started (+1) or answered (-1) on this thread (ring-set.ts `parkedIndex`). */
  parkTask(delta: 1 | -1): void;
  /** Claims task `id`, sent ahead to this thread (ring-set.ts `claimIndex`); false if main took it back. */
  claimTask(id: number): boolean;
  /** Publishes what this thread has sent so far in the current drain (`Endpoint.publishCorked`). */
  flushSends(): void;
  fuse(name: string): Fuse;
  spawnFrom(module: URL | string, args: unknown, thread: Placement | 'local' | undefined, timeout: number | undefined, name?: string, replacing?: Pid, mailbox?: MailboxOptions): Promise<Pid>;
  /** `ctx.spawn` with `node`: main's cluster starts it there. */
  spawnElsewhere(node: string, module: URL | string, args: unknown, thread: Placement | undefined, timeout: number | undefined, name?: string): Promise<Pid>;
  /** `ctx.monitor` / `ctx.demonitor` for `watcher`. */
  monitorFrom(watcher: ActorCell, target: Pid): number;
  demonitorFrom(watcher: ActorCell, mref: number): void;
  /** `ctx.monitorNode`: main sends the actor a NodeDown when `node` goes down. */
  monitorNode(watcher: Pid, node: string): void;
  /** Tells watcher `mref` on `thread` that this actor exited. */
  down(thread: number, mref: number, serial: number, reason: ExitReason): void;
  /** Asks `target`'s thread to link it with `from` (or unlink), or sends it an exit signal. */
  linkFrom(from: ActorCell, target: Pid, on: boolean): void;
  /** `linked`: the signal comes from a linked actor's exit (not `ctx.exit`). */
  exitSignal(target: Pid, from: Pid, reason: ExitReason, linked?: boolean): void;
  /** A copy of `msg` as another thread would get it (throws EncodeError if it cannot travel). */
  copy(msg: unknown): unknown;
  /** Asks main's registry (see src/main/registry.ts). */
  register(pid: Pid, name: string): Promise<void>;
  unregister(serial: number, name: string): void;
  whereis(name: string, where?: NameScope): Promise<Pid | undefined>;
}

type Behaviour = ActorBehaviour<unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown>;

/** Weights in the mailbox (see LocalQueue): a user's message counts against the bound, a system message does not. */
const COUNTED = 1;
const SYSTEM = 0;

/** Runs a handler inside the trace context `traceparent` names (src/common/tracing.ts). */
type Enter = (traceparent: string, handle: () => void) => void;

export class ActorCell implements CallContext {
  readonly self: Pid;
  readonly name: string | null;
  private readonly behaviour: Behaviour;
  private readonly host: CellHost;
  private state: unknown;
  /**
   * Messages waiting while the actor is busy, as (sender's thread, kind, ref, body, weight); a traced
   * call waits as kind CALL_TRACED with body [traceparent, body]. Gives memory back as it is
   * consumed, so an actor whose mailbox never empties holds only what waits (see LocalQueue).
   */
  private readonly mailbox = new LocalQueue();
  /** The spawn's `mailbox` bound, if any (src/common/mailbox.ts). */
  private readonly limit: MailboxLimit | undefined;
  /** Threads told that this actor's mailbox is full (a `'reject'` bound): told again once it is down to half. */
  private toldFull: Set<number> | undefined;
  /** The deepest the mailbox has ever been. */
  highWater = 0;
  /** Messages its bound refused or dropped. */
  dropped = 0;
  /** An async callback (or `init`) is pending; new messages wait in the mailbox. */
  private busy = true;
  alive = true;
  /** Set by `ctx.stop`: the actor exits after the current callback. */
  private stopReason: ExitReason | undefined;
  /**
   * The actor has exited and no `terminate` of its is running: its ctx refuses every effect (a
   * handler that was awaiting when it was killed must not leave an orphan child, a name or a
   * message behind). `terminate` itself still acts through ctx, as OTP's does.
   */
  private gone = false;
  /** The call being handled: who asked, for `ctx.from` and for the crash reply. */
  private callerThread = -1;
  private callerRef = -1;
  /** Calls left open with `noreply` and not answered yet, keyed by `threadKey`: they get an
   *  ExitError if the actor exits first, so no caller is left waiting for nothing. */
  private readonly open = new Map<number, [thread: number, ref: number]>();
  /** Who watches this actor: (thread, monitor ref) pairs, keyed as `open` is. */
  private readonly watchers = new Map<number, [thread: number, mref: number]>();
  /** Monitor refs this actor holds on others (so they can be dropped when it exits). */
  readonly watching = new Set<number>();
  /** Actors linked with this one, keyed by `keyOf(pid)`. */
  private readonly links = new Map<number | string, Pid>();
  private trapping = false;
  /** Pending `sendAfter` timers; cleared when the actor exits. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** `init` has returned (a kill during `init` skips `terminate`: there is no state to end). */
  private hasStarted = false;
  /** Set while `terminate` runs: a 'kill' calls it to end the actor without waiting for terminate. */
  private cutShort: (() => void) | undefined;
  /** Exits of linked actors that came during `terminate` with no `awaitExit` for them yet. */
  private readonly lateExits = new Map<number | string, ExitReason>();
  /** `awaitExit` waits, by `threadKey` of the pid waited for. */
  private readonly exitWaiters = new Map<number | string, (reason: ExitReason) => void>();
  /**
   * `ctx.signal` of calls not yet answered whose handler asked for it, or whose caller gave up
   * first, keyed as `open` is: made only then, so a call that never looks costs nothing.
   */
  private signals: Map<number, { thread: number; controller: AbortController }> | undefined;
  /** Calls given up on while they waited in the mailbox, with why: their signal starts aborted. */
  private abortedEarly: Map<number, Error> | undefined;
  /** Its open streams (`handleStream`), made with its first STREAM call (src/common/actor-stream.ts). */
  private streams: ActorStreams | undefined;
  /** A STREAM call is being handled: the generator steps it asks for run within it, not as turns of their own. */
  private handlingStream = false;

  /**
   * A cell starts busy, with no state: `init` runs with it as its context, and whatever reaches it
   * meanwhile (an EXIT from a child `init` started and linked) waits in the mailbox.
   */
  constructor(self: Pid, name: string | null, behaviour: Behaviour, host: CellHost, limit?: MailboxLimit) {
    this.self = self;
    this.name = name;
    this.behaviour = behaviour;
    this.host = host;
    this.limit = limit;
  }

  /** `init` returned `state`: the actor takes the messages that waited, then runs as any other. */
  started(state: unknown): void {
    this.state = state;
    this.hasStarted = true;
    this.busy = false;
    this.next();
  }

  /**
   * `init` failed (or the thread is stopping): the actor never ran. Actors it linked to during
   * `init` get the exit signal, as they would from any exit; its timers are cleared.
   */
  abandon(reason: ExitReason): void {
    this.alive = false;
    this.gone = true;
    this.deathReason = reason;
    // Whoever reached it during init hears why it never ran: callers, and watchers.
    const mailbox = this.mailbox;
    for (let i = 0; i < mailbox.size; i++) {
      const from = mailbox.wordAt(i);
      if (isCall(mailbox.kindAt(i)) && from !== NO_CALLER) this.host.replyError(from, mailbox.refAt(i), new ExitError(`actor ${this.self} exited before replying: ${describeReason(reason)}`, reason));
    }
    mailbox.clear();
    this.releaseFull();
    this.tellEveryone(reason);
  }

  /** The actor is gone with `reason`: its watchers get a DOWN, its links the exit signal; its timers stop. */
  private tellEveryone(reason: ExitReason): void {
    for (const [thread, mref] of this.watchers.values()) this.host.down(thread, mref, this.self.serial, reason);
    this.watchers.clear();
    for (const pid of this.links.values()) this.host.exitSignal(pid, this.self, reason, true);
    this.links.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** `ctx.stop(reason)` was called and has not taken effect yet (it was called in `init`, say). */
  get stopRequested(): ExitReason | undefined {
    return this.stopReason;
  }

  /** Why this actor exited, once it has. */
  get exitReason(): ExitReason | undefined {
    return this.deathReason;
  }

  /** Throws ActorExitedError if the actor is gone (see `gone`): `what` is the effect refused. */
  private assertLive(what: string): void {
    if (this.gone) throw this.refusal(what);
  }

  private refusal(what: string): ActorExitedError {
    return new ActorExitedError(`actor ${this.self} has exited (${describeReason(this.deathReason)}): its ctx cannot ${what} any more`);
  }
  /** The deepest the mailbox has been since the thread last reported its stats (which resets it). */
  peakDepth = 0;

  /** Messages waiting (not counting the one being handled). */
  get depth(): number {
    return this.mailbox.size;
  }

  // ── ctx: the cell is its own context object, so a callback's `ctx` costs no allocation ──────────

  get from(): ReplyTo<unknown> {
    return { ref: this.callerRef, thread: this.callerThread };
  }

  noreply<State, Reply = never>(state: State): NoReply<State, Reply> {
    return noReply<State, Reply>(state);
  }

  /** See `CallContext.signal`: the call in hand's, or one that never aborts outside a call. */
  get signal(): AbortSignal {
    if (this.callerThread === -1) return NEVER_ABORTED;
    const key = threadKey(this.callerThread, this.callerRef);
    let entry = this.signals?.get(key);
    if (entry === undefined) {
      entry = { thread: this.callerThread, controller: new AbortController() };
      (this.signals ??= new Map()).set(key, entry);
      const early = this.abortedEarly?.get(key);
      if (early !== undefined) {
        this.abortedEarly!.delete(key);
        entry.controller.abort(early);
      }
    }
    return entry.controller.signal;
  }

  /**
   * The caller of call `ref` from `thread` stopped waiting (it aborted, or `timedOut`): the call's
   * signal aborts if it is being handled or left open; if it still waits in the mailbox, its signal
   * will start aborted; if it was answered, nothing happens.
   */
  abortCall(thread: number, ref: number, timedOut: boolean): void {
    const key = threadKey(thread, ref);
    const why = timedOut ? new CallTimeoutError('the caller stopped waiting: its call timed out') : new AbortError('the caller aborted the call');
    const inHand = this.callerThread === thread && this.callerRef === ref;
    if (inHand || this.open.has(key)) {
      const entry = this.signals?.get(key);
      if (entry !== undefined) entry.controller.abort(why);
      else if (inHand) (this.abortedEarly ??= new Map()).set(key, why); // read later in this handler
      else {
        const controller = new AbortController();
        controller.abort(why);
        (this.signals ??= new Map()).set(key, { thread, controller });
      }
      return;
    }
    const mailbox = this.mailbox;
    for (let i = 0; i < mailbox.size; i++) {
      if (isCall(mailbox.kindAt(i)) && mailbox.wordAt(i) === thread && mailbox.refAt(i) === ref) {
        (this.abortedEarly ??= new Map()).set(key, why);
        return;
      }
    }
  }

  /** Call `key` is answered (or will never be): its signal is forgotten. */
  private forgetSignal(key: number): void {
    if (this.signals !== undefined) this.signals.delete(key);
    if (this.abortedEarly !== undefined) this.abortedEarly.delete(key);
  }

  reply<Reply>(to: ReplyTo<Reply>, value: Reply): void {
    this.assertLive('reply');
    this.answered(to);
    this.host.reply(to.thread, to.ref, value);
  }

  /** Answers a call with an error for its caller to reject with (task runners; not on the public ctx). */
  replyError(to: ReplyTo<unknown>, error: unknown): void {
    this.answered(to);
    this.host.replyError(to.thread, to.ref, error);
  }

  /** Stores the id of the task this thread runs now, 0 for none (task runners; see ring-set.ts `taskIndex`). */
  markTask(id: number): void {
    this.host.markTask(id);
  }

  /** Counts an async task started (+1) or answered (-1) on this thread (task runners; see ring-set.ts `parkedIndex`). */
  parkTask(delta: 1 | -1): void {
    this.host.parkTask(delta);
  }

  /** Claims task `id`, sent ahead to this thread, as it starts; false if main took it back (task runners; see ring-set.ts `claimIndex`). */
  claimTask(id: number): boolean {
    return this.host.claimTask(id);
  }

  /** Publishes what this thread has sent so far in the current drain (task runners, before a long task). */
  flushSends(): void {
    this.host.flushSends();
  }

  /**
   * Runs `step` (a step of one of this actor's stream generators) as a message is handled: at once
   * if the actor is idle or is handling the STREAM call that asks for it, else after what waits in
   * its mailbox. A step that returns a promise holds the actor busy until it settles; the messages
   * that came meanwhile are handled before the step's value goes on. A throw or a rejection crashes
   * the actor (src/common/actor-stream.ts). Returns what `step` returns, or a promise of it.
   */
  runTurn(step: () => unknown): unknown {
    if (!this.alive) throw this.refusal('run its stream');
    if (this.handlingStream || (!this.busy && this.mailbox.isEmpty)) return this.turn(step);
    return new Promise((resolve, reject) => {
      const run = (): void => {
        try {
          resolve(this.turn(step));
        } catch (error) {
          reject(error);
        }
      };
      this.enqueue(TURN, NO_CALLER, -1, run, SYSTEM);
    });
  }

  private turn(step: () => unknown): unknown {
    let result: unknown;
    try {
      result = step();
    } catch (error) {
      void this.die(error as ExitReason);
      throw error;
    }
    if (!isThenable(result)) return result;
    this.busy = true;
    return Promise.resolve(result).then(
      (value) => {
        this.busy = false;
        if (this.alive) this.next();
        return value;
      },
      (error: unknown) => {
        this.busy = false;
        if (this.alive) void this.die(error as ExitReason);
        throw error;
      },
    );
  }

  /** `to` has its answer: no longer open, and if it is the call in hand, its handler's return answers no one. */
  private answered(to: { thread: number; ref: number }): void {
    const key = threadKey(to.thread, to.ref);
    this.open.delete(key);
    this.forgetSignal(key);
    if (to.thread === this.callerThread && to.ref === this.callerRef) this.callerThread = -1;
  }

  stop(reason: ExitReason = 'normal'): void {
    this.stopReason = reason;
  }

  ref<A extends AnyActor>(pid: Pid): ActorRef<A> {
    return new ActorRef<A>(pid, this.host);
  }

  async spawn<A extends AnyActor>(module: URL | string, options?: ActorSpawnOptions<ArgsOf<A>>): Promise<ActorRef<A>> {
    this.assertLive('spawn');
    const url = moduleUrl(module); // now, while the caller's file is on the stack
    const wasAlive = this.alive;
    const node = options?.node;
    const pid =
      node !== undefined && node !== this.self.node
        ? await this.host.spawnElsewhere(node, url, options?.args, options?.thread === 'local' ? undefined : options?.thread, options?.timeout, options?.name)
        : await this.host.spawnFrom(url, options?.args, options?.thread, options?.timeout, options?.name, (options as { replacing?: Pid } | undefined)?.replacing, options?.mailbox);
    if (this.gone || (wasAlive && !this.alive)) {
      // This actor died while its child started: nothing would link, monitor or name the child.
      this.host.exitSignal(pid, pid, 'kill');
      throw this.refusal('spawn');
    }
    if (options?.link === true) this.link(pid);
    return new ActorRef<A>(pid, this.host);
  }

  /** Why this actor exited, once it has. */
  private deathReason: ExitReason | undefined;

  /** Inline mode: an exception escaped this actor's code (a timer it set threw); it crashes with it, as from a handler. */
  crash(reason: ExitReason): void {
    if (this.alive) void this.die(reason);
  }

  async supervise(spec: SupervisorSpec, options?: SuperviseOptions): Promise<SupervisorRef> {
    this.assertLive('supervise');
    const pid = await this.host.spawnFrom(SUPERVISOR_URL, supervisorData(spec, this.self), options?.thread, options?.timeout, options?.name);
    this.link(pid);
    return new SupervisorRef(pid, this.host);
  }

  fuse(name: string): Fuse {
    return this.host.fuse(name);
  }

  pool<W extends AnyActor>(pool: ActorRef | Pid): PoolRef<W> {
    return new PoolRef<W>(pidOf(pool), this.host, this);
  }

  call<A extends AnyActor>(to: ActorRef<A>, msg: CallOf<A>, options?: CallOptions): Promise<ReplyOf<A>> {
    if (this.gone) return Promise.reject(this.refusal('call'));
    return this.host.call(to.pid, msg, options?.timeout, options?.signal) as Promise<ReplyOf<A>>;
  }

  cast<A extends AnyActor>(to: ActorRef<A>, msg: CastOf<A>): boolean {
    this.assertLive('cast');
    return this.host.cast(to.pid, msg);
  }

  send(to: ActorRef | Pid, msg: unknown): boolean {
    this.assertLive('send');
    return this.host.send(pidOf(to), msg);
  }

  monitor(target: ActorRef | Pid): number {
    this.assertLive('monitor');
    return this.host.monitorFrom(this, pidOf(target));
  }

  demonitor(ref: number): void {
    this.host.demonitorFrom(this, ref);
  }

  monitorNode(node: string): void {
    this.assertLive('monitorNode');
    this.host.monitorNode(this.self, node);
  }

  link(target: ActorRef | Pid): void {
    this.assertLive('link');
    const pid = pidOf(target);
    if (!this.alive) {
      // Linking from an actor that has exited (a callback still running after a kill): the other
      // side gets the exit signal at once, as a link made just before the exit would have given it.
      this.host.exitSignal(pid, this.self, this.deathReason ?? 'noproc', true);
      return;
    }
    this.links.set(this.keyOf(pid), pid);
    this.host.linkFrom(this, pid, true);
  }

  unlink(target: ActorRef | Pid): void {
    const pid = pidOf(target);
    this.links.delete(this.keyOf(pid));
    this.host.linkFrom(this, pid, false);
  }

  exit(target: ActorRef | Pid, reason: ExitReason): void {
    this.assertLive('exit');
    const pid = pidOf(target);
    if (!this.hasStarted && this.alive && pidEquals(pid, this.self)) {
      // An exit signal to itself from `init` takes effect now, as in Erlang, so `spawn` fails
      // the same way whatever thread the actor is on (a queued signal would land after init).
      this.exitSignal(pid, reason, false);
      return;
    }
    this.host.exitSignal(pid, this.self, reason);
  }

  trapExit(on: boolean): void {
    this.trapping = on;
  }

  register(name: string): Promise<void> {
    // Not from terminate either: main has been told the actor exited, so the name would stay bound.
    if (!this.alive) return Promise.reject(this.refusal('register a name'));
    return this.host.register(this.self, name);
  }

  unregister(name: string): void {
    this.host.unregister(this.self.serial, name);
  }

  async whereis<A extends AnyActor>(name: string): Promise<ActorRef<A> | undefined> {
    return this.refOf<A>(await this.host.whereis(name));
  }

  async whereisOn<A extends AnyActor>(name: string, node: string): Promise<ActorRef<A> | undefined> {
    return this.refOf<A>(await this.host.whereis(name, { node }));
  }

  async whereisGlobal<A extends AnyActor>(name: string): Promise<ActorRef<A> | undefined> {
    return this.refOf<A>(await this.host.whereis(name, { global: true }));
  }

  private refOf<A extends AnyActor>(pid: Pid | undefined): ActorRef<A> | undefined {
    return pid === undefined ? undefined : new ActorRef<A>(pid, this.host);
  }

  sendAfter(ms: number, msg: unknown, to?: ActorRef | Pid): { cancel(): boolean } {
    if (!(typeof ms === 'number' && ms >= 0 && ms <= 2 ** 31 - 1)) {
      throw new InvalidArgumentError(`expected \`ms\` to be a number from 0 to 2147483647, got: ${describeValue(ms)}`);
    }
    this.assertLive('sendAfter');
    const target = to === undefined ? this.self : pidOf(to);
    const copy = this.host.copy(msg); // refused now, not when the timer fires
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.alive) this.host.send(target, copy);
    }, ms);
    this.timers.add(timer);
    return {
      cancel: () => {
        if (!this.timers.delete(timer)) return false;
        clearTimeout(timer);
        return true;
      },
    };
  }

  /**
   * Resolves with the reason a linked actor exited with, when it does, taking its EXIT out of the
   * way: an EXIT already in the mailbox is removed from it, a later one never reaches it. Erlang's
   * selective `receive {'EXIT', Pid, Reason}`, which a supervisor needs to wait for the child it
   * is stopping while its mailbox is blocked behind that very wait. Works during `terminate` too.
   * Resolves with undefined after `ms` (if finite) when no EXIT has come.
   */
  awaitExit(pid: Pid, ms: number): Promise<ExitReason | undefined> {
    const key = this.keyOf(pid);
    if (this.lateExits.has(key)) {
      const reason = this.lateExits.get(key);
      this.lateExits.delete(key);
      return Promise.resolve(reason);
    }
    const mailbox = this.mailbox;
    for (let i = 0; i < mailbox.size; i++) {
      const body = mailbox.bodyAt(i);
      if (mailbox.kindAt(i) === Kind.INFO && isExitFrom(body, pid)) {
        mailbox.removeAt(i);
        return Promise.resolve((body as ExitSignal).reason);
      }
    }
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(undefined), ms).unref() : undefined;
      const done = (reason: ExitReason | undefined) => {
        this.exitWaiters.delete(key);
        if (timer !== undefined) clearTimeout(timer);
        resolve(reason);
      };
      this.exitWaiters.set(key, done);
    });
  }

  /** Reports a supervision event (a restart) to main, for `system.on('restart', …)`. */
  report(event: SupervisionEvent): void {
    this.host.event(event);
  }

  /** The other side of a link (another actor linked to this one). */
  addLink(pid: Pid): void {
    if (this.alive) this.links.set(this.keyOf(pid), pid);
  }

  removeLink(pid: Pid): void {
    this.links.delete(this.keyOf(pid));
  }

  /**
   * An exit signal from `from` (a linked actor that exited, or `ctx.exit`). As in Erlang: 'kill'
   * kills (as 'killed') whatever the trap flag; a trapping actor gets the signal as a message; else
   * 'normal' is ignored and any other reason kills this actor with that reason.
   */
  exitSignal(from: Pid, reason: ExitReason, linked: boolean): void {
    const key = this.keyOf(from);
    const waiter = this.exitWaiters.get(key);
    if (waiter !== undefined && linked) {
      if (this.alive) this.links.delete(key);
      waiter(reason);
      return;
    }
    if (!this.alive) {
      // In terminate: kept for an awaitExit that has not begun yet (a supervisor stopping its
      // children one by one while they are also being stopped by their own threads).
      if (linked) this.lateExits.set(key, reason);
      // 'kill' is never ignored, not even by a terminate that does not settle: the actor is gone
      // at once (its terminate may run on, refused every effect) and its exit is told as 'killed'.
      else if (reason === 'kill') this.cutShort?.();
      return;
    }
    if (linked) this.links.delete(this.keyOf(from));
    if (reason === 'kill' && !linked) {
      void this.die('killed');
    } else if (this.trapping) {
      this.deliverSystem(from.thread, { type: 'EXIT', from, reason } satisfies ExitSignal);
    } else if (reason !== 'normal') {
      void this.die(reason === 'kill' ? 'killed' : reason);
    }
  }

  /**
   * Thread `thread` died: forget what its actors held here (their watches on this actor, calls of
   * theirs waiting for an answer) and return the actors there this one is linked to, for the
   * runtime to deliver their exit signals.
   */
  forgetThread(thread: number): Pid[] {
    for (const [key, [from]] of [...this.watchers]) if (from === thread) this.watchers.delete(key);
    for (const [key, [from]] of [...this.open]) if (from === thread) this.open.delete(key);
    // Their callers are gone: a handler still at work for one may stop.
    if (this.signals !== undefined) {
      for (const [key, { thread: from, controller }] of [...this.signals]) {
        if (from !== thread) continue;
        this.signals.delete(key);
        controller.abort(new AbortError(`the caller's thread ${thread} went down`));
      }
    }
    if (this.callerThread === thread) this.callerThread = -1;
    this.streams?.forgetThread(thread);
    // Their queued calls are still handled (as Erlang handles a dead caller's message), but answer no one.
    const mailbox = this.mailbox;
    for (let i = 0; i < mailbox.size; i++) if (isCall(mailbox.kindAt(i)) && mailbox.wordAt(i) === thread) mailbox.setWordAt(i, NO_CALLER);
    this.toldFull?.delete(thread);
    return [...this.links.values()].filter((pid) => pid.thread === thread && pid.node === this.self.node && pid.creation === this.self.creation);
  }

  /** A map key for another actor: a number for one of this node, its printed form with creation for one elsewhere. */
  private keyOf(pid: Pid): number | string {
    return pid.node === this.self.node && pid.creation === this.self.creation ? threadKey(pid.thread, pid.serial) : `${String(pid)}#${pid.creation}`;
  }

  /** Another thread's (or this one's) watcher asks for a DOWN when this actor exits. */
  addWatcher(thread: number, mref: number): void {
    this.watchers.set(threadKey(thread, mref), [thread, mref]);
  }

  removeWatcher(thread: number, mref: number): void {
    this.watchers.delete(threadKey(thread, mref));
  }

  // ── delivery ────────────────────────────────────────────────────────────────────────────────────

  /** A user's message for this actor, from thread `from` (`ref` is the caller's, for a CALL): counted against its mailbox bound. */
  deliver(kind: number, from: number, ref: number, body: unknown): void {
    if (this.busy || !this.mailbox.isEmpty) {
      // A stream's pulls and cancels are its consumer's flow control, not new work: never refused by the bound.
      this.enqueue(kind, from, ref, body, kind === Kind.STREAM && (body as StreamEnvelope)[0] !== StreamOp.OPEN ? SYSTEM : COUNTED);
      return;
    }
    this.handle(kind, from, ref, body);
  }

  /** A system message for `handleInfo` (an EXIT, a DOWN, a nodedown): never counted against the bound, never dropped. */
  deliverSystem(from: number, body: unknown): void {
    if (this.busy || !this.mailbox.isEmpty) {
      this.enqueue(Kind.INFO, from, -1, body, SYSTEM);
      return;
    }
    this.handle(Kind.INFO, from, -1, body);
  }

  /**
   * `deliver`, for a call made inside a span: its handler runs inside `enter(traceparent, …)`, now
   * or when it leaves the mailbox. Only traced calls come this way; `deliver` stays as it was.
   */
  deliverIn(enter: Enter, traceparent: string, kind: number, from: number, ref: number, body: unknown): void {
    if (this.busy || !this.mailbox.isEmpty) {
      this.enqueue(Kind.CALL_TRACED, from, ref, [traceparent, body], COUNTED);
      return;
    }
    enter(traceparent, () => this.handle(kind, from, ref, body));
  }

  /**
   * A message waits: the actor is busy. Only here, off the fast path, are the depth and the bound
   * looked at. A counted message past the bound goes as the bound's `overflow` says.
   */
  private enqueue(kind: number, from: number, ref: number, body: unknown, weight: number): void {
    const mailbox = this.mailbox;
    if (weight !== SYSTEM && this.limit !== undefined && mailbox.weight >= this.limit.max && !this.makeRoom(kind, from, ref, body)) return;
    mailbox.push(from, kind, ref, body, weight);
    const depth = mailbox.size;
    if (depth > this.peakDepth) {
      this.peakDepth = depth;
      if (depth > this.highWater) this.highWater = depth;
    }
  }

  /**
   * The mailbox is at its bound and a counted message comes. Returns true if it is to wait (the
   * oldest counted message made way for it: 'drop-old'), false if it was refused.
   */
  private makeRoom(kind: number, from: number, ref: number, body: unknown): boolean {
    const { overflow } = this.limit!;
    const mailbox = this.mailbox;
    if (overflow === 'drop-old') {
      // The oldest message that counts; system messages before it stay where they are.
      for (let i = 0; i < mailbox.size; i++) {
        if (mailbox.weightAt(i) === SYSTEM) continue;
        this.refuse(mailbox.kindAt(i), mailbox.wordAt(i), mailbox.refAt(i), mailbox.bodyAt(i));
        if (i === 0) mailbox.shift();
        else mailbox.removeAt(i);
        break;
      }
      return true;
    }
    this.refuse(kind, from, ref, body);
    if (overflow === 'reject' && from >= 0) {
      // The sender's thread is told once, and refuses what follows at the source until the
      // mailbox is down to half (see `next`): a flood costs its sender, not this thread.
      const told = (this.toldFull ??= new Set());
      if (!told.has(from)) {
        told.add(from);
        this.host.tellMailboxFull(from, this.self.serial, true);
      }
    }
    return false;
  }

  /** A counted message the bound refused or dropped: a call is answered with MailboxFullError, the rest are dead letters. */
  private refuse(kind: number, from: number, ref: number, body: unknown): void {
    this.dropped++;
    if (!isCall(kind)) {
      this.host.mailboxDropped(this.self, kind, body);
      return;
    }
    if (from === NO_CALLER) return;
    const { max, overflow } = this.limit!;
    this.host.replyError(from, ref, new MailboxFullError(`the mailbox of actor ${this.self} holds ${max} messages, the most its \`mailbox.max\` allows (overflow '${overflow}'): the call was refused`));
  }

  /** Tells the threads told of a full mailbox that it is not any more (it drained to half, or the actor is gone). */
  private releaseFull(): void {
    const told = this.toldFull;
    if (told === undefined) return;
    this.toldFull = undefined;
    for (const thread of told) this.host.tellMailboxFull(thread, this.self.serial, false);
  }

  /** Stops the actor from outside (its thread is stopping): `terminate` runs, queued calls fail. */
  shutdown(reason: ExitReason): Promise<void> {
    return this.die(reason);
  }

  private handle(kind: number, from: number, ref: number, body: unknown): void {
    let result: unknown;
    try {
      result = this.invoke(kind, from, ref, body);
    } catch (error) {
      void this.die(error as ExitReason);
      return;
    }
    if (isThenable(result)) {
      this.busy = true;
      result.then(
        (value) => {
          this.busy = false;
          if (this.alive && this.settle(kind, from, ref, value)) this.next();
        },
        (error: unknown) => {
          this.busy = false;
          if (this.alive) void this.die(error as ExitReason);
        },
      );
      return;
    }
    this.settle(kind, from, ref, result);
  }

  private invoke(kind: number, from: number, ref: number, body: unknown): unknown {
    const behaviour = this.behaviour;
    switch (kind) {
      case Kind.CALL:
        this.callerThread = from;
        this.callerRef = ref;
        if (behaviour.handleCall === undefined) throw new TypeError(`actor ${this.self} has no handleCall, got a call: ${describeReason(body)}`);
        return behaviour.handleCall(body, this.state, this);
      case Kind.CAST:
        if (behaviour.handleCast === undefined) throw new TypeError(`actor ${this.self} has no handleCast, got a cast: ${describeReason(body)}`);
        return behaviour.handleCast(body, this.state, this);
      case Kind.STREAM:
        this.streamCall(from, ref, body as StreamEnvelope);
        return undefined;
      case TURN:
        (body as () => void)();
        return undefined;
      default:
        return behaviour.handleInfo === undefined ? this.state : behaviour.handleInfo(body, this.state, this);
    }
  }

  /** A STREAM call (open, pull, cancel: src/common/actor-stream.ts); one from a caller whose thread died answers no one, and is dropped. */
  private streamCall(from: number, ref: number, envelope: StreamEnvelope): void {
    if (from === NO_CALLER) return;
    const state = this.state;
    const open = (msg: unknown): unknown => {
      const handleStream = this.behaviour.handleStream;
      if (handleStream === undefined) throw new TypeError(`actor ${this.self} has no handleStream, got a stream: ${describeReason(msg)}`);
      return handleStream(msg, state, this);
    };
    this.handlingStream = true;
    try {
      (this.streams ??= new ActorStreams(this, this.host)).handle(from, ref, envelope, open);
    } finally {
      this.handlingStream = false;
    }
  }

  /** Applies a callback's result. Returns false if the actor stopped. */
  private settle(kind: number, from: number, ref: number, result: unknown): boolean {
    if (kind === Kind.CALL) {
      // -1: the caller's thread died while this call was handled (forgetThread): no one to answer.
      const answer = this.callerThread !== -1;
      if (isNoReply(result)) {
        this.state = result.state;
        if (answer) this.open.set(threadKey(from, ref), [from, ref]);
      } else if (typeof result === 'object' && result !== null && 'reply' in result && 'state' in result) {
        this.state = (result as { state: unknown }).state;
        if (this.signals !== undefined || this.abortedEarly !== undefined) this.forgetSignal(threadKey(from, ref));
        if (answer) this.host.reply(from, ref, (result as { reply: unknown }).reply);
      } else {
        void this.die(new TypeError(`handleCall of ${this.self} must return { reply, state } or ctx.noreply(state), got: ${describeReason(result)}`));
        return false;
      }
      this.callerThread = -1;
    } else if (kind !== Kind.STREAM && kind !== TURN) {
      this.state = result;
    }
    if (this.stopReason !== undefined) {
      void this.die(this.stopReason);
      return false;
    }
    return true;
  }

  /** Handles queued messages until the mailbox is empty or a callback goes async. */
  private next(): void {
    const mailbox = this.mailbox;
    while (this.alive && !this.busy && !mailbox.isEmpty) {
      const kind = mailbox.kind();
      const from = mailbox.word();
      const ref = mailbox.ref();
      const body = mailbox.body();
      mailbox.shift();
      const enter = tracing.enter;
      if (kind === Kind.CALL_TRACED) {
        const [traceparent, msg] = body as [string, unknown];
        if (enter !== undefined) enter(traceparent, () => this.handle(Kind.CALL, from, ref, msg));
        else this.handle(Kind.CALL, from, ref, msg);
      }
      // This loop may run in the continuation of a traced handler: a letter that came untraced
      // must not inherit that caller's context, so with tracing on it runs in none.
      else if (enter !== undefined) enter(undefined, () => this.handle(kind, from, ref, body));
      else this.handle(kind, from, ref, body);
    }
    if (this.toldFull !== undefined && mailbox.weight <= this.limit!.max >> 1) this.releaseFull();
  }

  /**
   * The actor is done: run `terminate` (not for 'kill'), answer the call in hand and every queued
   * call with an ExitError carrying `reason`, and tell the thread's runtime.
   */
  private die(reason: ExitReason): Promise<void> {
    if (!this.alive) return this.ended ?? Promise.resolve();
    this.ended = this.end(reason);
    return this.ended;
  }

  /** Settles when the actor is wholly gone (`terminate` done, everyone told); set when it starts to die. */
  ended: Promise<void> | undefined;

  private async end(reason: ExitReason): Promise<void> {
    this.alive = false;
    const pending: Array<[thread: number, ref: number]> = [];
    if (this.callerThread !== -1) pending.push([this.callerThread, this.callerRef]);
    pending.push(...this.open.values());
    this.open.clear();
    // Its streams end with it: their consumers' waiting calls get its ExitError below.
    if (this.streams !== undefined) for (const slot of this.streams.abandonAll()) pending.push([slot.thread, slot.ref]);
    const mailbox = this.mailbox;
    for (let i = 0; i < mailbox.size; i++) {
      const kind = mailbox.kindAt(i);
      const from = mailbox.wordAt(i);
      const body = mailbox.bodyAt(i);
      if (isCall(kind)) {
        if (from !== NO_CALLER) pending.push([from, mailbox.refAt(i)]);
      }
      // An EXIT that was waiting stays known to awaitExit (a supervisor stopping that child in terminate).
      else if (kind === Kind.INFO && isExit(body)) this.lateExits.set(this.keyOf(body.from), body.reason);
    }
    mailbox.clear();
    this.releaseFull();
    this.signals = undefined;
    this.abortedEarly = undefined;
    this.deathReason = reason;
    this.host.exited(this, reason);
    const terminate = this.behaviour.terminate;
    if (reason !== 'kill' && reason !== 'killed' && this.hasStarted && terminate !== undefined) {
      // terminate's own failure does not change why the actor exited (nor does a sync throw).
      const finished = (async () => terminate(reason, this.state, this))().then(
        () => false,
        () => false,
      );
      const killed = new Promise<boolean>((resolve) => (this.cutShort = () => resolve(true)));
      if (await Promise.race([finished, killed])) this.deathReason = reason = 'killed';
      this.cutShort = undefined;
    }
    this.gone = true;
    for (const [thread, ref] of pending) {
      this.host.replyError(thread, ref, new ExitError(`actor ${this.self} exited before replying: ${describeReason(reason)}`, reason));
    }
    this.tellEveryone(reason);
    this.host.buried(this);
  }
}

/** A call waiting in a mailbox, traced or not, or a stream's call (answered as a call is). */
function isCall(kind: number): boolean {
  return kind === Kind.CALL || kind === Kind.CALL_TRACED || kind === Kind.STREAM;
}

/** A stream generator's step waiting in the mailbox for its turn (see `runTurn`): its body is the step. Never on the wire. */
const TURN = -2;

function isExit(body: unknown): body is ExitSignal {
  return typeof body === 'object' && body !== null && (body as ExitSignal).type === 'EXIT';
}

function isExitFrom(body: unknown, pid: Pid): boolean {
  return isExit(body) && pidEquals(body.from, pid);
}

/** `ctx.signal` outside a call (and of a call whose caller's thread died): it never aborts. */
const NEVER_ABORTED = new AbortController().signal;

/** The `from` of a queued call whose caller's thread died: handled, answered to no one. */
const NO_CALLER = -1;

/** The pid behind a ref, or the pid itself. */
function pidOf(target: ActorRef | Pid): Pid {
  return target instanceof ActorRef ? target.pid : target;
}
