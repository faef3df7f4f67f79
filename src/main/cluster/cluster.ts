/**
 * Main's way to other nodes: one NATS connection, through which this node's threads reach actors
 * on other nodes and other nodes reach actors here. Main is the gateway: a shard's message for a
 * remote pid comes to main in a REMOTE frame, goes out in main's batch for that node (outbox.ts),
 * and the node at the other end hands it to the actor's thread through its own rings, as if it
 * had been sent there. Calls are proxied: main on the far side makes the call itself and sends
 * the reply back; a shard's caller waits on its own thread, and main answers it.
 *
 * Subjects (`<p>` is `weft.<cluster>`); the last token of each is the node that publishes on it:
 * - `<p>.hb.<from>`: heartbeats, hellos and goodbyes (membership.ts).
 * - `<p>.n.<to>.<from>`: batches of ops for one node (wire.ts).
 * - `<p>.t.<module>.any.<from>` (queue group) and `<p>.t.<module>.<to>.<from>`: tasks (remote-tasks.ts).
 * A message whose sender in the subject is not the sender its payload names is foreign. So the
 * NATS server can vouch for who speaks: give each node a user allowed to publish only on subjects
 * ending in its own name (README, "Trust"), and no node can speak for another.
 *
 * Delivery: core NATS delivers at most once, and a client that loses its server buffers what it
 * publishes and flushes it on reconnect, before the other nodes may have subscribed again, so a
 * message may be lost without either side hearing of it. So, as between Erlang nodes, a lost
 * connection is a nodedown: when this node's connection drops, every other node is down for it
 * ('noconnection'): requests waiting on them reject with NodeDownError, monitors and links of
 * their actors fire; and a node that lost this one says so in its beats, so this one does the
 * same on its side (membership.ts). Nothing waits on a message that may have been dropped.
 *
 * What NATS delivers is never trusted: a batch of another cluster, a malformed batch, an op of an
 * unknown shape, a message for a pid of an earlier life of this node: each is counted as a dead
 * letter and dropped, and nothing throws out of a subscription.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { AbortError, ClusterError, NoProcError, NodeDownError, SpawnError, describeValue, isWeftError } from '../../shm/errors.js';
import { Pid, threadKey } from '../../shm/pid.js';
import { Kind, RemoteOp, type RemoteEnvelope } from '../../shm/protocol.js';
import type { Placement } from '../../shm/placement.js';
import type { ExitReason } from '../../common/actor.js';
import { describeReason } from '../../shm/errors.js';
import type { ThreadRuntime } from '../../common/runtime.js';
import type { ResolvedNodeOptions } from './node-options.js';
import { Membership, type NodeDownWhy } from './membership.js';
import { Outbox } from './outbox.js';
import { RemoteCalls, type Settle } from './remote-calls.js';
import { RemoteWatches } from './remote-watches.js';
import { GlobalNames } from './global-names.js';
import { RemoteTasks } from './remote-tasks.js';
import { NodeLease } from './node-lease.js';
import { WireOp, readBatch, type BatchHeader } from './wire.js';
import { importNats } from './nats-packages.js';

/** What the cluster asks of its system. */
export interface ClusterHost {
  /** Main's runtime: it delivers what comes from afar and makes the calls other nodes ask for. */
  readonly runtime: ThreadRuntime;
  spawn(module: string, args: unknown, name: string | null, global: boolean, thread: Placement | undefined, timeout: number): Promise<Pid>;
  whereis(name: string): Pid | undefined;
  run(module: string, exportName: string, args: unknown[]): Promise<unknown>;
  /** True once the system is stopping: a task that fails then was cut short by the stop. */
  stopping(): boolean;
  /** A cast or send for an actor that is not there, or (to: null) a message that is not weft's. */
  deadLetter(to: Pid | { name: string; node: string } | null, kind: 'cast' | 'send' | 'foreign', message: unknown): void;
  nodeUp(node: string): void;
  nodeDown(node: string, why: NodeDownWhy): void;
  /** Something went wrong between this node and NATS that no caller will hear of. */
  error(error: ClusterError): void;
}

/** `system.stats().cluster`. */
export interface ClusterStats {
  node: string;
  creation: number;
  /** Nodes up, this one among them, in name order. */
  nodes: string[];
  /** Calls, spawns, look-ups and tasks sent to other nodes and not answered yet. */
  pendingRequests: number;
  /** Monitors held here on other nodes' actors, and by other nodes on actors here. */
  monitorsOut: number;
  monitorsIn: number;
  /** Links between an actor here and one on another node. */
  links: number;
  /** Messages from NATS dropped as not weft's, not this cluster's, or not for this life of the node. */
  foreign: number;
  /** Ops sent to other nodes (messages, calls, replies, links…), and the NATS messages that carried them. */
  opsSent: number;
  batchesSent: number;
  /** Batches the NATS client refused to publish, and exit or DOWN notices that could not be sent at all. */
  publishFailures: number;
  /** Tasks from other nodes held here now (running or waiting for a thread), and those refused for want of room (node.maxQueue). */
  tasksHeld: number;
  tasksRefused: number;
}

/** Where a remote name lives: `{ name, node }`, Erlang's `{Name, Node}`. */
export interface RemoteName {
  name: string;
  node: string;
}

/** How long a newly started node listens for the others before `start` returns. */
const JOIN_MS = 150;
/** How long `stop` waits for the connection's drain before it closes it outright. */
const DRAIN_MS = 3000;

