/**
 * A system as a node of a cluster (`start({ node })`): joining (src/main/cluster/ does the NATS
 * side), the nodes and their watches, global names, `serve` / `runOn`, and calls, casts and
 * spawns to `{ name, node }` on another node. Outside a cluster each of these is a ClusterError
 * (`joined`), and the cluster's code, NATS with it, is never imported.
 */
import { AbortError, AlreadyRegisteredError, CallTimeoutError, ClusterError, InvalidArgumentError, describeValue } from '../shm/errors.js';
import type { Pid } from '../shm/pid.js';
import type { Placement } from '../shm/placement.js';
import type { ExitReason } from '../common/actor.js';
import { checkSignal, onAbortWhileWaiting } from '../common/call-abort.js';
import type { ThreadRuntime } from '../common/runtime.js';
import { moduleUrl } from '../common/module-url.js';
import type { ResolvedNodeOptions } from './cluster/node-options.js';
import type { Registry } from './registry.js';
// Types only: the cluster's code (and NATS with it) is imported when a system with `node` starts.
import type { Cluster, ClusterHost, RemoteName } from './cluster/cluster.js';
import type { NodeDownWhy } from './cluster/membership.js';
import type { Unserve } from './cluster/remote-tasks.js';

/** What a cluster node needs of its system (src/main/system.ts). */
export interface NodeHost {
  /** Main's runtime (read when first needed: the system makes it after this). */
  runtime(): ThreadRuntime;
  readonly names: Registry;
  readonly callTimeout: number;
  /** Throws SystemStoppedError once the system is stopping (`what`: the refused operation). */
  checkOpen(what: string): void;
  closed(): boolean;
  /** Spawns on this node (`spawn` without `node`). */
  spawn(module: string, args: unknown, name: string | undefined, thread: Placement | undefined, timeout: number): Promise<Pid>;
  /** Runs a task on this node's shards (`system.run`). */
  run(module: string, exportName: string, args: unknown[]): Promise<unknown>;
  deadLetter(to: Pid | RemoteName | null, kind: 'cast' | 'send' | 'foreign', message: unknown): void;
  nodeUp(node: string): void;
  nodeDown(node: string, why: NodeDownWhy): void;
  error(error: ClusterError): void;
}

export class SystemCluster {
  private readonly host: NodeHost;
  /** The way to other nodes, once joined. */
  cluster: Cluster | undefined;
  /** Actors of this node holding a global name, by pid: freed when they exit. */
  readonly globalNames = new Map<string, { name: string; pid: Pid }>();
  private readonly options: ResolvedNodeOptions | undefined;

  constructor(host: NodeHost, options: ResolvedNodeOptions | undefined) {
    this.host = host;
    this.options = options;
  }

  /** Joins the cluster, if the system has a `node`. */
  async join(): Promise<void> {
    if (this.options === undefined) return;
    const { Cluster } = await import('./cluster/cluster.js');
    this.cluster = await Cluster.join(this.options, this.clusterHost());
  }

  /** The cluster, or a ClusterError for a system started without `node`. */
  joined(what: string): Cluster {
    this.host.checkOpen(what);
    if (this.cluster === undefined) throw new ClusterError(`cannot ${what}: this system is not a cluster node (start it with { node: { name, nats } })`);
    return this.cluster;
  }

  nodes(self: string): string[] {
    return this.cluster?.nodes() ?? [self];
  }

  async awaitNode(node: string, timeout: number | undefined): Promise<void> {
    await this.joined('awaitNode').reach(node, timeout ?? this.options!.downAfter);
  }

  /** Whether `node` is up (watches: see System.monitorNode). */
  isUp(node: string): boolean {
    return this.joined('monitorNode').isUp(node);
  }

  whereisGlobal(name: string): Pid | undefined {
    return this.joined('whereisGlobal').names().whereis(name);
  }

  whereisOn(name: string, node: string): Promise<Pid | undefined> {
    return this.joined('whereisOn').whereis(node, name, this.host.callTimeout);
  }

  serve(module: string | URL, options: { as?: string } | undefined): Unserve {
    const cluster = this.joined('serve');
    const url = moduleUrl(module);
    const as = options?.as ?? url;
    if (typeof as !== 'string' || as.length === 0) throw new InvalidArgumentError(`expected \`as\` to be a non-empty string, got: ${describeValue(as)}`);
    return cluster.tasks.serve(url, as);
  }

