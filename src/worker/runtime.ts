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
import { Endpoint } from '../shm/endpoint.js';
import { EncodeError, ExitError, NoProcError, SpawnError, isWeftError } from '../shm/errors.js';
import { Pid } from '../shm/pid.js';
import { Kind, type CallEnvelope, type CastEnvelope, type ShardData, type SpawnEnvelope, type StopEnvelope } from '../shm/protocol.js';
import { RingSet } from '../shm/ring-set.js';
import { isActor, type ExitReason } from './actor.js';
import { ActorCell, describeReason, type CellHost } from './cell.js';

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
    const envelope = this.decoders[from].decode(bytes, start, end) as unknown[];
    switch (kind) {
      case Kind.CAST:
      case Kind.INFO: {
        const [serial, body] = envelope as CastEnvelope;
        const cell = this.cells.get(serial);
        if (cell === undefined) this.deadLetters++;
        else cell.deliver(kind, from, -1, body);
        return;
      }
      case Kind.CALL: {
        const [serial, ref, body] = envelope as CallEnvelope;
        const cell = this.cells.get(serial);
        if (cell !== undefined) cell.deliver(kind, from, ref, body);
        else this.replyError(from, ref, this.missing(serial));
        return;
      }
      case Kind.SPAWN:
        void this.spawn(from, envelope as SpawnEnvelope);
        return;
      case Kind.STOP:
        void this.stop(from, envelope as StopEnvelope);
        return;
      default:
        throw new Error(`shard ${this.thread} got a frame of unknown kind ${kind} from thread ${from}`);
    }
  };

  reply(thread: number, ref: number, value: unknown): void {
    try {
      this.send(thread, Kind.REPLY, [ref, value]);
    } catch (error) {
      // The reply cannot travel (a function in it, say): the caller gets the EncodeError instead.
      if (!(error instanceof EncodeError)) throw error;
      this.replyError(thread, ref, error);
    }
  }

  replyError(thread: number, ref: number, error: unknown): void {
    this.send(thread, Kind.REPLY_ERROR, [ref, error]);
  }

  exited(cell: ActorCell, reason: ExitReason): void {
    this.cells.delete(cell.self.serial);
    this.recentDeaths.set(cell.self.serial, reason);
    if (this.recentDeaths.size > RECENT_DEATHS) this.recentDeaths.delete(this.recentDeaths.keys().next().value!);
    this.sendExited(cell, reason);
  }

  get actorCount(): number {
    return this.cells.size;
  }

  private sendExited(cell: ActorCell, reason: ExitReason): void {
    try {
      this.send(0, Kind.EXITED, [cell.self.serial, cell.name, reason]);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      // A reason that cannot travel (a class instance given to ctx.stop) still tells main who left.
      this.send(0, Kind.EXITED, [cell.self.serial, cell.name, describeReason(reason)]);
    }
  }

  private send(to: number, kind: number, envelope: unknown[]): void {
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
      this.send(from, Kind.SPAWNED, [ref, pid.serial]);
    } catch (error) {
      this.send(from, Kind.SPAWN_ERROR, [ref, isWeftError(error) ? error : new SpawnError(`cannot spawn ${moduleUrl}: ${describeReason(error)}`, { cause: error })]);
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
    this.send(from, Kind.STOPPED, [ref]);
  }
}
