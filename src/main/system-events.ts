/**
 * The types of a system's face: what `spawn` takes, and the events a system emits, with what
 * they carry (src/main/system.ts emits them).
 */
import type { ListenerError } from './guarded-events.js';
import type { ClusterError } from '../shm/errors.js';
import type { Pid } from '../shm/pid.js';
import type { DeadLetterReason } from '../shm/protocol.js';
import type { Placement } from '../shm/placement.js';
import type { ExitReason } from '../common/actor.js';
import type { MailboxOptions } from '../common/mailbox.js';
import type { SupervisionEvent } from '../common/supervision-events.js';
import type { ThreadDownCause, ThreadRestart } from './root-supervisor.js';
import type { ClusterStats, RemoteName } from './cluster/cluster.js';
import type { NodeDownWhy } from './cluster/membership.js';
import type { StatsOptions, SystemStats } from './observability.js';

/** Options of `spawn`; `args` is required when the actor's `init` needs one. */
export type SpawnOptions<Args> = {
  /** A name, unique on this node while the actor lives; `whereis(name)` and `send(name, …)` find it. */
  name?: string;
  /** Where to run it. @default 'round-robin' */
  thread?: Placement;
  /** Milliseconds to wait for the module to load and `init` to return. @default 30000 */
  timeout?: number;
  /**
   * The node to start it on (a cluster node's name; see `start({ node })`). The module URL must
   * name the module on that node's machine.
   * @default this node
   */
  node?: string;
  /**
   * With `name`: the name is the cluster's, not this node's: unique across every node
   * (`AlreadyRegisteredError` if any node's actor holds it), found with `whereisGlobal(name)`
   * from any node, and freed when the actor or its node goes down.
   */
  global?: boolean;
  /**
   * Bound the actor's mailbox: at most `max` casts, sends and calls wait while it is busy; past
   * that, `overflow` decides ('reject', 'drop-new', 'drop-old': see `MailboxOptions`). System
   * messages (EXIT, DOWN, replies) are never counted nor dropped.
   * @default unbounded
   * @example { mailbox: { max: 10_000, overflow: 'drop-old' } }
   */
  mailbox?: MailboxOptions;
} & (undefined extends Args ? { args?: Args } : { args: Args });

/**
 * A `cast` or `send` that reached no actor (it had exited, or never existed, or its node is
 * down), or (`kind: 'foreign'`, `to: null`) a message from NATS that was not weft's or not of
 * this cluster, dropped.
 */
export interface DeadLetter {
  /** Who it was for. */
  to: Pid | RemoteName | null;
  kind: 'cast' | 'send' | 'foreign';
  message: unknown;
  /** Why: no such actor, the path held `maxPending` (`whenFull: 'drop'`), its bounded mailbox refused it, or from outside the cluster. */
  reason: DeadLetterReason;
}

export type { RemoteName, ClusterStats, StatsOptions, SystemStats };

/** Why a node is down: no heartbeat for `downAfter` ms, it said goodbye, or it came back as a new life. */
export type { NodeDownWhy };

/** A watch on one actor from main, made by `system.monitor`. */
export interface Monitor {
  readonly ref: number;
  /**
   * Resolves when the actor exits (at once if it was already gone: with its exit reason while its
   * thread remembers it, else `'noproc'`), with its pid
   * and exit reason. Never rejects; never resolves after `demonitor()`. It does not hold the
   * process open.
   */
  readonly down: Promise<{ pid: Pid; reason: ExitReason | 'noproc' }>;
  demonitor(): void;
}

/** An actor exited (on any thread), as `system.on('actorExit', …)` reports it. */
export interface ActorExit {
  pid: Pid;
  /** Its registered name, if it had one. */
  name: string | null;
  reason: ExitReason;
}

/** The events a system emits, with their listeners' arguments. */
export interface SystemEvents {
  deadLetter: [letter: DeadLetter];
  actorExit: [exit: ActorExit];
  /** A supervisor restarted a child (`supervisor` null: main restarted a top-level supervisor whose thread went down). */
  restart: [restart: SupervisionEvent];
  /** A shard went down; every actor on it exited with `{ threadDown: cause }`. */
  threadDown: [cause: ThreadDownCause];
  /** A shard is running again after going down (`restarts`: how many times so far). */
  threadUp: [event: { thread: number; restarts: number }];
  /** Shards went down more often than `threadRestarts` allows: the system is stopping. */
  fatal: [event: { history: ThreadRestart[] }];
  /** A fuse blew (every thread's `ask()` now says 'blown'), and healed. */
  blown: [event: { name: string }];
  healed: [event: { name: string }];
  /** A node joined the cluster (or came back as a new life). */
  nodeup: [event: { node: string }];
  /**
   * A node left the cluster ('timeout', 'goodbye', 'restarted'), or the connection to it was lost
   * ('noconnection': this node's NATS connection dropped, or the node says it lost this one): its
   * actors' monitors fired with 'noconnection', links to them delivered that exit, calls to it
   * rejected with NodeDownError. After a 'noconnection' the node comes back up ('nodeup') when
   * heartbeats flow again.
   */
  nodedown: [event: { node: string; why: NodeDownWhy }];
  /**
   * Something between this node and NATS failed that no caller hears of: the server refused a
   * subscription (permissions), or the connection closed for good. The node no longer hears part
   * or all of the cluster.
   */
  clusterError: [error: ClusterError];
  /**
   * A listener of another event threw: the throw is reported here (or, with no 'error' listener,
   * as a process warning `WEFT_LISTENER_THREW`) and the other listeners still heard the event.
   */
  error: [error: ListenerError];
}

/** True for an exit reason `{ threadDown }`: the actor went down with its thread. */
export function isThreadDown(reason: unknown): reason is { threadDown: ThreadDownCause } {
  return typeof reason === 'object' && reason !== null && 'threadDown' in reason;
}