  async runOn(self: string, where: string | { node: string; timeout?: number }, module: string | URL, exportName: string, args: unknown[]): Promise<unknown> {
    const cluster = this.joined('runOn');
    const node = typeof where === 'string' ? where : where.node;
    const timeout = (typeof where === 'string' ? undefined : where.timeout) ?? this.options!.taskTimeout;
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) throw new InvalidArgumentError(`expected \`timeout\` to be a number of ms >= 0, got: ${describeValue(timeout)}`);
    const as = module instanceof URL ? module.href : module;
    const served = cluster.tasks.servedModule(as);
    const task = node === self && served !== undefined ? this.host.run(served, exportName, args) : cluster.tasks.run(node, as, exportName, args, timeout);
    if (timeout === undefined || timeout === Infinity) return task;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallTimeoutError(`a task of ${JSON.stringify(as)} (${exportName}) on ${node === 'any' ? 'any node' : `node ${JSON.stringify(node)}`} did not finish within ${timeout} ms`)), Math.min(timeout, 2 ** 31 - 1));
    });
    try {
      return await Promise.race([task, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts an actor on node `node` (its pid), or here with the cluster-wide `name` (`global`). */
  spawnOn(node: string, module: string, args: unknown, name: string | null, global: boolean, thread: Placement | undefined, timeout: number): Promise<Pid> {
    return this.joined('spawn on another node').spawn(node, module, args, name, global, thread, timeout);
  }

  /** Starts an actor here and gives it the cluster-wide `name`; if a live actor holds it, the new one is killed. */
  async spawnGlobal(module: string, args: unknown, name: string, thread: Placement | undefined, timeout: number): Promise<Pid> {
    const cluster = this.joined('spawn with a global name');
    const names = cluster.names();
    const holder = names.heldBy(name);
    if (holder !== undefined) throw new AlreadyRegisteredError(`the global name ${JSON.stringify(name)} is taken by ${holder}`);
    const runtime = this.host.runtime();
    const pid = await runtime.spawnOn(runtime.place(thread), module, args, timeout);
    try {
      await names.register(name, pid);
    } catch (error) {
      runtime.exitSignal(pid, pid, 'kill');
      throw error;
    }
    this.globalNames.set(String(pid), { name, pid });
    return pid;
  }

  /**
   * A call to `{ name, node }` on another node (see System.call); `timeout` in ms, already checked.
   * An abort rejects it here and aborts the actor's `ctx.signal` there (Cluster.abortCall).
   */
  call(to: RemoteName, msg: unknown, timeout: number, signal: AbortSignal | undefined): Promise<unknown> {
    let call: Promise<unknown>;
    let callId: number | undefined;
    try {
      if (checkSignal(signal)?.aborted === true) throw new AbortError(`the call to ${JSON.stringify(to.name)} on node ${JSON.stringify(to.node)} was aborted before it was sent`, { cause: signal!.reason });
      call = this.callAfar(to, msg, timeout, (id) => (callId = id));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal === undefined) return call;
    return new Promise((resolve, reject) => {
      call.then(resolve, reject);
      onAbortWhileWaiting(signal, call, () => {
        reject(new AbortError(`the call to ${JSON.stringify(to.name)} on node ${JSON.stringify(to.node)} was aborted`, { cause: signal.reason }));
        if (callId !== undefined) this.cluster?.abortCall(callId); // its actor's ctx.signal aborts there
      });
    });
  }

  /** A cast or send to `{ name, node }` on another node. */
  post(to: RemoteName, kind: 'cast' | 'send', msg: unknown): void {
    this.joined(kind).postNamed(to, kind, msg);
  }

  /** Shard `thread` went down: the cluster forgets its actors' links and monitors, and their global names are freed. */
  threadDown(thread: number, reason: ExitReason): void {
    this.cluster?.threadDown(thread, reason);
    // Actors that die with their thread send no EXITED: free their global names here.
    for (const [key, { name, pid }] of [...this.globalNames]) {
      if (pid.thread !== thread) continue;
      this.globalNames.delete(key);
      this.cluster?.globals?.unregister(name, pid);
    }
  }

  async stop(): Promise<void> {
    await this.cluster?.stop();
  }

  /** A call through the cluster; `sent` gets its call id (see Cluster.abortCall). */
  private callAfar(to: RemoteName, msg: unknown, timeout: number, sent: (id: number | undefined) => void): Promise<unknown> {
    const ms = timeout;
    return new Promise((resolve, reject) => {
      const timer = ms === Infinity ? undefined : setTimeout(() => reject(new CallTimeoutError(`call to ${JSON.stringify(to.name)} on node ${JSON.stringify(to.node)} got no reply within ${ms} ms`)), ms);
      try {
        sent(this.joined('call').call(to.node, to.name, ms, msg, (ok, value) => {
          clearTimeout(timer);
          if (ok) resolve(value);
          else reject(value);
        }));
      } catch (error) {
        clearTimeout(timer);
        throw error;
      }
    });
  }

  /** What the cluster asks of this system. */
  private clusterHost(): ClusterHost {
    const { host } = this;
    const runtime = host.runtime();
    return {
      runtime,
      spawn: async (module, args, name, global, thread, timeout) => {
        if (global && name !== null) return this.spawnGlobal(module, args, name, thread, timeout);
        return host.spawn(module, args, name ?? undefined, thread, timeout);
      },
      // `{ name, node }` from afar finds this node's names, then the global names its actors hold
      whereis: (name) => {
        const global = this.cluster?.globals?.whereis(name);
        return host.names.whereis(name) ?? (global !== undefined && runtime.isLocal(global) ? global : undefined);
      },
      run: (module, exportName, args) => host.run(module, exportName, args),
      stopping: () => host.closed(),
      deadLetter: (to, kind, message) => host.deadLetter(to, kind, message),
      nodeUp: (node) => host.nodeUp(node),
      nodeDown: (node, why) => host.nodeDown(node, why),
      error: (error) => host.error(error),
    };
  }
}
