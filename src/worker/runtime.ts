/**
 * A shard's runtime: its endpoint, its actors, and what it does with each kind of frame.
 *
 * Every frame is decoded here, in order, by the decoder paired with its sender (the codec's pairs
 * must see every frame). Messages for actors go to their cell; requests for the shard itself
 * (spawn, stop) are handled here. A call to an actor that does not exist is answered at once:
 * `ExitError` with the reason if it died recently (so a caller whose call crossed the death gets
 * why), `NoProcError` otherwise. A cast or send to a dead actor is dropped, as in Erlang, and
 * counted.
 */
import { MessageDecoder, MessageEncoder } from '../shm/codec.js';
import { Endpoint, NO_WORD, readWord } from '../shm/endpoint.js';
import { CallTimeoutError, EncodeError, ExitError, InvalidArgumentError, NoProcError, SpawnError, describeValue, isWeftError } from '../shm/errors.js';
import { PendingReplies, settleReply } from '../common/pending.js';
import { LocalQueue } from './local-queue.js';
import { Pid } from '../shm/pid.js';
import { Kind, SPAWN_ARGS, rebaseOntoBody,  type DownEnvelope, type ExitSignalEnvelope, type LinkEnvelope, type MonitorEnvelope, type ShardData, type SpawnEnvelope, type ThreadStats, type StopEnvelope } from '../shm/protocol.js';
import { RingSet } from '../shm/ring-set.js';
import { isActor, type Down, type ExitReason } from './actor.js';
import { ActorCell, describeReason, type CellHost } from './cell.js';

/** As main's defaults (options.ts); shards do not get main's options yet. */
const DEFAULT_CALL_TIMEOUT = 5000;
const DEFAULT_SPAWN_TIMEOUT = 30_000;

/** Reasons kept for actors that died, so late calls learn why; oldest forgotten first. */
const RECENT_DEATHS = 10_000;

export class ShardRuntime implements CellHost {
  readonly thread: number;
  readonly node: string;
  readonly endpoint: Endpoint;
  private readonly encoders: MessageEncoder[] = [];
  private readonly decoders: MessageDecoder[] = [];
  private readonly cells = new Map<number, ActorCell>();
  private readonly recentDeaths = new Map<number, ExitReason>();
  private readonly modules = new Map<string, Promise<unknown>>();
  /** Calls and spawns this thread's actors are waiting on. */
  private readonly pending = new PendingReplies();
  /** Same-thread messages, run by the loop after each drain (see `post`). */
  private readonly local = new LocalQueue();
  /** A codec pair for same-thread messages (see `copy`). */
  private readonly localEncoder = new MessageEncoder();
  private readonly localDecoder = new MessageDecoder();
  /** Monitors held by actors of this thread: monitor ref → watching actor, and → watched pid. */
  private readonly watchersByRef = new Map<number, ActorCell>();
  private readonly monitorTargets = new Map<number, Pid>();
  private nextMonitorRef = 1;
  /** True while the shard's loop is parked; a same-thread send then wakes it. */
  parked = false;
  /** Serials run from 1 and are never reused in the node's life (they wrap only past 2^30 spawns). */
  private nextSerial = 1;
  deadLetters = 0;
  stopping = false;

  constructor(data: ShardData) {
    this.thread = data.thread;
    this.node = data.node;
    const set = RingSet.attach(data.buffer);
    this.endpoint = new Endpoint(set, data.thread, { spinMicros: data.spinMicros });
    for (let peer = 0; peer < set.threads; peer++) {
      this.encoders.push(new MessageEncoder());
      this.decoders.push(new MessageDecoder());
    }
  }

