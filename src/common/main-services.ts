/**
 * What a thread's actor runtime asks of main, which keeps the node-wide state: the registry of
 * names, the dead-letter event, and the way to other nodes. On main itself the `System` answers directly; a shard asks
 * over its ring to main (`src/worker/remote-main.ts`). The runtime cannot tell the difference,
 * which is what lets the same runtime host actors on both.
 */
import type { Pid } from '../shm/pid.js';
import type { ExitReason } from './actor.js';
import type { SupervisionEvent } from './supervision-events.js';
import type { FuseNotice } from './fuse.js';
import type { DeadLetterReason, RemoteEnvelope } from '../shm/protocol.js';

/** Where a name is looked up: this node (none), node `node`'s names, or the cluster's global names. */
export type NameScope = { node: string } | { global: true };

export interface MainServices {
  /** An actor is gone: its name, if it had one, is freed. */
  exited(pid: Pid, name: string | null, reason: ExitReason): void;
  /** A cast or send reached no actor (`kind` is Kind.CAST or Kind.INFO), for `reason`: counted and emitted. */
  deadLetter(pid: Pid, kind: number, body: unknown, reason: DeadLetterReason): void;
  /**
   * Names `pid`; rejects with `AlreadyRegisteredError` if the name is taken (by anyone but
   * `replacing`, an actor known to have exited whose exit main may not have heard of yet).
   * `reservation`: the name was reserved for this spawn (Registry.reserve); it binds only while
   * that reservation stands. Asked from `pid`'s own thread, so it reaches main before `pid`'s exit
   * (or, on main, as main reads the SPAWNED of `pid`: main's own register binds before it returns).
   */
  register(pid: Pid, name: string, replacing?: Pid, reservation?: number): Promise<void>;
  /** Something main emits as an event (a supervisor's restart). */
  event(event: SupervisionEvent): void;
  /** A fuse blew (main emits 'blown' and heals it later), or is to be removed. */
  fuse(notice: FuseNotice): void;
  unregister(pid: Pid, name: string): void;
  /** The pid named `name` on this node; with `where`, on another node, or the cluster's global name. */
  whereis(name: string, where?: NameScope): Promise<Pid | undefined>;
  /**
   * Something for an actor on another node (a message, a call, a link, an exit signal, a monitor):
   * main's cluster carries it (src/main/cluster). Throws `EncodeError` for a body that cannot travel.
   */
  remote(envelope: RemoteEnvelope): void;
  /** Sends `watcher` a NodeDown (`{ type: 'nodedown', node, why }`) once `node` goes down. */
  monitorNode(watcher: Pid, node: string): void;
}
