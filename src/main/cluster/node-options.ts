/**
 * `start({ node })`: what makes a system one node of a cluster. Only the types of the NATS client
 * are named here; the client itself is imported when a system with `node` starts, so a system
 * without it loads nothing of NATS.
 */
import type { NatsConnectOptions } from './nats-types.js';
import { InvalidArgumentError, describeValue } from '../../shm/errors.js';

export interface NodeOptions {
  /**
   * This node's name, unique in its cluster while it runs; pids of its actors carry it. Letters,
   * digits, `_` and `-` (it is a NATS subject token).
   * @example 'a'
   */
  name: string;
  /**
   * The NATS connection, passed to `@nats-io/transport-node`'s `connect` as it is: `servers`,
   * `user`/`pass`, `token`, `authenticator` (nkeys, creds), `tls`, reconnect settings. Reconnects are
   * the client's. weft sets only `name` (to `weft:<cluster>:<node>`) where you did not.
   * @example { servers: 'nats://127.0.0.1:4222' }
   */
  nats: NatsConnectOptions;
  /**
   * Nodes talk only to nodes of the same cluster: its name prefixes every subject weft uses
   * (`weft.<cluster>.…`). Letters, digits, `_` and `-`.
   * @default 'weft'
   */
  cluster?: string;
  /**
   * How often this node tells the others it is alive, ms.
   * @default 500
   */
  heartbeat?: number;
  /**
   * A node not heard from for this long (ms) is down: calls to it reject with `NodeDownError`,
   * monitors of its actors fire with `'noconnection'`, links to them deliver the exit.
   * @default 2500
   */
  downAfter?: number;
  /**
   * Keep cluster-wide names (`spawn(…, { name, global: true })`, `whereisGlobal`) in a NATS KV
   * bucket, which needs JetStream on the server (`nats-server -js`). `false`: no global names.
   * @default true
   */
  globalNames?: boolean;
  /**
   * How long `runOn` waits for a task's result when its call gives no `timeout`, ms; then it
   * rejects with `CallTimeoutError` (the task may still run). `Infinity`: as long as the task runs
   * (its node's going down, or the loss of the connection to it, still ends the wait).
   * @default 60000
   */
  taskTimeout?: number;
  /**
   * Which modules other nodes may spawn here (`spawn(url, { node })` from afar): a list of module
   * URLs (strings or URL objects, compared as `file:` hrefs), or a predicate given each URL. A
   * spawn of any other module is refused with `SpawnError` at the caller, before anything is
   * imported: a module's top-level code runs on import, so spawning is running code. Only `file:`
   * modules are ever spawned from afar.
   * @default none: this node spawns nothing for other nodes
   * @example [new URL('./actors/worker.js', import.meta.url)]
   */
  allowSpawn?: readonly (string | URL)[] | ((url: string) => boolean);
  /**
   * The longest another node's call (or spawn) may wait on this node, ms: a longer timeout from
   * the wire, `Infinity` included, is cut to this, and the call then rejects at its caller with
   * `CallTimeoutError`. A caller's timeout is a request from outside; this node's timers are its own.
   * @default 60000
   */
  maxRemoteTimeout?: number;
  /**
   * The most tasks from other nodes (`runOn`) this node holds at once, running or waiting for a
   * thread: past it, a task is refused at once and its caller's `runOn` rejects with
   * `QueueFullError` (it may try another node). Tasks come from the network: without a bound, a
   * caller could fill this node's memory with tasks it cannot run.
   * @default 10000
   */
  maxQueue?: number;
  /**
   * How many servers keep a copy of weft's KV buckets (global names, node names), when weft makes
   * them: 3 on a JetStream cluster of three servers, so names outlive the loss of one. A bucket
   * that exists already keeps the replicas it was made with.
   * @default 1
   */
  replicas?: number;
}

export interface ResolvedNodeOptions {
  name: string;
  cluster: string;
  nats: NatsConnectOptions;
  heartbeat: number;
  downAfter: number;
  globalNames: boolean;
  taskTimeout: number;
  /** True for a module URL other nodes may spawn here (never throws). */
  allowSpawn: (url: string) => boolean;
  maxRemoteTimeout: number;
  maxQueue: number;
  replicas: number;
}

