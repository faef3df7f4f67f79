/**
 * What main does for every thread of the node, its own included: the names, the dead letters,
 * supervisors' restart events and fuse notices (which main emits), `whereis` (here, on another
 * node, or global), node watches (`ctx.monitorNode`), and messages for actors on other nodes,
 * which the cluster carries (or, outside a cluster, which fail as Erlang's do to a node that is
 * not connected).
 *
 * Main's own runtime asks through `services` (src/common/main-services.ts); a shard asks in a
 * frame, which main's runtime hands to `serveFrame` (src/worker/remote-main.ts is the shard's
 * side). Both end in the same code here, so an actor gets the same answer on any thread.
 */
import { ClusterError, NoProcError } from '../shm/errors.js';
import type { Pid } from '../shm/pid.js';
import { Kind, RemoteOp, type DeadLetterEnvelope, type DeadLetterReason, type EventEnvelope, type ExitedEnvelope, type RegisterEnvelope, type RemoteEnvelope, type WhereisEnvelope } from '../shm/protocol.js';
import type { ExitReason, NodeDown } from '../common/actor.js';
import type { FuseNotice } from '../common/fuse.js';
import type { MainServices } from '../common/main-services.js';
import type { ThreadRuntime } from '../common/runtime.js';
import type { SupervisionEvent } from '../common/supervision-events.js';
import type { Registry } from './registry.js';
import type { Cluster } from './cluster/cluster.js';

/** What the node services need of the system (src/main/system.ts). */
export interface NodeServicesHost {
  /** Main's runtime (read when first needed: the system makes it after this). */
  runtime(): ThreadRuntime;
  readonly names: Registry;
  /** The cluster, once joined; undefined outside one. */
  cluster(): Cluster | undefined;
  /** Actors of this node holding a global name, by pid: freed when they exit. */
  readonly globalNames: Map<string, { name: string; pid: Pid }>;
  /** An actor exited: 'actorExit' for those listening. */
  exited(pid: Pid, name: string | null, reason: ExitReason): void;
  /** Counted and emitted as 'deadLetter'. */
  deadLetter(to: Pid, kind: 'cast' | 'send', message: unknown, reason: DeadLetterReason): void;
  /** A supervisor restarted a child: emitted as 'restart'. */
  event(event: SupervisionEvent): void;
  fuse(notice: FuseNotice): void;
  whereisGlobal(name: string): Pid | undefined;
  whereisOn(name: string, node: string): Promise<Pid | undefined>;
}

export class NodeServices {
  private readonly host: NodeServicesHost;
  /** Actors watching nodes (`ctx.monitorNode`), by node, then by pid; forgotten when they exit. */
  private readonly nodeWatchers = new Map<string, Map<string, Pid>>();

  constructor(host: NodeServicesHost) {
    this.host = host;
  }

  /** What main's own runtime asks. */
  readonly services: MainServices = {
    exited: (pid, name, reason) => {
      const { host } = this;
      host.names.exited(pid);
      if (this.nodeWatchers.size !== 0) for (const watchers of this.nodeWatchers.values()) watchers.delete(String(pid));
      const global = host.globalNames.get(String(pid));
      if (global !== undefined) {
        host.globalNames.delete(String(pid));
        host.cluster()?.globals?.unregister(global.name, pid);
      }
      host.exited(pid, name, reason);
    },
    deadLetter: (pid, kind, message, reason) => this.host.deadLetter(pid, kind === Kind.CAST ? 'cast' : 'send', message, reason),
    register: async (pid, name, replacing, reservation) => this.host.names.bind(name, pid, replacing, reservation),
    event: (event) => this.host.event(event),
    fuse: (notice) => this.host.fuse(notice),
    unregister: (pid, name) => this.host.names.unbind(name, pid),
    whereis: async (name, where) => {
      if (where === undefined) return this.host.names.whereis(name);
      if ('global' in where) return this.host.whereisGlobal(name);
      return this.host.whereisOn(name, where.node);
    },
    remote: (envelope) => this.remote(0, envelope),
    monitorNode: (watcher, node) => this.watchNode(watcher, node),
  };

