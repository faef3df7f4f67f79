/**
 * A pool of actors, poolboy's API: borrow a worker, use it, give it back.
 *
 * ```ts
 * const pool = await system.pool<typeof Db>({ actor: new URL('./db.js', import.meta.url), args: dsn, size: 4, maxOverflow: 2 });
 * const rows = await pool.transaction((db) => db.call({ type: 'query', sql }));   // checkout, call, checkin
 * const db = await pool.checkout({ timeout: 1000 });   // or by hand: a typed ActorRef
 * try { await db.call({ type: 'query', sql }); } finally { pool.checkin(db); }
 * ```
 *
 * From an actor, `ctx.pool<A>(pid)` gives the same handle; the pool then watches that actor, and
 * if it dies with workers checked out they go back to the pool; the actor watches the workers it
 * holds, and gets a DOWN in `handleInfo` if one dies while lent (the pool replaces it). The pool itself is an actor
 * (pool.ts), reached by calls; see there for who decides what.
 */
import { AbortError, CheckoutTimeoutError, ExitError, InvalidArgumentError, NoProcError, PoolClosedError, describeValue } from '../shm/errors.js';
import { compiledModule } from './compiled-module.js';
import { moduleUrl } from './module-url.js';
import { threadKey, type Pid } from '../shm/pid.js';
import { Kind } from '../shm/protocol.js';
import type { Placement } from '../shm/placement.js';
import type { ActorContext, AnyActor, ArgsOf } from './actor.js';
import { ActorRef, type Router } from './actor-ref.js';
import type Pool from './pool.js';
import { mailboxLimit, type MailboxOptions } from './mailbox.js';
import type { CheckoutReply, PoolSpecData, PoolStatus } from './pool.js';

export type { PoolStatus } from './pool.js';

/** The pool manager's module, for the thread that hosts it. */
export const POOL_URL = compiledModule('common/pool.js').href;

/** What `system.pool` takes. `args` is required when the worker's `init` needs one. */
export type PoolOptions<A extends AnyActor> = {
  /** The worker actor's module. */
  actor: URL | string;
  /** Workers kept. @default 5 */
  size?: number;
  /** Extra workers started when all are lent, let go when they come back with nobody waiting. @default 10 */
  maxOverflow?: number;
  /** Which free worker a checkout gets: the last returned (`lifo`, warm caches) or the longest idle. @default 'lifo' */
  strategy?: 'lifo' | 'fifo';
  /** A name for the pool actor (`system.whereis(name)` finds it). */
  name?: string;
  /** Where the workers run. @default 'round-robin' */
  thread?: Placement;
  /** Bound each worker's mailbox (see `MailboxOptions`). @default unbounded */
  mailbox?: MailboxOptions;
} & (undefined extends ArgsOf<A> ? { args?: ArgsOf<A> } : { args: ArgsOf<A> });

export interface CheckoutOptions {
  /** Wait for a worker when none is free (else resolve with `'full'`). @default true */
  block?: boolean;
  /** Milliseconds to wait before CheckoutTimeoutError. @default 5000 */
  timeout?: number;
  /** Gives up waiting: rejects with AbortError, and no worker is kept. */
  signal?: AbortSignal;
}

/** The longest a Node timer waits. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Checkout tickets, one counter per thread rather than per handle: each `ctx.pool(pid)` makes a new
 * PoolRef, and the pool tells waits apart by borrower and ticket, so two handles of one borrower
 * must never hand out the same ticket.
 */
let nextTicket = 1;

/** A call to the pool that found it gone (stopped, or crashed) rejects with PoolClosedError instead. */
function closedPool(error: unknown): never {
  if (error instanceof ExitError || error instanceof NoProcError) throw new PoolClosedError('the pool has stopped');
  throw error;
}

/** Checks `system.pool`'s options and gives the pool actor its plain-data spec. */
export function poolData(options: PoolOptions<AnyActor>): PoolSpecData {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`expected pool options, got: ${describeValue(options)}`);
  const { actor, size = 5, maxOverflow = 10, strategy = 'lifo', thread = 'round-robin' } = options;
  const url = moduleUrl(actor, 'actor');
  if (!Number.isInteger(size) || size < 0) throw new InvalidArgumentError(`expected \`size\` to be an integer >= 0, got: ${describeValue(size)}`);
  if (!Number.isInteger(maxOverflow) || maxOverflow < 0) throw new InvalidArgumentError(`expected \`maxOverflow\` to be an integer >= 0, got: ${describeValue(maxOverflow)}`);
  if (strategy !== 'lifo' && strategy !== 'fifo') throw new InvalidArgumentError(`expected \`strategy\` to be 'lifo' or 'fifo', got: ${describeValue(strategy)}`);
  return { actor: url, args: (options as { args?: unknown }).args, size, maxOverflow, strategy, thread, mailbox: mailboxLimit(options.mailbox) ?? null };
}

export class PoolRef<A extends AnyActor = AnyActor> {
  readonly pid: Pid;
  private readonly manager: ActorRef<typeof Pool>;
  private readonly router: Router;
  /** The borrowing actor, watched by the pool; null from main. */
  private readonly borrower: Pid | null;
  private readonly ctx: ActorContext | undefined;
  /** An actor's monitors of the workers it holds (by `threadKey`), so it gets a DOWN if one dies. */
  private readonly watching = new Map<number, number>();