/** A NATS subject token, and a KV bucket name piece: what node and cluster names may be. */
export const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function resolveNodeOptions(options: unknown): ResolvedNodeOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`expected \`node\` to be an object { name, nats, cluster? }, got: ${describeValue(options)}`);
  const o = options as Partial<NodeOptions> & Record<string, unknown>;
  const known = ['name', 'nats', 'cluster', 'heartbeat', 'downAfter', 'globalNames', 'taskTimeout', 'allowSpawn', 'maxRemoteTimeout', 'maxQueue', 'replicas'];
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`unknown option \`node.${key}\`; accepted: ${known.join(', ')}, got: ${describeValue(o[key])}`);
  }
  const name = token('node.name', o.name);
  if (name === 'any') throw new InvalidArgumentError("`node.name` may not be 'any': `runOn('any', …)` means whichever node serves the module");
  const cluster = o.cluster === undefined ? 'weft' : token('node.cluster', o.cluster);
  if (typeof o.nats !== 'object' || o.nats === null) throw new InvalidArgumentError(`expected \`node.nats\` to be the NATS connection options ({ servers, … }), got: ${describeValue(o.nats)}`);
  const heartbeat = milliseconds('node.heartbeat', o.heartbeat ?? 500, 10);
  const downAfter = milliseconds('node.downAfter', o.downAfter ?? 2500, 2 * heartbeat);
  if (o.globalNames !== undefined && typeof o.globalNames !== 'boolean') throw new InvalidArgumentError(`expected \`node.globalNames\` to be a boolean, got: ${describeValue(o.globalNames)}`);
  const taskTimeout = o.taskTimeout === Infinity ? Infinity : milliseconds('node.taskTimeout', o.taskTimeout ?? 60_000, 1);
  return { name, cluster, nats: o.nats, heartbeat, downAfter, globalNames: o.globalNames ?? true, taskTimeout, allowSpawn: spawnPolicy(o.allowSpawn), maxRemoteTimeout: milliseconds('node.maxRemoteTimeout', o.maxRemoteTimeout ?? 60_000, 1), maxQueue: count('node.maxQueue', o.maxQueue ?? 10_000, 1), replicas: count('node.replicas', o.replicas ?? 1, 1) };
}

/** `node.allowSpawn` as a predicate that never throws (a predicate that throws refuses). */
function spawnPolicy(value: unknown): (url: string) => boolean {
  if (value === undefined) return () => false;
  if (typeof value === 'function') {
    const allowed = value as (url: string) => unknown;
    return (url) => {
      try {
        return allowed(url) === true;
      } catch {
        return false;
      }
    };
  }
  if (!Array.isArray(value)) throw new InvalidArgumentError(`expected \`node.allowSpawn\` to be a list of module URLs or a function (url) => boolean, got: ${describeValue(value)}`);
  const hrefs = new Set<string>();
  for (const entry of value as unknown[]) {
    let href: string | undefined;
    try {
      href = entry instanceof URL ? entry.href : typeof entry === 'string' ? new URL(entry).href : undefined;
    } catch {
      href = undefined;
    }
    if (href === undefined || !href.startsWith('file:')) throw new InvalidArgumentError(`expected every entry of \`node.allowSpawn\` to be a file: module URL (other nodes spawn only modules on this machine's disk), got: ${describeValue(entry)}`);
    hrefs.add(href);
  }
  return (url) => hrefs.has(url);
}

function token(what: string, value: unknown): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    throw new InvalidArgumentError(`expected \`${what}\` to be 1 to 64 letters, digits, \`_\` or \`-\` (a NATS subject token), got: ${describeValue(value)}`);
  }
  return value;
}

function count(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`expected \`${what}\` to be an integer from ${min} to ${2 ** 31 - 1}, got: ${describeValue(value)}`);
  }
  return value;
}

function milliseconds(what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`expected \`${what}\` to be a number of ms from ${min} to ${2 ** 31 - 1}, got: ${describeValue(value)}`);
  }
  return value;
}