  /** The same services, asked by shards in frames: true if `kind` was one of them. */
  readonly serveFrame = (from: number, kind: number, envelope: unknown[]): boolean => {
    const runtime = this.host.runtime();
    const { services } = this;
    switch (kind) {
      case Kind.DEAD_LETTER: {
        const [serial, letterKind, message, reason = 'noproc'] = envelope as DeadLetterEnvelope;
        services.deadLetter(runtime.pid(from, serial), letterKind, message, reason);
        return true;
      }
      case Kind.EXITED: {
        const [serial, name, reason] = envelope as ExitedEnvelope;
        services.exited(runtime.pid(from, serial), name, reason as ExitReason);
        return true;
      }
      case Kind.REGISTER: {
        const [ref, serial, name, thread, replacing, reservation] = envelope as RegisterEnvelope;
        try {
          this.host.names.bind(name, runtime.pid(thread ?? from, serial), replacing ?? undefined, reservation ?? undefined);
          runtime.reply(from, ref, true);
        } catch (error) {
          runtime.replyError(from, ref, error);
        }
        return true;
      }
      case Kind.UNREGISTER: {
        const [, serial, name] = envelope as RegisterEnvelope;
        services.unregister(runtime.pid(from, serial), name);
        return true;
      }
      case Kind.FUSE:
        services.fuse((envelope as [FuseNotice])[0]);
        return true;
      case Kind.EVENT:
        services.event((envelope as EventEnvelope)[0] as SupervisionEvent);
        return true;
      case Kind.WHEREIS: {
        const [ref, name, node, global] = envelope as WhereisEnvelope;
        services.whereis(name, global === true ? { global: true } : typeof node === 'string' ? { node } : undefined).then(
          (pid) => runtime.reply(from, ref, pid ?? null),
          (error: unknown) => runtime.replyError(from, ref, error),
        );
        return true;
      }
      case Kind.REMOTE:
        this.remote(from, envelope as RemoteEnvelope);
        return true;
      case Kind.MONITOR_NODE: {
        const [serial, node] = envelope as [number, string];
        this.watchNode(runtime.pid(from, serial), node);
        return true;
      }
      default:
        return false;
    }
  };

  /** Node `node` went down: every actor watching it hears. */
  nodeDown(node: string, why: string): void {
    const watchers = this.nodeWatchers.get(node);
    if (watchers === undefined) return;
    this.nodeWatchers.delete(node);
    const runtime = this.host.runtime();
    for (const pid of watchers.values()) runtime.notify(pid, { type: 'nodedown', node, why } satisfies NodeDown);
  }

  /** `ctx.monitorNode`: `watcher` gets a NodeDown when `node` goes down (at once if it is not up). */
  private watchNode(watcher: Pid, node: string): void {
    const cluster = this.host.cluster();
    if (cluster === undefined || !cluster.isUp(node)) {
      this.host.runtime().notify(watcher, { type: 'nodedown', node, why: 'noconnection' } satisfies NodeDown);
      return;
    }
    let watchers = this.nodeWatchers.get(node);
    if (watchers === undefined) this.nodeWatchers.set(node, (watchers = new Map()));
    watchers.set(String(watcher), watcher);
  }

  /**
   * A thread's message (call, link, monitor…) for an actor on another node: the cluster carries
   * it. Outside a cluster no node is reachable: a call or send from main throws NoProcError (from
   * a shard: its call rejects with it, its send is a dead letter), a link gets the exit
   * 'noconnection' and a monitor its DOWN.
   */
  private remote(thread: number, envelope: RemoteEnvelope): void {
    const cluster = this.host.cluster();
    if (cluster !== undefined) {
      cluster.fromThread(thread, envelope);
      return;
    }
    const runtime = this.host.runtime();
    if (envelope[0] === RemoteOp.SPAWN) {
      const error = new ClusterError(`cannot spawn on node ${JSON.stringify(envelope[2])}: this system is not a cluster node (start it with { node: { name, nats } })`);
      if (thread === 0) throw error;
      runtime.replyError(thread, envelope[1], error);
      return;
    }
    const target = envelope[1];
    const error = (): NoProcError => new NoProcError(`no actor ${target}: node ${JSON.stringify(target.node)} is not connected (this system is ${target.node === runtime.node ? 'that node, in another life' : 'not in a cluster'})`);
    switch (envelope[0]) {
      case RemoteOp.CALL_ABORT:
        return; // its call was refused here: nothing is waiting there
      case RemoteOp.CALL:
        if (thread === 0) throw error();
        runtime.replyError(thread, envelope[2], error());
        return;
      case RemoteOp.CAST:
      case RemoteOp.SEND:
        if (thread === 0) throw error();
        this.services.deadLetter(target, envelope[0] === RemoteOp.CAST ? Kind.CAST : Kind.INFO, envelope[2], 'noproc');
        return;
      case RemoteOp.LINK:
        runtime.exitSignal(envelope[2], target, 'noconnection', true);
        return;
      case RemoteOp.MONITOR:
        runtime.downFromAfar(thread, envelope[2], target, 'noconnection');
        return;
      default:
    }
  }
}
