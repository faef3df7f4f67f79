/**
 * One process per node name, decided by the NATS server rather than by who hears whom: a node
 * holds its name as a key of the KV bucket `weft_<cluster>_nodes` (JetStream), taken by `create`
 * (the server writes it only if the key is absent) and renewed every `renewEvery` ms by `update`
 * on the revision it last wrote (compare-and-set). Heartbeats cannot decide this: a node paused
 * for half a second (GC, a busy main thread, SIGSTOP) hears nothing and says nothing, and a second
 * process under its name would start beside it.
 *
 * - Starting, a node that finds the key held watches it for `window` ms (the cluster's
 *   `downAfter`): a holder that renews in that time is alive, and the start is refused
 *   (ClusterError). A key not renewed in that time is a dead holder's (killed, or paused past
 *   `downAfter`, when the others take it for down anyway): the newcomer takes it over by `update`
 *   on the revision it saw, so if the holder renewed meanwhile, the takeover fails and the
 *   newcomer is refused.
 * - Running, a node whose renewal fails reads the key: still its own (the update landed but the
 *   answer was lost), it goes on; gone (a server that lost its store), it takes it again; another
 *   process's, it has lost its name (`lost`), and its cluster leaves: it stops acting as that node.
 * - Stopping, a node deletes the key on its revision, so a restart need not wait.
 *
 * Only `create`, `update` on a revision, `get` and `delete` on a revision are used: all in
 * nats-server 2.9 (Debian's), which has no per-key TTL. A failed renewal for want of a
 * connection is retried on the next tick; while the server is away nobody else can take the name.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionLike } from './nats-types.js';
import type { KV } from '@nats-io/kv';
import { ClusterError } from '../../shm/errors.js';
import { importNats } from './nats-packages.js';

export interface LeaseOptions {
  cluster: string;
  /** Copies JetStream keeps of the bucket (node.replicas). */
  replicas?: number;
  node: string;
  creation: number;
  /** How often the holder renews, ms (the heartbeat). */
  renewEvery: number;
  /** How long a starting node waits for a holder to renew before taking the name over, ms (`downAfter`). */
  window: number;
  /** Another process took the name: this one must stop acting as the node. */
  lost(holderCreation: number | undefined): void;
}

interface Held {
  creation: number;
}

export class NodeLease {
  private revision: number;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;

  private constructor(
    private readonly kv: KV,
    private readonly options: LeaseOptions,
    revision: number,
  ) {
    this.revision = revision;
  }

  /**
   * Opens the bucket; resolves with undefined when the server has no JetStream (the heartbeat
   * check is all there is then). Rejects with ClusterError when another live process holds the name.
   * `namesakeHeard` ends the wait early: a beat under this name from another life is a live holder.
   */
  static async take(nc: NatsConnectionLike, options: LeaseOptions, namesakeHeard: () => boolean): Promise<NodeLease | undefined> {
    const { Kvm } = await importNats('@nats-io/kv', () => import('@nats-io/kv'));
    let kv: KV;
    try {
      kv = await new Kvm(nc as NatsConnection).create(`weft_${options.cluster}_nodes`, { history: 1, replicas: options.replicas ?? 1 });
    } catch {
      return undefined;
    }
    const key = options.node;
    const value = JSON.stringify({ creation: options.creation } satisfies Held);
    const refused = (holder: number | undefined): ClusterError =>
      new ClusterError(`a node named ${JSON.stringify(options.node)} is already running in cluster ${JSON.stringify(options.cluster)}${holder === undefined ? '' : ` (life ${holder})`}; node names are unique while their nodes run`);
    const deadline = Date.now() + options.window;
    let seen: { revision: number; creation: number | undefined } | undefined;
    for (;;) {
      try {
        return new NodeLease(kv, options, await kv.create(key, value)).start();
      } catch {
        // held (or deleted, which create takes as held on an old server): read it
      }
      const entry = await kv.get(key).catch(() => null);
      if (entry === null || entry.operation !== 'PUT') {
        // freed meanwhile: take it by its revision (a delete marker), or create it again
        if (entry !== null) {
          try {
            return new NodeLease(kv, options, await kv.update(key, value, entry.revision)).start();
          } catch {
            // someone else was quicker: read again
          }
        }
        if (Date.now() > deadline + options.window) throw refused(undefined);
        await pause(Math.min(100, options.renewEvery));
        continue;
      }
      const holder = creationOf(entry.string());
      if (seen === undefined) seen = { revision: entry.revision, creation: holder };
      else if (entry.revision !== seen.revision) throw refused(holder); // renewed: alive
      if (namesakeHeard()) throw refused(holder);
      if (Date.now() >= deadline) {
        // not renewed for a whole window: its holder is dead (or as good as); take it over on the revision seen
        try {
          return new NodeLease(kv, options, await kv.update(key, value, seen.revision)).start();
        } catch {
          throw refused(holder);
        }
      }
      await pause(Math.min(100, options.renewEvery));
    }
  }

  private start(): this {
    this.timer = setInterval(() => void this.renew(), this.options.renewEvery).unref();
    return this;
  }

  /** Renews the name; settles without throwing. */
  private async renew(): Promise<void> {
    if (this.renewing || this.stopped) return;
    this.renewing = true;
    const { kv, options } = this;
    const value = JSON.stringify({ creation: options.creation } satisfies Held);
    try {
      this.revision = await kv.update(options.node, value, this.revision);
    } catch {
      const entry = await kv.get(options.node).catch(() => undefined);
      if (entry === undefined || this.stopped) return; // no answer (no connection): next tick
      const holder = entry !== null && entry.operation === 'PUT' ? creationOf(entry.string()) : undefined;
      if (holder === options.creation) {
        this.revision = entry!.revision;
      } else if (holder === undefined) {
        try {
          this.revision = entry === null ? await kv.create(options.node, value) : await kv.update(options.node, value, entry.revision);
        } catch {
          // taken or not reachable: the next tick reads it again
        }
      } else {
        this.stopped = true;
        clearInterval(this.timer);
        options.lost(holder);
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Gives the name up (a clean stop): a restart under it need not wait. Never throws. */
  async release(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.kv.delete(this.options.node, { previousSeq: this.revision }).catch(() => {});
  }

  /** Stops renewing without giving the name up (it was lost, or the connection is gone). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}

function creationOf(text: string): number | undefined {
  try {
    const held = JSON.parse(text) as Partial<Held>;
    return typeof held.creation === 'number' ? held.creation : undefined;
  } catch {
    return undefined;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
