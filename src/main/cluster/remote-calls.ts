/**
 * The requests this node has sent to others and not yet had answered: calls (from any thread of
 * this node: main's cluster answers the waiting thread), spawns, name look-ups and tasks. Each
 * has a `callId`, unique in this node's life, that comes back in the REPLY.
 *
 * Every entry ends: with its reply; with `NodeDownError` when the node it went to goes down; past
 * its deadline (a thread's caller has its own timer, which fired by then); or, for a
 * task sent to `{ node: 'any' }` that no node took within `acceptWithin`, with a ClusterError.
 */
import { CallTimeoutError, ClusterError, NodeDownError } from '../../shm/errors.js';
import type { NodeDownWhy } from './membership.js';

export type Settle = (ok: boolean, value: unknown) => void;

interface Request {
  /** The node answering, once known (a task to 'any' learns it from ACCEPTED). */
  node: string | undefined;
  creation: number;
  /** The thread of this node waiting for it (-1: main's own API), whose death drops it. */
  thread: number;
  /** When a task was accepted by a node not known to be up: it must be heard from soon. */
  acceptedAt: number;
  settle: Settle;
  /** When the entry may be dropped (Infinity: only by reply or node down). */
  deadline: number;
  /** For a task to 'any' not yet accepted: when to give up; else Infinity. */
  acceptBy: number;
  /** What it is, for error messages. */
  what: string;
}

/** Added to a call's own timeout before its entry is dropped: a reply just past it still finds the entry. */
const GRACE_MS = 1000;

export class RemoteCalls {
  private readonly requests = new Map<number, Request>();
  private nextId = 1 + Math.floor(Math.random() * 0x3fff_0000);

  get size(): number {
    return this.requests.size;
  }

  /** Registers a request to `node` (undefined: not known until a node accepts it) and returns its id. */
  add(node: string | undefined, creation: number, thread: number, timeoutMs: number, settle: Settle, what: string, acceptWithin = Infinity): number {
    const id = this.nextId;
    this.nextId = id >= 0x7fff_fff0 ? 1 : id + 1;
    const now = Date.now();
    this.requests.set(id, { node, creation, thread, acceptedAt: 0, settle, deadline: now + timeoutMs + GRACE_MS, acceptBy: now + acceptWithin, what });
    return id;
  }

  /** The node request `id` went to, while it waits for its answer. */
  nodeOf(id: number): string | undefined {
    return this.requests.get(id)?.node;
  }

  /** The request could not be sent after all. */
  forget(id: number): void {
    this.requests.delete(id);
  }

  /** The answer to request `id`, from node `from` (ignored if the request went elsewhere). */
  settle(id: number, ok: boolean, value: unknown, from: string): void {
    const request = this.requests.get(id);
    if (request === undefined || request.node !== from) return; // timed out, its node was declared down first, or a stranger
    this.requests.delete(id);
    request.settle(ok, value);
  }

  /** Node `node` took task `id`: its going down now fails the task. */
  accepted(id: number, node: string, creation: number): void {
    const request = this.requests.get(id);
    if (request === undefined || (request.node !== undefined && request.node !== node)) return;
    request.node = node;
    request.creation = creation;
    request.acceptBy = Infinity;
    request.acceptedAt = Date.now();
  }

  /** Drops what thread `thread` of this node was waiting for (it died; its successor's refs are others). */
  forgetThread(thread: number): void {
    for (const [id, request] of [...this.requests]) if (request.thread === thread) this.requests.delete(id);
  }

  /** Fails every request the node was to answer. */
  nodeDown(node: string, creation: number, why: NodeDownWhy): void {
    for (const [id, request] of [...this.requests]) {
      if (request.node !== node || request.creation !== creation) continue;
      this.requests.delete(id);
      request.settle(false, new NodeDownError(`node ${JSON.stringify(node)} went down (${why}) before it answered ${request.what}`, node, why));
    }
  }

  /**
   * Drops requests past their deadline, fails tasks nobody took, and fails tasks taken by a node
   * that was never heard from within `unheardFor` ms (`isUp` says which node lives are up).
   */
  sweep(now: number, isUp: (node: string, creation: number) => boolean, unheardFor: number): void {
    for (const [id, request] of [...this.requests]) {
      if (request.acceptedAt !== 0 && now - request.acceptedAt > unheardFor && !isUp(request.node!, request.creation)) {
        this.requests.delete(id);
        request.settle(false, new NodeDownError(`node ${JSON.stringify(request.node)} took ${request.what} but is not up`, request.node!, 'timeout'));
      } else if (request.acceptBy < now) {
        this.requests.delete(id);
        request.settle(false, new ClusterError(`no node took ${request.what}: no node of the cluster serves it (see system.serve), or none answered in time`));
      } else if (request.deadline < now) {
        this.requests.delete(id);
        request.settle(false, new CallTimeoutError(`${request.what} got no answer in time`));
      }
    }
  }

  /**
   * This node's connection dropped: fails every request no node has taken yet (a task to 'any');
   * requests to a node fail with that node's nodedown. A task this node took itself is answered
   * without NATS, and waits on.
   */
  disconnected(error: (what: string) => Error): void {
    for (const [id, request] of [...this.requests]) {
      if (request.node !== undefined) continue;
      this.requests.delete(id);
      request.settle(false, error(request.what));
    }
  }

  /** Fails every request (the node is stopping). */
  rejectAll(error: () => Error): void {
    const all = [...this.requests.values()];
    this.requests.clear();
    for (const request of all) request.settle(false, error());
  }
}