  constructor(pid: Pid, router: Router, borrower?: ActorContext) {
    this.pid = pid;
    this.router = router;
    this.manager = new ActorRef<typeof Pool>(pid, router);
    this.borrower = borrower?.self ?? null;
    this.ctx = borrower;
  }

  /**
   * Borrows a worker: at once if one is free or another can be started (overflow), else after a
   * wait (rejects with CheckoutTimeoutError past `timeout`), or `'full'` when `block` is false.
   */
  checkout(options: CheckoutOptions & { block: false }): Promise<ActorRef<A> | 'full'>;
  checkout(options?: CheckoutOptions): Promise<ActorRef<A>>;
  async checkout(options: CheckoutOptions = {}): Promise<ActorRef<A> | 'full'> {
    const { block = true, signal } = options;
    let { timeout = 5000 } = options;
    if (!(timeout === Infinity || (typeof timeout === 'number' && timeout >= 0))) throw new InvalidArgumentError(`expected \`timeout\` to be ms >= 0 or Infinity, got: ${describeValue(timeout)}`);
    if (timeout > MAX_TIMER_MS) timeout = Infinity; // longer than a timer can wait: as good as forever
    if (signal?.aborted) throw new AbortError('the checkout was aborted before it began', { cause: signal.reason });
    const ticket = nextTicket;
    nextTicket = ticket >= 0x3fff_ffff ? 1 : ticket + 1;
    // No call timeout: the pool's own timer answers a wait that runs out, so the pool alone decides
    // whether a worker was lent (a client-side timeout could leave one lent to nobody).
    const asked = (this.manager.call({ type: 'checkout', block, timeout, borrower: this.borrower, ticket }, { timeout: Infinity }) as Promise<CheckoutReply>).catch(closedPool);
    let reply: CheckoutReply;
    if (signal === undefined) {
      reply = await asked;
    } else {
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          this.router.control(this.manager.pid, Kind.CAST, { type: 'cancel', ticket, borrower: this.borrower });
          // A worker already on its way back to us goes straight back to the pool.
          void asked.then((late) => 'worker' in late && this.checkin(new ActorRef<A>(late.worker, this.router)), () => undefined);
          reject(new AbortError('the checkout was aborted while it waited', { cause: signal.reason }));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        reply = await Promise.race([asked, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
    if ('worker' in reply) {
      // An actor that borrows watches what it holds: if the worker dies, its handleInfo gets a DOWN.
      if (this.ctx !== undefined) this.watching.set(threadKey(reply.worker.thread, reply.worker.serial), this.ctx.monitor(reply.worker));
      return new ActorRef<A>(reply.worker, this.router);
    }
    if ('full' in reply) return 'full';
    if ('closed' in reply) throw new PoolClosedError('the pool stopped before a worker came free');
    if ('failed' in reply) throw reply.failed;
    throw new CheckoutTimeoutError(`no worker of pool ${this.pid} came free within ${timeout} ms`);
  }

  /**
   * Gives a worker back. Checking in one twice, or one that has died, does nothing. `lost`: the
   * caller saw it exit (a call to it rejected with ExitError): the pool replaces it rather than lend
   * it again, even if its EXIT has not reached the pool yet (it is ended if it lives on).
   */
  checkin(worker: ActorRef<A>, options?: { lost?: boolean }): void {
    const watched = threadKey(worker.pid.thread, worker.pid.serial);
    const monitor = this.watching.get(watched);
    if (monitor !== undefined) {
      this.watching.delete(watched);
      this.ctx!.demonitor(monitor);
    }
    // A control cast: a checkin refused by backpressure would lose the worker for good.
    const checkin = { type: 'checkin' as const, thread: worker.pid.thread, serial: worker.pid.serial };
    this.router.control(this.manager.pid, Kind.CAST, options?.lost === true ? { ...checkin, lost: true } : checkin);
  }

  /**
   * Checks out a worker, runs `fn(worker)`, and checks it back in whatever happens (a throw, a
   * rejection): resolves or rejects as `fn` does. `timeout` bounds the wait for a worker. If `fn`
   * rejects with ExitError (the worker died under it), the worker goes back as lost: the next
   * borrower gets its replacement, never the dead one.
   */
  async transaction<T>(fn: (worker: ActorRef<A>) => T | Promise<T>, options?: { timeout?: number; signal?: AbortSignal }): Promise<T> {
    const worker = await this.checkout({ timeout: options?.timeout, signal: options?.signal });
    let lost = false;
    try {
      return await fn(worker);
    } catch (error) {
      lost = error instanceof ExitError;
      throw error;
    } finally {
      this.checkin(worker, lost ? { lost } : undefined);
    }
  }

  /** `{ state, available, overflow, checkedOut }`, as poolboy's `status`. */
  status(): Promise<PoolStatus> {
    return (this.manager.call({ type: 'status' }) as Promise<PoolStatus>).catch(closedPool);
  }

  /** Stops the pool and its workers; waiting checkouts reject with PoolClosedError. */
  async stop(): Promise<void> {
    await this.manager.call({ type: 'stop' });
  }

  toString(): string {
    return String(this.pid);
  }
}