  /** The drain handler: one frame from thread `from`. */
  readonly onFrame = (from: number, kind: number, bytes: Uint8Array, start: number, end: number): void => {
    const decoder = this.decoders[from];
    // The hot kinds carry their addresses as words before the body (see protocol.ts).
    switch (kind) {
      case Kind.CAST:
      case Kind.INFO: {
        const serial = readWord(bytes, start);
        const body = decoder.decode(bytes, start + 4, end);
        const cell = this.cells.get(serial);
        if (cell === undefined) this.deadLetter(serial, kind, body);
        else cell.deliver(kind, from, -1, body);
        return;
      }
      case Kind.CALL: {
        const serial = readWord(bytes, start);
        const ref = readWord(bytes, start + 4);
        const body = decoder.decode(bytes, start + 8, end);
        const cell = this.cells.get(serial);
        if (cell !== undefined) cell.deliver(kind, from, ref, body);
        else this.replyError(from, ref, this.missing(serial));
        return;
      }
      case Kind.REPLY:
        this.pending.resolve(readWord(bytes, start), decoder.decode(bytes, start + 4, end));
        return;
    }
    const envelope = decoder.decode(bytes, start, end) as unknown[];
    switch (kind) {
      case Kind.SPAWN:
        void this.spawn(from, envelope as SpawnEnvelope);
        return;
      case Kind.MONITOR: {
        const [serial, mref] = envelope as MonitorEnvelope;
        const cell = this.cells.get(serial);
        if (cell !== undefined) cell.addWatcher(from, mref);
        else this.down(from, mref, serial, this.reasonOf(serial));
        return;
      }
      case Kind.DEMONITOR: {
        const [serial, mref] = envelope as MonitorEnvelope;
        this.cells.get(serial)?.removeWatcher(from, mref);
        return;
      }
      case Kind.LINK:
      case Kind.UNLINK: {
        const [serial, fromSerial] = envelope as LinkEnvelope;
        const other = new Pid(this.node, from, fromSerial);
        const cell = this.cells.get(serial);
        if (kind === Kind.UNLINK) cell?.removeLink(other);
        else if (cell !== undefined) cell.addLink(other);
        else this.exitSignal(other, new Pid(this.node, this.thread, serial), this.reasonOf(serial), true);
        return;
      }
      case Kind.EXIT_SIGNAL: {
        const [serial, fromSerial, reason, linked] = envelope as ExitSignalEnvelope;
        this.cells.get(serial)?.signal(new Pid(this.node, from, fromSerial), reason as ExitReason, linked);
        return;
      }
      case Kind.DOWN: {
        const [mref, serial, reason] = envelope as DownEnvelope;
        this.deliverDown(mref, new Pid(this.node, from, serial), reason as ExitReason);
        return;
      }
      case Kind.STOP:
        void this.stop(from, envelope as StopEnvelope);
        return;
      case Kind.STATS:
        this.reply(from, (envelope as StopEnvelope)[0], this.stats());
        return;
      default:
        if (!settleReply(this.pending, kind, envelope)) throw new Error(`shard ${this.thread} got a frame of unknown kind ${kind} from thread ${from}`);
    }
  };