export class Cluster {
  readonly name: string;
  readonly cluster: string;
  readonly creation: number;
  private readonly prefix: string;
  private readonly nc: NatsConnection;
  private readonly options: ResolvedNodeOptions;
  private readonly host: ClusterHost;
  private readonly runtime: ThreadRuntime;
  private readonly membership: Membership;
  private readonly outbox: Outbox;
  private readonly calls = new RemoteCalls();
  private readonly watches = new RemoteWatches();
  /** Tasks this node serves and sends (remote-tasks.ts). */
  readonly tasks: RemoteTasks;
  private readonly upWaiters = new Map<string, Set<(error?: ClusterError) => void>>();
  private readonly inboxes = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private namesake: number | undefined;
  private stopped = false;
  /** This node's hold on its name (undefined without JetStream: the heartbeats' check only). */
  private lease: NodeLease | undefined;
  /** True while the NATS connection is down: every other node is down for this one. */
  private offline = false;
  globals: GlobalNames | undefined;
  /** Why global names are unavailable, if they are. */
  private globalsError: Error | undefined;
  /** Messages from NATS that were not weft's, or not for this node's life. */
  foreign = 0;

  /** Connects to NATS, joins the cluster, and opens the global-names bucket. Rejects with ClusterError. */
  static async join(options: ResolvedNodeOptions, host: ClusterHost): Promise<Cluster> {
    // Both now, so a missing package is said before anything connects (src/main/cluster/nats-packages.ts).
    const [{ connect }] = await Promise.all([importNats('@nats-io/transport-node', () => import('@nats-io/transport-node')), importNats('@nats-io/kv', () => import('@nats-io/kv'))]);
    let nc: NatsConnection;
    // The client leaves open the socket of a dial that timed out waiting for the server's INFO (a
    // server that accepts TCP but never speaks NATS): the sockets dialed meanwhile to a port of the
    // servers are closed on failure, or the process could not exit.
    const dialed = new Set<Socket>();
    const onSocket = (message: unknown): void => void dialed.add((message as { socket: Socket }).socket);
    diagnostics.subscribe('net.client.socket', onSocket);
    try {
      // weft's NatsConnectOptions (nats-types.ts) is the client's options, spelled structurally so
      // weft's declarations do not name the optional package: the client checks them itself.
      nc = await connect({ name: `weft:${options.cluster}:${options.name}`, ...options.nats } as NodeConnectionOptions);
    } catch (error) {
      const ports = serverPorts(options.nats.servers);
      for (const socket of dialed) if (!socket.destroyed && ports.has(socket.remotePort ?? -1)) socket.destroy();
      throw new ClusterError(`node ${JSON.stringify(options.name)} cannot connect to NATS (${describeServers(options.nats.servers)}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      diagnostics.unsubscribe('net.client.socket', onSocket);
    }
    const cluster = new Cluster(nc, options, host);
    try {
      await cluster.start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private constructor(nc: NatsConnection, options: ResolvedNodeOptions, host: ClusterHost) {
    this.nc = nc;
    this.options = options;
    this.host = host;
    this.runtime = host.runtime;
    this.name = options.name;
    this.cluster = options.cluster;
    this.creation = host.runtime.creation;
    this.prefix = `weft.${options.cluster}`;
    const self = { cluster: options.cluster, node: options.name, creation: this.creation };
    this.outbox = new Outbox(self, (subject, bytes) => this.publish(subject, bytes), nc.info?.max_payload ?? 1024 * 1024);
    this.membership = new Membership(
      { ...self, heartbeat: options.heartbeat, downAfter: options.downAfter },
      {
        publish: (bytes) => this.publish(`${this.prefix}.hb.${this.name}`, bytes),
        up: (node) => this.up(node),
        down: (node, creation, why) => this.down(node, creation, why),
        foreign: () => this.dropForeign(),
        namesake: (creation) => (this.namesake ??= creation),
      },
    );
    this.tasks = new RemoteTasks({
      prefix: this.prefix,
      node: this.name,
      cluster: this.cluster,
      downAfter: options.downAfter,
      maxQueue: options.maxQueue,
      outbox: this.outbox,
      calls: this.calls,
      subscribe: (subject, queue, what, onMessage) => this.nc.subscribe(subject, { queue, callback: this.listener(what, onMessage) }),
      confirmSubscriptions: (still) => this.confirmSubscriptions(still),
      creationOf: (node) => this.membership.creationOf(node),
      isMember: (node, creation) => this.isMember(node, creation),
      reach: (node, timeout) => this.reach(node, timeout, true),
      toInbox: (node, creation, op) => this.toInbox(node, creation, op),
      answer: (to, id, ok, value) => this.answer(to, id, ok, value),
      run: (module, exportName, args) => host.run(module, exportName, args),
      dropForeign: () => this.dropForeign(),
      stopped: () => this.stopped,
      stopping: () => this.stopped || host.stopping(),
      offline: () => this.offline,
    });
    // This node counts as up: NATS may give a task of 'any' to its sender.
    this.sweeper = setInterval(() => this.calls.sweep(Date.now(), (node, creation) => this.isMember(node, creation), options.downAfter), Math.min(options.heartbeat, 250)).unref();
  }

  private async start(): Promise<void> {
    // Both end with the connection's drain in `stop`.
    this.nc.subscribe(`${this.prefix}.hb.*`, { callback: this.listener('heartbeats', (data, sender) => this.membership.heard(data, sender)) });
    this.nc.subscribe(`${this.prefix}.n.${this.name}.*`, { callback: this.listener("this node's inbox", (data, sender) => this.received(data, sender)) });
    await this.nc.flush(); // the subscriptions are in place (or refused) before anyone is told we are here
    if (this.refusedWhileJoining !== undefined) throw this.refusedWhileJoining;
    // The name first: a process refused it never says hello, so nobody takes it for this node.
    this.lease = await NodeLease.take(
      this.nc,
      { cluster: this.cluster, replicas: this.options.replicas, node: this.name, creation: this.creation, renewEvery: this.options.heartbeat, window: this.options.downAfter, lost: (holder) => this.lostName(holder) },
      () => this.namesake !== undefined,
    );
    void this.followStatus();
    this.membership.start();
    if (this.options.globalNames) {
      try {
        this.globals = await GlobalNames.open(this.nc, this.cluster, {
          node: this.name,
          creation: this.creation,
          alive: (holder) => this.holderAlive(holder),
          lost: (name, pid, holder) =>
            this.host.error(new ClusterError(`the global name ${JSON.stringify(name)} of ${pid} was taken${holder === undefined ? '' : ` by ${holder}`} while node ${JSON.stringify(this.name)} was taken for down; ${pid} runs on without it`)),
        }, this.options.replicas);
      } catch (error) {
        this.globalsError = error as Error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, JOIN_MS));
    if (this.lease === undefined && this.namesake !== undefined) {
      throw new ClusterError(`a node named ${JSON.stringify(this.name)} is already running in cluster ${JSON.stringify(this.cluster)}; node names are unique while their nodes run`);
    }
    this.globals?.freeOldLives(this.name, this.creation);
    if (this.refusedWhileJoining !== undefined) throw this.refusedWhileJoining;
    this.joining = false;
    void this.nc.closed().then((error) => {
      // Closed for good (the client gave up reconnecting, or the server ended it), not by stop().
      if (!this.stopped) this.host.error(new ClusterError(`node ${JSON.stringify(this.name)} lost its NATS connection for good${error === undefined ? '' : `: ${error.message}`}; the other nodes will be declared down`, { cause: error }));
    });
  }

  /**
   * Resolves once the server has every subscription this node made so far: a flush (PING, then its
   * PONG) is answered only after the server has read what was written before it. A flush cut by a
   * disconnect is tried again on the next connection (the client subscribes again on reconnect,
   * before anything else it writes); a node that leaves the cluster first rejects with ClusterError.
   */
  private async confirmSubscriptions(still: () => boolean): Promise<void> {
    for (;;) {
      if (!still()) return;
      if (this.stopped || this.nc.isClosed()) throw new ClusterError(`node ${JSON.stringify(this.name)} left the cluster before the server confirmed its subscription`);
      try {
        // Raced with the close: a client that closes (stop(), or given up for good) leaves a
        // pending flush unsettled forever.
        if ((await Promise.race([this.nc.flush().then(() => true), this.nc.closed().then(() => false)])) && still()) return;
      } catch {
        // Disconnected before the PONG (the client rejects pending flushes on each new dial): try
        // again; each attempt waits for the next dial, so this is paced by the reconnect interval.
      }
    }
  }

  /**
   * The client's connection events: a drop is a nodedown of every other node (see the module
   * comment); the reconnect says hello, so the others answer at once. Never rejects.
   */
  private async followStatus(): Promise<void> {
    try {
      for await (const status of this.nc.status()) {
        if (this.stopped) return;
        if (status.type === 'disconnect') this.disconnected();
        else if (status.type === 'reconnect') this.reconnected();
      }
    } catch {
      // the connection closed: `closed()` reports it
    }
  }

  private disconnected(): void {
    if (this.stopped || this.offline) return;
    this.offline = true;
    this.membership.disconnected();
    // tasks to 'any' no node took yet: no node is reachable now
    this.calls.disconnected((what) => new NodeDownError(`node ${JSON.stringify(this.name)} lost its NATS connection before a node took ${what} (noconnection)`, this.name, 'noconnection'));
  }

  private reconnected(): void {
    if (this.stopped) return;
    this.offline = false;
    this.membership.reconnected();
    this.globals?.reassert();
  }

  /**
   * Another process took this node's name (this one was paused past `downAfter`, say): as a node
   * whose connection is gone, it declares every other node down, then leaves the cluster; the
   * system runs on without it, and says so ('clusterError').
   */
  private lostName(holder: number | undefined): void {
    if (this.stopped) return;
    this.host.error(new ClusterError(`node ${JSON.stringify(this.name)} lost its name to another process${holder === undefined ? '' : ` (life ${holder})`}: it was not heard from for downAfter (${this.options.downAfter} ms); this process leaves the cluster`));
    this.membership.disconnected();
    void this.stop();
  }

  /** True until `start` has returned: a refused subscription then fails the start. */
  private joining = true;
  private refusedWhileJoining: ClusterError | undefined;

  /**
   * A subscription's callback. The NATS client calls it with an error when the subscription ends
   * against this node's will (the server refused it: permissions): this node no longer hears that
   * subject, and the system says so ('clusterError').
   */
  private listener(what: string, onMessage: (data: Uint8Array, sender: string) => void): (error: Error | null, message: { data: Uint8Array; subject: string }) => void {
    return (error, message) => {
      if (error === null) {
        try {
          onMessage(message.data, senderOf(message.subject));
        } catch (thrown) {
          // From a listener of an event this emitted (nodeup, deadLetter…): it must not end the
          // client's reading, which calls this; it is thrown again, out of the client's way.
          queueMicrotask(() => {
            throw thrown;
          });
        }
        return;
      }
      const refused = new ClusterError(`node ${JSON.stringify(this.name)} stopped hearing ${what}: ${error.message}`, { cause: error });
      if (this.joining) this.refusedWhileJoining ??= refused;
      else this.host.error(refused);
    };
  }

  // ── membership ────────────────────────────────────────────────────────────────────────────────

  /** The nodes up now, this one among them, in name order (the same list on every node). */
  nodes(): string[] {
    return [this.name, ...this.membership.names()].sort();
  }

  isUp(node: string): boolean {
    return node === this.name || this.membership.creationOf(node) !== undefined;
  }

  /**
   * Resolves once `node` is up (at once if it is); rejects after `timeout` ms with ClusterError, or
   * (`forRequest`: a spawn, look-up or task that needs the node) NodeDownError.
   */
  reach(node: string, timeout: number, forRequest = false): Promise<void> {
    if (this.isUp(node)) return Promise.resolve();
    if (this.stopped) return Promise.reject(new ClusterError(`node ${JSON.stringify(this.name)} has left the cluster`));
    return new Promise((resolve, reject) => {
      let waiters = this.upWaiters.get(node);
      if (waiters === undefined) this.upWaiters.set(node, (waiters = new Set()));
      // Called with nothing when the node comes up, with an error when this node stops first.
      const done = (error?: ClusterError): void => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        if (waiters.size === 0 && this.upWaiters.get(node) === waiters) this.upWaiters.delete(node);
        const message = `node ${JSON.stringify(node)} is not up in cluster ${JSON.stringify(this.cluster)} (waited ${timeout} ms); up: ${this.nodes().join(', ')}`;
        reject(forRequest ? new NodeDownError(`${message} (noconnection)`, node, 'noconnection') : new ClusterError(message));
      }, Math.min(timeout, 2 ** 31 - 1)).unref(); // the caller's own wait holds nothing open
      waiters.add(done);
    });
  }

  private up(node: string): void {
    this.host.nodeUp(node);
    const waiters = this.upWaiters.get(node);
    this.upWaiters.delete(node);
    for (const done of waiters ?? []) done();
  }

  /** A node went down: everything that waited on it or watched it hears, as Erlang's nodedown. */
  private down(node: string, creation: number, why: NodeDownWhy): void {
    this.outbox.drop(this.inbox(node));
    this.inboxes.delete(node); // what this node keeps per peer lives only while the peer is up
    this.calls.nodeDown(node, creation, why);
    const { downs, watchedFrom, links } = this.watches.nodeDown(node, creation);
    for (const { thread, mref, target } of downs) this.runtime.downFromAfar(thread, mref, target, 'noconnection');
    for (const { ref, listener } of watchedFrom) this.runtime.demonitorFrom(listener, ref);
    for (const [local, remote] of links) this.runtime.exitSignal(local, remote, 'noconnection', true);
    // A lost connection is not a lost node: its actors live on and keep their names.
    if (why !== 'noconnection') this.globals?.freeNode(node, creation);
    this.host.nodeDown(node, why);
  }

  /** A thread of this node went down: the other nodes' side of its actors' links and monitors. */
  threadDown(thread: number, reason: ExitReason): void {
    this.calls.forgetThread(thread);
    for (const key of [...this.threadCalls.keys()]) if (key % 1024 === thread) this.threadCalls.delete(key); // threadKey's thread part

    const { unwatched, links } = this.watches.threadDown(thread);
    for (const [id, target] of unwatched) this.toNode(target.node, [WireOp.DEMONITOR, target, id]);
    for (const [local, remote] of links) this.sendExit(remote, local, reason, true);
  }

  // ── from this node's threads (Kind.REMOTE, or main's own runtime) ─────────────────────────────

  /**
   * A thread of this node sent something to an actor on another node. From main (thread 0) an
   * op that cannot travel throws (the caller's call rejects with it); from a shard it already
   * travelled once, and any failure goes back to the caller as its call's rejection.
   */
  fromThread(thread: number, envelope: RemoteEnvelope): void {
    try {
      this.route(thread, envelope);
    } catch (error) {
      if (thread === 0) throw error;
      if (envelope[0] === RemoteOp.CALL) this.runtime.replyError(thread, envelope[2], error);
      else if (envelope[0] === RemoteOp.SPAWN) this.runtime.replyError(thread, envelope[1], error);
      else if (envelope[0] === RemoteOp.CAST || envelope[0] === RemoteOp.SEND) this.host.deadLetter(envelope[1], envelope[0] === RemoteOp.CAST ? 'cast' : 'send', envelope[2]);
    }
  }

  private route(thread: number, envelope: RemoteEnvelope): void {
    switch (envelope[0]) {
      case RemoteOp.CAST:
      case RemoteOp.SEND: {
        const [op, to, body] = envelope;
        if (!this.reachable(to)) this.host.deadLetter(to, op === RemoteOp.CAST ? 'cast' : 'send', body);
        else this.toNode(to.node, [op === RemoteOp.CAST ? WireOp.CAST : WireOp.SEND, to.thread, to.serial, body]);
        return;
      }
      case RemoteOp.CALL: {
        const [, to, ref, timeout, body] = envelope;
        const runtime = this.runtime;
        const key = threadKey(thread, ref);
        const id = this.call(
          to.node,
          to,
          timeout,
          body,
          (ok, value) => {
            this.threadCalls.delete(key);
            if (ok) runtime.reply(thread, ref, value);
            else runtime.replyError(thread, ref, value);
          },
          thread,
        );
        if (id !== undefined) this.threadCalls.set(key, id);
        return;
      }
      case RemoteOp.CALL_ABORT: {
        const [, , ref] = envelope;
        const id = this.threadCalls.get(threadKey(thread, ref));
        if (id !== undefined) this.abortCall(id);
        return;
      }
      case RemoteOp.LINK: {
        const [, target, from] = envelope;
        if (!this.reachable(target)) {
          this.runtime.exitSignal(from, target, 'noconnection', true);
          return;
        }
        this.watches.link(from, target);
        this.toNode(target.node, [WireOp.LINK, target, from]);
        return;
      }
      case RemoteOp.UNLINK: {
        const [, target, from] = envelope;
        this.watches.unlink(from, target);
        if (this.reachable(target)) this.toNode(target.node, [WireOp.UNLINK, target, from]);
        return;
      }
      case RemoteOp.EXIT: {
        const [, target, from, reason, linked] = envelope;
        if (linked) this.watches.unlink(from, target);
        this.sendExit(target, from, reason as ExitReason, linked);
        return;
      }
      case RemoteOp.MONITOR: {
        const [, target, mref] = envelope;
        if (!this.reachable(target)) {
          this.runtime.downFromAfar(thread, mref, target, 'noconnection');
          return;
        }
        this.toNode(target.node, [WireOp.MONITOR, target, this.watches.watchOut(thread, mref, target)]);
        return;
      }
      case RemoteOp.DEMONITOR: {
        const [, target, mref] = envelope;
        const id = this.watches.unwatchOut(thread, mref);
        if (id !== undefined && this.reachable(target)) this.toNode(target.node, [WireOp.DEMONITOR, target, id]);
        return;
      }
      case RemoteOp.SPAWN: {
        const [, ref, node, module, args, name, placement, timeout] = envelope;
        const runtime = this.runtime;
        this.spawn(node, module, args, name, false, placement ?? undefined, timeout).then(
          (pid) => runtime.reply(thread, ref, pid),
          (error: unknown) => runtime.replyError(thread, ref, error),
        );
        return;
      }
    }
  }

  // ── main's API ────────────────────────────────────────────────────────────────────────────────

  /**
   * A call to `to` (a pid, or a name) on `node`; `settle` gets the reply or the error. A node that
   * is not up (or a pid of an earlier life of it) fails at once with NodeDownError, as a call to a
   * lost node does in Erlang (`noconnection`). Throws EncodeError for a body that cannot travel.
   */
  call(node: string, to: Pid | string, timeout: number, body: unknown, settle: Settle, thread = -1): number | undefined {
    if (this.stopped) {
      settle(false, this.gone(`a call to ${describeTarget(to, node)}`));
      return undefined;
    }
    const creation = this.membership.creationOf(node);
    if (creation === undefined || (to instanceof Pid && to.creation !== creation)) {
      settle(false, this.unreachable(node, to));
      return undefined;
    }
    const id = this.calls.add(node, creation, thread, timeout, settle, `a call to ${describeTarget(to, node)}`);
    try {
      this.toNode(node, to instanceof Pid ? [WireOp.CALL, to.thread, to.serial, id, timeout, body] : [WireOp.CALL, to, 0, id, timeout, body]);
    } catch (error) {
      this.calls.forget(id);
      throw error;
    }
    return id;
  }

  /**
   * The caller of call `id` (what `call` returned) aborted it: the node that has it is told
   * (WireOp.CALL_ABORT, on the usual subject to that node, so no new permission), and there its
   * actor's `ctx.signal` aborts. The request stays until that node answers (with the AbortError),
   * so a caller's own wait ends as it would have. Never throws (it runs from an abort listener).
   */
  abortCall(id: number): void {
    const node = this.calls.nodeOf(id);
    if (node === undefined || this.stopped) return;
    try {
      this.toNode(node, [WireOp.CALL_ABORT, id]);
    } catch {
      // The connection is gone: so is the call, and its node's nodedown will end the wait.
    }
  }

  /** Calls of this node's threads waiting for another node's answer, by `threadKey(thread, ref)`: their call ids, for an abort. */
  private readonly threadCalls = new Map<number, number>();
  /** Calls other nodes made here that are being handled, by `<node>#<creation>#<callId>`: aborted by that node's CALL_ABORT. */
  private readonly incomingCalls = new Map<string, AbortController>();

  /** A cast or send to the actor named `name` on `node` (dropped, and counted, if it is not up). */
  postNamed(to: RemoteName, kind: 'cast' | 'send', body: unknown): void {
    if (!this.isUp(to.node)) this.host.deadLetter(to, kind, body);
    else this.toNode(to.node, [kind === 'cast' ? WireOp.CAST : WireOp.SEND, to.name, 0, body]);
  }

  /** Starts an actor on `node` and resolves with its pid. */
  async spawn(node: string, module: string, args: unknown, name: string | null, global: boolean, thread: Placement | undefined, timeout: number): Promise<Pid> {
    await this.reach(node, this.options.downAfter, true);
    return (await this.request(node, timeout, `a spawn of ${module} on node ${JSON.stringify(node)}`, (id) => [WireOp.SPAWN, id, module, args, name, thread ?? null, timeout, global])) as Pid;
  }

  /** The pid registered as `name` on `node`, if any. */
  async whereis(node: string, name: string, timeout: number): Promise<Pid | undefined> {
    await this.reach(node, this.options.downAfter, true);
    const pid = await this.request(node, timeout, `whereis(${JSON.stringify(name)}) on node ${JSON.stringify(node)}`, (id) => [WireOp.WHEREIS, id, name]);
    return (pid as Pid | null) ?? undefined;
  }

  private request(node: string, timeout: number, what: string, op: (id: number) => unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(this.gone(what));
      const creation = this.membership.creationOf(node);
      if (creation === undefined) {
        reject(this.unreachable(node, undefined));
        return;
      }
      const id = this.calls.add(node, creation, -1, timeout, (ok, value) => (ok ? resolve(value) : reject(value)), what);
      try {
        this.toNode(node, op(id));
      } catch (error) {
        this.calls.forget(id);
        reject(error);
      }
    });
  }

  // ── from other nodes ──────────────────────────────────────────────────────────────────────────

  /**
   * A batch on this node's inbox. Only batches of this cluster sent to this life of the node are
   * read (a namesake that failed to start, or this node's next life, hears the old life's traffic
   * and must not act on it). What it sends to this node's threads goes out in one publish per ring.
   */
  private received(bytes: Uint8Array, sender: string): void {
    this.runtime.endpoint.corkedAround(() => {
      let from: BatchHeader | undefined;
      try {
        readBatch(
          bytes,
          (header) => {
            // Only members speak: a sender this node has not seen join (hello or beat) in that
            // life gets nothing, not even an answer, and leaves nothing behind (no batch writer).
            // And a batch speaks only for the node whose subject it came on (the server may vouch for that).
            if (header.from !== sender || header.cluster !== this.cluster || header.toCreation !== this.creation || !this.isMember(header.from, header.fromCreation)) {
              this.dropForeign();
              return false;
            }
            from = header;
            return true;
          },
          (op) => this.handleSafely(from!, op),
        );
      } catch {
        this.dropForeign();
      }
    });
  }

  /** One op; whatever it throws (a listener of an event it emits, say) ends only that op. */
  private handleSafely(from: BatchHeader, op: unknown[]): void {
    try {
      this.handle(from, op);
    } catch {
      this.dropForeign();
    }
  }

  /** One op of a batch from node `from`. */
  private handle(from: BatchHeader, op: unknown[]): void {
    const runtime = this.runtime;
    switch (op[0]) {
      case WireOp.CAST:
      case WireOp.SEND: {
        const [kind, to, serial, body] = op;
        const pid = this.target(from, to, serial);
        const what = kind === WireOp.CAST ? 'cast' : 'send';
        if (pid === undefined) {
          this.host.deadLetter(typeof to === 'string' ? { name: to, node: this.name } : new Pid(this.name, Number(to), Number(serial), from.toCreation), what, body);
          return;
        }
        try {
          // From the network: a refusal here could not reach the sender, so backpressure does not apply.
          runtime.control(pid, kind === WireOp.CAST ? Kind.CAST : Kind.INFO, body);
        } catch {
          this.host.deadLetter(pid, what, body); // a thread number this node does not have
        }
        return;
      }
      case WireOp.CALL: {
        const [, to, serial, id, timeout, body] = op;
        if (typeof id !== 'number' || typeof timeout !== 'number' || !(timeout >= 0)) return this.dropForeign();
        const pid = this.target(from, to, serial);
        if (pid === undefined) {
          const what = typeof to === 'string' ? `${JSON.stringify(to)} on node ${JSON.stringify(this.name)}: no actor has that name here` : `<${this.name}.${String(to)}.${String(serial)}>: it is not of this node's present life`;
          this.answer(from, id, false, new NoProcError(`no actor ${what}`));
          return;
        }
        // The caller's node may abort it (WireOp.CALL_ABORT): the call is made with a signal for that.
        // Its timeout needs no word from there: the call runs with it here, and this timer aborts ctx.signal.
        const key = `${from.from}#${from.fromCreation}#${id}`;
        const controller = new AbortController();
        this.incomingCalls.set(key, controller);
        runtime.call(pid, body, Math.min(timeout, this.options.maxRemoteTimeout), controller.signal).then(
          (value) => {
            this.incomingCalls.delete(key);
            this.answer(from, id, true, value);
          },
          (error: unknown) => {
            this.incomingCalls.delete(key);
            this.answer(from, id, false, error);
          },
        );
        return;
      }
      case WireOp.CALL_ABORT: {
        const [, id] = op;
        if (typeof id !== 'number') return this.dropForeign();
        // Keyed by the sender the subject names: a node can abort only the calls it made itself.
        this.incomingCalls.get(`${from.from}#${from.fromCreation}#${id}`)?.abort(new AbortError(`the caller on node ${JSON.stringify(from.from)} aborted the call`));
        return;
      }
      case WireOp.REPLY:
      case WireOp.REPLY_ERROR:
        if (typeof op[1] === 'number') this.calls.settle(op[1], op[0] === WireOp.REPLY, op[2], from.from);
        return;
      case WireOp.ACCEPTED:
        if (typeof op[1] === 'number') this.calls.accepted(op[1], from.from, from.fromCreation);
        return;
      case WireOp.LINK:
      case WireOp.UNLINK: {
        const [kind, target, other] = op;
        if (!(target instanceof Pid) || !(other instanceof Pid) || other.node !== from.from || other.creation !== from.fromCreation) return this.dropForeign();
        if (kind === WireOp.LINK && !this.heard(from)) {
          // a life this node does not know to be up would never be declared down here: refuse
          this.toInbox(from.from, from.fromCreation, [WireOp.EXIT, other, target, 'noconnection', true]);
          return;
        }
        if (kind === WireOp.UNLINK) {
          this.watches.unlink(target, other);
          if (runtime.isLocal(target)) runtime.link(target, other, false);
        } else if (!runtime.isLocal(target)) {
          this.sendExit(other, target, 'noproc', true);
        } else {
          this.watches.link(target, other);
          runtime.link(target, other, true);
        }
        return;
      }
      case WireOp.EXIT: {
        const [, target, other, reason, linked] = op;
        // an exit signal comes from an actor of the node that sent it, never on another's behalf
        if (!(target instanceof Pid) || !(other instanceof Pid) || other.node !== from.from || other.creation !== from.fromCreation) return this.dropForeign();
        if (linked === true) this.watches.unlink(target, other);
        if (runtime.isLocal(target)) runtime.exitSignal(target, other, reason as ExitReason, linked === true);
        return;
      }
      case WireOp.MONITOR: {
        const [, target, watchId] = op;
        if (!(target instanceof Pid) || typeof watchId !== 'number') return this.dropForeign();
        if (!runtime.isLocal(target) || !this.heard(from)) {
          this.toInbox(from.from, from.fromCreation, [WireOp.DOWN, watchId, target, runtime.isLocal(target) ? 'noconnection' : 'noproc']);
          return;
        }
        let open = true;
        const listener = ({ pid, reason }: { pid: Pid; reason: unknown }): void => {
          open = false;
          this.watches.unwatchIn(from.from, from.fromCreation, watchId);
          this.sendDown(from, watchId, pid, reason);
        };
        const ref = runtime.monitorFrom(listener, target);
        // monitorFrom may have answered at once ('noproc', on main): only a watch still open is kept
        if (open) this.watches.watchIn({ node: from.from, creation: from.fromCreation, watchId, listener, ref });
        return;
      }
      case WireOp.DEMONITOR: {
        const [, , watchId] = op;
        if (typeof watchId !== 'number') return this.dropForeign();
        const watch = this.watches.unwatchIn(from.from, from.fromCreation, watchId);
        if (watch !== undefined) runtime.demonitorFrom(watch.listener, watch.ref);
        return;
      }
      case WireOp.DOWN: {
        const [, watchId, pid, reason] = op;
        if (typeof watchId !== 'number' || !(pid instanceof Pid) || pid.node !== from.from) return this.dropForeign();
        const watch = this.watches.downOut(watchId, pid);
        if (watch !== undefined) runtime.downFromAfar(watch.thread, watch.mref, pid, reason as ExitReason);
        return;
      }
      case WireOp.SPAWN: {
        const [, id, module, args, name, thread, timeout, global] = op;
        if (typeof id !== 'number' || typeof module !== 'string' || typeof timeout !== 'number' || !(timeout >= 0)) return this.dropForeign();
        if (!module.startsWith('file:')) {
          // Only modules on this machine's disk: a data: or http: URL from the wire would be code from anyone who can publish.
          this.answer(from, id, false, new SpawnError(`node ${JSON.stringify(this.name)} spawns only file: modules, got: ${describeValue(module)}`));
          return;
        }
        // Checked before anything is imported: a module's top-level code runs on import.
        if (!this.options.allowSpawn(module)) {
          this.answer(from, id, false, new SpawnError(`node ${JSON.stringify(this.name)} does not spawn ${module} for other nodes (see node.allowSpawn)`));
          return;
        }
        this.host.spawn(module, args, typeof name === 'string' ? name : null, global === true, (thread ?? undefined) as Placement | undefined, Math.min(timeout, this.options.maxRemoteTimeout)).then(
          (pid) => this.answer(from, id, true, pid),
          (error: unknown) => this.answer(from, id, false, error),
        );
        return;
      }
      case WireOp.WHEREIS: {
        const [, id, name] = op;
        if (typeof id !== 'number' || typeof name !== 'string') return this.dropForeign();
        this.answer(from, id, true, this.host.whereis(name) ?? null);
        return;
      }
      default:
        this.dropForeign();
    }
  }

  /**
   * The local actor a message op names: a registered name, or `(thread, serial)` of this node's
   * present life (the batch was sent to it: its `toCreation` is this node's creation).
   */
  private target(from: BatchHeader, to: unknown, serial: unknown): Pid | undefined {
    if (typeof to === 'string') return this.host.whereis(to);
    if (typeof to !== 'number' || typeof serial !== 'number' || from.toCreation !== this.creation) return undefined;
    return this.runtime.pid(to, serial);
  }

  // ── sending ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Sends a reply (or the error) to the node that asked. A reply that cannot travel (EncodeError,
   * or larger than the server takes) becomes that error; an error that cannot travel, its description.
   */
  private answer(to: BatchHeader, id: number, ok: boolean, value: unknown): void {
    try {
      this.toInbox(to.from, to.fromCreation, [ok ? WireOp.REPLY : WireOp.REPLY_ERROR, id, value]);
    } catch (error) {
      try {
        this.toInbox(to.from, to.fromCreation, [WireOp.REPLY_ERROR, id, ok && isWeftError(error) ? error : new Error(describeReason(ok ? error : value))]);
      } catch {
        // nothing more can be said: the caller's timeout, or its node's view of ours, ends its wait
      }
    }
  }

