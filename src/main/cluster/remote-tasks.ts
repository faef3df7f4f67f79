/**
 * Tasks across nodes, the way Elixir's `Task.Supervisor.async({Sup, node}, …)` spreads work: a
 * node that `serve`s a module joins the NATS queue group of that module
 * (`weft.<cluster>.t.<module>.any.*`, queue 'weft') and listens on its own subject for it
 * (`….<node>.*`); the last token is the sending node's name, as on every weft subject; `run` publishes one task a message (the queue group spreads messages, not the ops
 * inside them), so NATS gives each to one serving node, and a node that leaves stops getting them.
 *
 * The serving node answers ACCEPTED at once and the result when it is done, both in its batch to
 * the caller's node: from ACCEPTED on, the task's wait belongs to that node, whose going down
 * rejects it with NodeDownError. A task nobody takes within `downAfter` fails with ClusterError.
 * A task cut short by its node's graceful stop is answered as the goodbye that follows would
 * answer it: NodeDownError ('goodbye'), never the exit of the machinery that ran it.
 */
import { createHash } from 'node:crypto';
import type { NatsSubscriptionLike } from './nats-types.js';
import { AlreadyRegisteredError, ClusterError, ErrorCodes, NodeDownError, QueueFullError, isWeftError } from '../../shm/errors.js';
import type { Outbox } from './outbox.js';
import type { RemoteCalls } from './remote-calls.js';
import { WireOp, readBatch, type BatchHeader } from './wire.js';

/** What the tasks ask of the cluster. */
export interface TaskRoutes {
  /** `weft.<cluster>` */
  prefix: string;
  node: string;
  cluster: string;
  downAfter: number;
  /** The most tasks from other nodes held here at once (node.maxQueue). */
  maxQueue: number;
  outbox: Outbox;
  calls: RemoteCalls;
  /** `onMessage` gets each message's bytes and its sender (the subject's last token). */
  subscribe(subject: string, queue: string | undefined, what: string, onMessage: (data: Uint8Array, sender: string) => void): NatsSubscriptionLike;
  /**
   * Resolves once the server has every subscription made so far (a round trip behind them), across
   * reconnects; rejects with ClusterError if this node leaves the cluster first. `still()` false: the
   * wait is no longer wanted, and resolves at its next step.
   */
  confirmSubscriptions(still: () => boolean): Promise<void>;
  creationOf(node: string): number | undefined;
  /** True for this node's present life or a life of a node this one knows to be up: only they get tasks run. */
  isMember(node: string, creation: number): boolean;
  reach(node: string, timeout: number): Promise<void>;
  toInbox(node: string, creation: number, op: unknown[]): void;
  answer(to: BatchHeader, id: number, ok: boolean, value: unknown): void;
  /** Runs a task of a served module here (system.run). */
  run(module: string, exportName: string, args: unknown[]): Promise<unknown>;
  dropForeign(): void;
  /** True once this node has left the cluster. */
  stopped(): boolean;
  /** True once this node's system is stopping (or has left the cluster). */
  stopping(): boolean;
  /** True while this node's NATS connection is down. */
  offline(): boolean;
}

/**
 * What `serve` returns: call it to stop serving (this registration only; again, it does nothing).
 * `ready` resolves once the NATS server has the subscriptions, so a task any node sends from then
 * on reaches this node; it rejects with ClusterError if this node leaves the cluster first, and
 * resolves as well if the registration is undone first (there is nothing left to wait for).
 */
export interface Unserve {
  (): void;
  readonly ready: Promise<void>;
}

export class RemoteTasks {
  /** Modules this node serves, by their subject token. */
  private readonly served = new Map<string, { module: string; subscriptions: NatsSubscriptionLike[] }>();
  /**
   * Why a second `serve` under one key is refused rather than served: two modules under one key
   * would split a caller's tasks between them by the luck of NATS, and "serve both" has no
   * meaning for `runOn('this node', …)`. Unserve first, then serve the other.
   */

  /** Tasks from other nodes taken and not yet answered: at most `maxQueue`. */
  held = 0;
  /** Tasks from other nodes refused because `maxQueue` were held. */
  refused = 0;

  constructor(private readonly routes: TaskRoutes) {}

  /**
   * Takes tasks of `module` (under the key `as`) from every node: joins its queue group. Returns
   * the function that undoes this registration, and only this one. Throws AlreadyRegisteredError
   * if this node already serves a module as `as`.
   */
  serve(module: string, as: string): Unserve {
    const token = taskToken(as);
    const held = this.served.get(token);
    if (held !== undefined) throw new AlreadyRegisteredError(`node ${JSON.stringify(this.routes.node)} already serves ${JSON.stringify(as)} (${held.module}); call the function its serve returned first, got: ${module}`);
    const { routes } = this;
    const subject = `${routes.prefix}.t.${token}`;
    const what = `tasks of ${JSON.stringify(as)}`;
    const onMessage = (data: Uint8Array, sender: string): void => this.received(data, sender, module);
    const registration = {
      module,
      subscriptions: [routes.subscribe(`${subject}.any.*`, 'weft', what, onMessage), routes.subscribe(`${subject}.${routes.node}.*`, undefined, what, onMessage)],
    };
    this.served.set(token, registration);
    const live = (): boolean => this.served.get(token) === registration;
    const unserve = (): void => {
      if (!live()) return; // undone already, or another serve's now
      this.served.delete(token);
      for (const subscription of registration.subscriptions) subscription.unsubscribe();
    };
    // The subscriptions go to the server with the next write; until it has them, NATS gives a task
    // published to this module's subjects to no one here. `ready` is that moment.
    const ready = routes.confirmSubscriptions(live);
    ready.catch(() => {}); // a caller need not await it: its rejection is theirs to see, never unhandled
    return Object.assign(unserve, { ready });
  }