  reply(thread: number, ref: number, value: unknown): void {
    if (thread === this.thread) {
      // A caller on this thread: no frame, and no encoding either (nothing crosses a thread).
      this.pending.resolve(ref, value);
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
    if (thread === this.thread) this.pending.reject(ref, error);
    else this.sendFrame(thread, Kind.REPLY_ERROR, [ref, error]);
  }

  // ── Router: refs made on this thread (ctx.ref, ctx.spawn) send through here ────────────────────

  call(pid: Pid, msg: unknown, timeout: number | undefined): Promise<unknown> {
    const ms = timeout ?? DEFAULT_CALL_TIMEOUT;
    return this.pending.request(
      ms,
      () => new CallTimeoutError(`call to ${pid} got no reply within ${ms} ms`),
      (ref) => this.post(pid, Kind.CALL, ref, msg),
    );
  }

  cast(pid: Pid, msg: unknown): void {
    this.post(pid, Kind.CAST, -1, msg);
  }

  send(pid: Pid, msg: unknown): void {
    this.post(pid, Kind.INFO, -1, msg);
  }

  /**
   * Sends to an actor on any thread. On this thread the message is queued for the loop's next turn
   * rather than handled at once: handling it inside the sender's callback could re-enter the
   * sender, or recurse without bound along a chain of actors. Same-thread messages are not encoded
   * either, so a message that could not cross threads is still refused, as it would be elsewhere.
   */
  private post(pid: Pid, kind: number, ref: number, msg: unknown): void {
    if (pid.node !== this.node) throw new NoProcError(`no actor ${pid}: node ${JSON.stringify(pid.node)} is not connected`);
    if (pid.thread !== this.thread) {
      this.endpoint.sendMessage(pid.thread, kind, msg, this.encoders[pid.thread], pid.serial, kind === Kind.CALL ? ref : NO_WORD);
      return;
    }
    this.local.push(pid.serial, kind, ref, this.copy(msg));
    if (this.parked) this.endpoint.interrupt();
  }

  /**
   * The message as the receiver would get it from another thread: a copy through the codec, so a
   * same-thread receiver never shares an object with its sender, and a value that could not cross
   * threads is refused here too (EncodeError at the sender).
   */
  copy(msg: unknown): unknown {
    return this.localDecoder.decode(this.localEncoder.encode(msg));
  }

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
        this.cells.get(serial)?.signal(from, reason, ref === 1);
        continue;
      }
      const cell = this.cells.get(serial);
      if (cell !== undefined) cell.deliver(kind, this.thread, ref, body);
      else if (kind === Kind.CALL) this.replyError(this.thread, ref, this.missing(serial));
      else this.deadLetter(serial, kind, body);
    }
    return ran;
  }

  async spawnFrom(module: URL | string, args: unknown, thread: number | 'local' | undefined, timeout: number | undefined, name?: string): Promise<Pid> {
    const url = module instanceof URL ? module.href : String(module);
    const target = thread === undefined || thread === 'local' ? this.thread : thread;
    if (!Number.isInteger(target) || target < 1 || target >= this.endpoint.set.threads) {
      throw new InvalidArgumentError(`expected \`thread\` to be 'local' or a shard from 1 to ${this.endpoint.set.threads - 1}, got: ${describeValue(thread)}`);
    }
    const ms = timeout ?? DEFAULT_SPAWN_TIMEOUT;
    const serial = await this.pending.request<number>(
      ms,
      () => new CallTimeoutError(`spawn of ${url} on thread ${target} did not finish within ${ms} ms`),
      (ref) => {
        if (target === this.thread) {
          void this.spawn(this.thread, [ref, url, this.copy(args), null]);
          return;
        }
        try {
          this.sendFrame(target, Kind.SPAWN, [ref, url, args, null]);
        } catch (error) {
          throw rebaseOntoBody(error, SPAWN_ARGS);
        }
      },
    );
    const pid = new Pid(this.node, target, serial);
    if (name !== undefined) {
      try {
        await this.register(pid, name);
      } catch (error) {
        // The name was taken meanwhile: the new actor must not live on unnamed and unknown.
        this.exitSignal(pid, pid, 'kill');
        throw error;
      }
    }
    return pid;
  }

  exited(cell: ActorCell, reason: ExitReason): void {
    this.cells.delete(cell.self.serial);
    // Its own monitors die with it; a DOWN still on its way finds no watcher and is dropped.
    for (const mref of [...cell.watching]) this.forgetMonitor(mref);
    this.recentDeaths.set(cell.self.serial, reason);
    if (this.recentDeaths.size > RECENT_DEATHS) this.recentDeaths.delete(this.recentDeaths.keys().next().value!);
    this.sendExited(cell, reason);
  }

  /**
   * A cast or send for an actor that is not here: dropped, as in Erlang, but counted and reported
   * to main, which emits 'deadLetter', so nothing vanishes unseen.
   */
  private deadLetter(serial: number, kind: number, body: unknown): void {
    this.deadLetters++;
    this.sendFrame(0, Kind.DEAD_LETTER, [serial, kind, body]);
  }

  // ── names (main keeps them) ────────────────────────────────────────────────────────────────────

  /** Names `pid` (an actor of this thread, or one this thread just spawned elsewhere). */
  async register(pid: Pid, name: string): Promise<void> {
    await this.pending.request<boolean>(
      DEFAULT_CALL_TIMEOUT,
      () => new CallTimeoutError(`main did not answer register(${JSON.stringify(name)}) within ${DEFAULT_CALL_TIMEOUT} ms`),
      (ref) => this.sendFrame(0, Kind.REGISTER, [ref, pid.serial, name, pid.thread]),
    );
  }

  unregister(serial: number, name: string): void {
    this.sendFrame(0, Kind.UNREGISTER, [0, serial, name]);
  }

  async whereis(name: string): Promise<Pid | undefined> {
    const pid = await this.pending.request<Pid | null>(
      DEFAULT_CALL_TIMEOUT,
      () => new CallTimeoutError(`main did not answer whereis(${JSON.stringify(name)}) within ${DEFAULT_CALL_TIMEOUT} ms`),
      (ref) => this.sendFrame(0, Kind.WHEREIS, [ref, name]),
    );
    return pid ?? undefined;
  }

  // ── links and exit signals ─────────────────────────────────────────────────────────────────────

  linkFrom(from: ActorCell, target: Pid, on: boolean): void {
    if (target.node !== this.node) {
      if (on) this.exitSignal(from.self, target, 'noproc', true);
      return;
    }
    if (target.thread !== this.thread) {
      this.sendFrame(target.thread, on ? Kind.LINK : Kind.UNLINK, [target.serial, from.self.serial]);
      return;
    }
    const cell = this.cells.get(target.serial);
    if (!on) cell?.removeLink(from.self);
    else if (cell !== undefined) cell.addLink(from.self);
    else this.exitSignal(from.self, target, this.reasonOf(target.serial), true);
  }

  exitSignal(target: Pid, from: Pid, reason: ExitReason, linked = false): void {
    if (target.node !== this.node) return;
    if (target.thread === this.thread) {
      // Through the local queue, so it never runs inside the exiting (or signalling) actor's code.
      this.local.push(target.serial, Kind.EXIT_SIGNAL, linked ? 1 : 0, [from, reason]);
      if (this.parked) this.endpoint.interrupt();
      return;
    }
    try {
      this.sendFrame(target.thread, Kind.EXIT_SIGNAL, [target.serial, from.serial, reason, linked]);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      this.sendFrame(target.thread, Kind.EXIT_SIGNAL, [target.serial, from.serial, describeReason(reason), linked]);
    }
  }

  // ── monitors ────────────────────────────────────────────────────────────────────────────────────

  monitorFrom(watcher: ActorCell, target: Pid): number {
    const mref = this.nextMonitorRef;
    this.nextMonitorRef = mref >= 0x3fff_ffff ? 1 : mref + 1;
    this.watchersByRef.set(mref, watcher);
    this.monitorTargets.set(mref, target);
    watcher.watching.add(mref);
    if (target.node !== this.node) {
      this.down(this.thread, mref, target.serial, 'noproc');
    } else if (target.thread === this.thread) {
      const cell = this.cells.get(target.serial);
      if (cell !== undefined) cell.addWatcher(this.thread, mref);
      else this.down(this.thread, mref, target.serial, this.reasonOf(target.serial));
    } else {
      this.sendFrame(target.thread, Kind.MONITOR, [target.serial, mref]);
    }
    return mref;
  }

  demonitorFrom(watcher: ActorCell, mref: number): void {
    const target = this.monitorTargets.get(mref);
    if (target === undefined || this.watchersByRef.get(mref) !== watcher) return;
    this.forgetMonitor(mref);
    if (target.thread === this.thread) this.cells.get(target.serial)?.removeWatcher(this.thread, mref);
    else this.sendFrame(target.thread, Kind.DEMONITOR, [target.serial, mref]);
  }

  down(thread: number, mref: number, serial: number, reason: ExitReason): void {
    if (thread === this.thread) {
      this.deliverDown(mref, new Pid(this.node, this.thread, serial), reason);
      return;
    }
    try {
      this.sendFrame(thread, Kind.DOWN, [mref, serial, reason]);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      this.sendFrame(thread, Kind.DOWN, [mref, serial, describeReason(reason)]);
    }
  }

  /** Hands a DOWN to the actor on this thread that holds monitor `mref`, as a message to its handleInfo. */
  private deliverDown(mref: number, pid: Pid, reason: ExitReason): void {
    const watcher = this.watchersByRef.get(mref);
    if (watcher === undefined) return; // demonitored, or the watcher has exited
    this.forgetMonitor(mref);
    // Through the local queue, like any same-thread message: never inside the exiting actor's code.
    this.local.push(watcher.self.serial, Kind.INFO, -1, { type: 'DOWN', ref: mref, pid, reason } satisfies Down);
    if (this.parked) this.endpoint.interrupt();
  }

  private forgetMonitor(mref: number): void {
    this.watchersByRef.get(mref)?.watching.delete(mref);
    this.watchersByRef.delete(mref);
    this.monitorTargets.delete(mref);
  }

  /** Why the actor `serial` of this thread is gone: its exit reason if remembered, else 'noproc'. */
  private reasonOf(serial: number): ExitReason {
    return this.recentDeaths.get(serial) ?? 'noproc';
  }

  stats(): ThreadStats {
    let mailboxDepth = this.local.size;
    for (const cell of this.cells.values()) mailboxDepth += cell.depth;
    const { messagesReceived, messagesSent, parks, notifies, overflowed } = this.endpoint.stats;
    return { thread: this.thread, actors: this.cells.size, mailboxDepth, messagesIn: messagesReceived, messagesOut: messagesSent, parks, notifies, overflowed, deadLetters: this.deadLetters };
  }

  private sendExited(cell: ActorCell, reason: ExitReason): void {
    try {
      this.sendFrame(0, Kind.EXITED, [cell.self.serial, cell.name, reason]);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      // A reason that cannot travel (a class instance given to ctx.stop) still tells main who left.
      this.sendFrame(0, Kind.EXITED, [cell.self.serial, cell.name, describeReason(reason)]);
    }
  }

  private sendFrame(to: number, kind: number, envelope: unknown[]): void {
    this.endpoint.sendMessage(to, kind, envelope, this.encoders[to]);
  }

  private missing(serial: number): Error {
    const pid = new Pid(this.node, this.thread, serial);
    if (this.recentDeaths.has(serial)) {
      const reason = this.recentDeaths.get(serial);
      return new ExitError(`actor ${pid} exited before replying: ${describeReason(reason)}`, reason);
    }
    return new NoProcError(`no actor ${pid}: it does not exist or exited long ago`);
  }

  private async spawn(from: number, [ref, moduleUrl, args, name]: SpawnEnvelope): Promise<void> {
    try {
      const actor = await this.load(moduleUrl);
      const pid = new Pid(this.node, this.thread, this.nextSerial);
      this.nextSerial = this.nextSerial >= 0x3fff_ffff ? 1 : this.nextSerial + 1;
      // init gets a context whose stop/reply work once the actor exists; until then they are inert.
      const cell = new ActorCell(pid, name, actor.behaviour, undefined, this);
      let state: unknown;
      try {
        state = await actor.behaviour.init(args, cell);
      } catch (error) {
        throw new SpawnError(`init of ${moduleUrl} threw: ${describeReason(error)}`, { cause: error });
      }
      cell.setState(state);
      if (this.stopping) throw new SpawnError(`shard ${this.thread} is stopping; ${moduleUrl} was not started`);
      this.cells.set(pid.serial, cell);
      this.sendFrame(0, Kind.BORN, [pid.serial]);
      if (from === this.thread) this.pending.resolve(ref, pid.serial);
      else this.sendFrame(from, Kind.SPAWNED, [ref, pid.serial]);
    } catch (error) {
      const failure = isWeftError(error) ? error : new SpawnError(`cannot spawn ${moduleUrl}: ${describeReason(error)}`, { cause: error });
      if (from === this.thread) this.pending.reject(ref, failure);
      else this.sendFrame(from, Kind.SPAWN_ERROR, [ref, failure]);
    }
  }

  /** The module's actor, imported once per shard. */
  private async load(moduleUrl: string): Promise<import('./actor.js').AnyActor> {
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

  /** Stops every actor (terminate runs, queued calls fail with 'shutdown'), then answers. */
  private async stop(from: number, [ref]: StopEnvelope): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.cells.values()].map((cell) => cell.shutdown('shutdown')));
    this.sendFrame(from, Kind.STOPPED, [ref]);
  }
}