  /** True for this node's present life, or another node's life this node knows to be up. */
  private isMember(node: string, creation: number): boolean {
    return node === this.name ? creation === this.creation : this.membership.creationOf(node) === creation;
  }

  /** True when the sender of a batch is a node life this node knows to be up. */
  private heard(from: BatchHeader): boolean {
    return this.membership.creationOf(from.from) === from.fromCreation;
  }

  private sendDown(to: BatchHeader, watchId: number, pid: Pid, reason: unknown): void {
    this.withReason(reason, (sent) => this.toInbox(to.from, to.fromCreation, [WireOp.DOWN, watchId, pid, sent]));
  }

  private sendExit(target: Pid, from: Pid, reason: ExitReason, linked: boolean): void {
    if (!this.reachable(target)) return;
    this.withReason(reason, (sent) => this.toNode(target.node, [WireOp.EXIT, target, from, sent, linked]));
  }

  /**
   * Sends an op carrying an exit reason: the reason itself, or if it cannot travel (a class
   * instance, or too large) its description, or (that too refused) nothing: these run inside the
   * runtime's delivery of a DOWN or an exit, where a throw would reach an actor or main's loop.
   */
  private withReason(reason: unknown, send: (reason: unknown) => void): void {
    try {
      send(reason);
    } catch {
      try {
        send(describeReason(reason).slice(0, 4096));
      } catch {
        this.publishFailures++;
      }
    }
  }