  /** The module this node serves as `as`, if it does. */
  servedModule(as: string): string | undefined {
    return this.served.get(taskToken(as))?.module;
  }

  /**
   * Runs a task of the module served as `as` on `where` (a node, or 'any': NATS gives it to one of
   * the nodes serving it, spreading the load). Rejects with ClusterError if no node takes it within
   * `downAfter`, NodeDownError if the node that took it goes down first.
   */
  async run(where: string, as: string, exportName: string, args: unknown[], timeout = Infinity): Promise<unknown> {
    const { routes } = this;
    if (where === routes.node && this.servedModule(as) === undefined) throw new ClusterError(`node ${JSON.stringify(where)} (this node) does not serve ${JSON.stringify(as)} (see system.serve)`);
    if (where !== 'any') await routes.reach(where, routes.downAfter);
    if (routes.stopped()) throw new ClusterError(`node ${JSON.stringify(routes.node)} has left the cluster: the task was not sent`);
    if (where === 'any' && routes.offline()) throw new NodeDownError(`node ${JSON.stringify(routes.node)} has no NATS connection now: the task was not sent (noconnection)`, routes.node, 'noconnection');
    return new Promise((resolve, reject) => {
      const what = `a task of ${JSON.stringify(as)} (${exportName}) on ${where === 'any' ? 'any node' : `node ${JSON.stringify(where)}`}`;
      // Its deadline is the caller's (system.runOn gives one by default); its node's death ends the
      // wait sooner. To a named node, its going down fails the task even before it is taken.
      const node = where === 'any' ? undefined : where;
      const creation = node === undefined ? 0 : (routes.creationOf(node) ?? 0);
      const id = routes.calls.add(node, creation, -1, timeout, (ok, value) => (ok ? resolve(value) : reject(value)), what, routes.downAfter);
      try {
        routes.outbox.add(`${routes.prefix}.t.${taskToken(as)}.${where}.${routes.node}`, 0, [WireOp.TASK, id, exportName, args]);
        if (where === 'any') routes.outbox.flush(); // one task a message: the queue group spreads messages
      } catch (error) {
        routes.calls.forget(id);
        reject(error);
      }
    });
  }

  /** A batch on a task subject this node serves: each op is a task of `module`. */
  private received(bytes: Uint8Array, sender: string, module: string): void {
    const { routes } = this;
    try {
      let from: BatchHeader | undefined;
      readBatch(
        bytes,
        (header) => {
          from = header;
          return (header.from === sender && header.cluster === routes.cluster && routes.isMember(header.from, header.fromCreation)) || (routes.dropForeign(), false);
        },
        (op) => {
          const [kind, id, exportName, args] = op;
          if (kind !== WireOp.TASK || typeof id !== 'number' || typeof exportName !== 'string' || !Array.isArray(args)) return routes.dropForeign();
          const caller = from!;
          // ACCEPTED even for a refusal: a task to 'any' is answered only by the node that took it.
          routes.toInbox(caller.from, caller.fromCreation, [WireOp.ACCEPTED, id]);
          if (this.held >= routes.maxQueue) {
            this.refused++;
            routes.answer(caller, id, false, new QueueFullError(`node ${JSON.stringify(routes.node)} holds ${this.held} tasks from other nodes already (node.maxQueue ${routes.maxQueue}): a task of ${module} (${exportName}) was refused`));
            routes.outbox.flush();
            return;
          }
          this.held++;
          // Through a promise, so even a run that throws at once is answered (and the batch goes on).
          Promise.resolve()
            .then(() => routes.run(module, exportName, args))
            .then(
              (value) => {
                this.held--;
                routes.answer(caller, id, true, value);
              },
              (error: unknown) => {
                this.held--;
                routes.answer(caller, id, false, this.cutShort(error) ? this.goodbye(module, exportName) : error);
              },
            );
          routes.outbox.flush(); // the ACCEPTED now: the caller learns who took it before the work is done
        },
      );
    } catch {
      routes.dropForeign();
    }
  }

  /** True for a task's failure that is this node's stop, not the task's own error. */
  private cutShort(error: unknown): boolean {
    return this.routes.stopping() && isWeftError(error) && (error.code === ErrorCodes.EXIT || error.code === ErrorCodes.SYSTEM_STOPPED);
  }

  private goodbye(module: string, exportName: string): NodeDownError {
    return new NodeDownError(`node ${JSON.stringify(this.routes.node)} stopped before it finished a task of ${module} (${exportName}) (goodbye)`, this.routes.node, 'goodbye');
  }
}

/** A module key as a NATS subject token. */
function taskToken(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 24);
}
