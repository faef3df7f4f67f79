/**
 * A shard's way to main's services (the registry, dead letters, other nodes): frames on the shard's ring to
 * main, answered, where an answer is due, by a REPLY that the runtime's pending replies settle.
 */
import { EncodeError } from '../shm/errors.js';
import { Kind, type DeadLetterReason, REMOTE_CALL_BODY, REMOTE_POST_BODY, REMOTE_SPAWN_ARGS, RemoteOp, rebaseOntoBody, type RemoteEnvelope } from '../shm/protocol.js';
import type { Pid } from '../shm/pid.js';
import type { ExitReason } from '../common/actor.js';
import { describeReason } from '../shm/errors.js';
import type { MainServices, NameScope } from '../common/main-services.js';
import type { SupervisionEvent } from '../common/supervision-events.js';
import type { FuseNotice } from '../common/fuse.js';
import type { ThreadRuntime } from '../common/runtime.js';

export class RemoteMain implements MainServices {
  private readonly runtime: ThreadRuntime;

  constructor(runtime: ThreadRuntime) {
    this.runtime = runtime;
  }

  exited(pid: Pid, name: string | null, reason: ExitReason): void {
    this.runtime.sendWithReason(0, Kind.EXITED, [pid.serial, name, reason], 2);
  }

  deadLetter(pid: Pid, kind: number, body: unknown, reason: DeadLetterReason): void {
    this.runtime.sendFrame(0, Kind.DEAD_LETTER, [pid.serial, kind, body, reason]);
  }

  async register(pid: Pid, name: string, replacing?: Pid, reservation?: number): Promise<void> {
    await this.runtime.request<boolean>(0, `register(${JSON.stringify(name)})`, (ref) => [Kind.REGISTER, [ref, pid.serial, name, pid.thread, replacing ?? null, reservation ?? null]]);
  }

  event(event: SupervisionEvent): void {
    try {
      this.runtime.sendFrame(0, Kind.EVENT, [event]);
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      this.runtime.sendFrame(0, Kind.EVENT, [{ ...event, reason: describeReason(event.reason) }]);
    }
  }

  unregister(pid: Pid, name: string): void {
    this.runtime.sendFrame(0, Kind.UNREGISTER, [0, pid.serial, name]);
  }

  fuse(notice: FuseNotice): void {
    this.runtime.sendFrame(0, Kind.FUSE, [notice]);
  }

  remote(envelope: RemoteEnvelope): void {
    const op = envelope[0];
    if (op === RemoteOp.EXIT) {
      this.runtime.sendWithReason(0, Kind.REMOTE, envelope, 3);
      return;
    }
    try {
      this.runtime.sendFrame(0, Kind.REMOTE, envelope);
    } catch (error) {
      throw op === RemoteOp.SPAWN ? rebaseOntoBody(error, REMOTE_SPAWN_ARGS) : rebaseOntoBody(error, op === RemoteOp.CALL ? REMOTE_CALL_BODY : REMOTE_POST_BODY);
    }
  }

  monitorNode(watcher: Pid, node: string): void {
    this.runtime.sendFrame(0, Kind.MONITOR_NODE, [watcher.serial, node]);
  }

  async whereis(name: string, where?: NameScope): Promise<Pid | undefined> {
    const node = where !== undefined && 'node' in where ? where.node : null;
    const global = where !== undefined && 'global' in where;
    const pid = await this.runtime.request<Pid | null>(0, `whereis(${JSON.stringify(name)})`, (ref) => [Kind.WHEREIS, [ref, name, node, global]]);
    return pid ?? undefined;
  }
}