  /** An op for node `node` as it lives now. */
  private toNode(node: string, op: unknown[]): void {
    this.outbox.add(this.inbox(node), this.membership.creationOf(node) ?? 0, op);
  }

  private toInbox(node: string, creation: number, op: unknown[]): void {
    if (this.stopped) return;
    if (node === this.name && creation === this.creation) {
      // This node answering itself (a task of 'any' NATS gave back to its sender): no message, none to lose.
      this.handleSafely(this.selfHeader, op);
      return;
    }
    this.outbox.add(this.inbox(node), creation, op);
  }

  private get selfHeader(): BatchHeader {
    return { cluster: this.cluster, from: this.name, fromCreation: this.creation, toCreation: this.creation };
  }

  /** Node `node`'s subject from this node (kept: a string made afresh would be hashed afresh by every Map lookup). */
  private inbox(node: string): string {
    let subject = this.inboxes.get(node);
    if (subject === undefined) this.inboxes.set(node, (subject = `${this.prefix}.n.${node}.${this.name}`));
    return subject;
  }

  /** True when `pid`'s node is up in the life the pid is from. */
  private reachable(pid: Pid): boolean {
    return this.membership.creationOf(pid.node) === pid.creation;
  }

  /** True while another node's `holder` (in its life) is up, or may be: right after start this node may not have heard everyone yet. */
  private holderAlive(holder: Pid): boolean {
    if (holder.node === this.name) return false; // an earlier life of this node: this one runs now
    return this.reachable(holder) || (this.membership.creationOf(holder.node) === undefined && Date.now() - this.startedAt < this.options.downAfter);
  }

  private unreachable(node: string, to: Pid | string | undefined): NodeDownError {
    const why = this.offline ? 'noconnection' : to instanceof Pid && this.membership.creationOf(node) !== undefined ? 'restarted' : 'timeout';
    const what = to === undefined ? '' : ` for ${describeTarget(to, node)}`;
    return new NodeDownError(`node ${JSON.stringify(node)} is not up${what} (${why}); up: ${this.nodes().join(', ')}`, node, why);
  }

  private publish(subject: string, bytes: Uint8Array): void {
    if (this.nc.isClosed() || this.nc.isDraining()) return; // stopping: what is left goes nowhere, as to a lost node
    try {
      this.nc.publish(subject, bytes);
    } catch {
      // The client refused it (it is closing, or reconnecting with a full buffer): as a message to a
      // lost node, it is gone; calls in it end by their timeout or their node's nodedown.
      this.publishFailures++;
    }
  }

  /** See ClusterStats.publishFailures. */
  publishFailures = 0;

  private dropForeign(): void {
    this.foreign++;
    this.host.deadLetter(null, 'foreign', undefined);
  }

  /** What this node holds toward the others, for `system.stats()`. */
  stats(): ClusterStats {
    const { ops: opsSent, published: batchesSent } = this.outbox;
    return { node: this.name, creation: this.creation, nodes: this.nodes(), pendingRequests: this.calls.size, ...this.watches.counts(), foreign: this.foreign, opsSent, batchesSent, publishFailures: this.publishFailures, tasksHeld: this.tasks.held, tasksRefused: this.tasks.refused };
  }

  /** The error of a request made after this node left the cluster. */
  private gone(what: string): ClusterError {
    return new ClusterError(`node ${JSON.stringify(this.name)} has left the cluster: ${what} was not sent`);
  }

  /** Global names, or why there are none. */
  names(): GlobalNames {
    if (this.globals !== undefined) return this.globals;
    throw new ClusterError(this.globalsError === undefined ? 'global names are off (node.globalNames: false)' : this.globalsError.message, { cause: this.globalsError });
  }

  // ── stop ──────────────────────────────────────────────────────────────────────────────────────

  /** Says goodbye, sends what is waiting, and closes the connection. Waits still open reject. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweeper);
    this.outbox.flush(); // the last replies and exits go before the goodbye
    this.membership.stop();
    for (const [node, waiters] of [...this.upWaiters]) for (const done of waiters) done(new ClusterError(`node ${JSON.stringify(this.name)} left the cluster before node ${JSON.stringify(node)} came up`));
    this.upWaiters.clear();
    this.globals?.stop();
    this.calls.rejectAll(() => new ClusterError(`node ${JSON.stringify(this.name)} left the cluster before the answer came`));
    // The name goes back (a restart under it need not wait), unless the server is away: then it lapses.
    if (this.lease !== undefined) {
      if (this.offline) this.lease.stop();
      else await Promise.race([this.lease.release(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    // A drain waits for the server to confirm each unsubscribe; a connection that is reconnecting
    // (or a JetStream watch resubscribing) may never confirm: after DRAIN_MS it is closed instead,
    // so a stopped node's process can always exit.
    const drained = this.nc.drain().then(
      () => true,
      () => false,
    );
    const inTime = await Promise.race([drained, new Promise<false>((resolve) => setTimeout(() => resolve(false), DRAIN_MS).unref())]);
    if (!inTime || !this.nc.isClosed()) await Promise.race([this.nc.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
  }
}

/** The node a subject is published by: its last token (see the module comment). */
export function senderOf(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}

function describeTarget(to: unknown, node: string): string {
  if (typeof to === 'string') return `${JSON.stringify(to)} on node ${JSON.stringify(node)}`;
  return to instanceof Pid ? String(to) : describeValue(to);
}

function describeServers(servers: string | string[] | undefined): string {
  if (servers === undefined) return 'the default server, 127.0.0.1:4222';
  return Array.isArray(servers) ? servers.join(', ') : servers;
}

/** The ports of the NATS servers named in the connection options (4222 where none is given). */
function serverPorts(servers: string | string[] | undefined): Set<number> {
  const ports = new Set<number>();
  for (const server of servers === undefined ? ['127.0.0.1:4222'] : Array.isArray(servers) ? servers : [servers]) {
    const match = /:(\d+)\/?$/.exec(server.trim());
    ports.add(match === null ? 4222 : Number(match[1]));
  }
  return ports;
}
