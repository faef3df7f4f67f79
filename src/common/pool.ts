/**
 * The pool manager: poolboy's server, as an actor. It starts `size` worker actors, lends them out
 * (`checkout`), takes them back (`checkin`), grows by up to `maxOverflow` extra workers under load
 * and lets those go when they come back with nobody waiting.
 *
 * It links to its workers and traps their exits, so a worker that dies is replaced (unless it was
 * an overflow one); it monitors borrowers, so a borrowing actor that dies gives its workers back.
 * A checkout that has to wait is answered later (`noreply`), in the order the waits began, and
 * expires by the pool's own timer, so the pool, not the caller's clock, decides whether a worker
 * was lent: a caller that gives up first tells the pool (`cancel`), and a worker that crossed that
 * message on its way is checked straight back in by the client (pool-ref.ts). No worker leaks.
 *
 * Client side, with the API users call: src/common/pool-ref.ts.
 */
import type { MailboxLimit } from './mailbox.js';
import { defineActor, type ActorContext, type Down, type ExitSignal, type ReplyTo } from './actor.js';
import { pidEquals, threadKey, type Pid } from '../shm/pid.js';
import type { Placement } from '../shm/placement.js';

/** The pool's spec as it travels to the pool actor (plain data). */
export interface PoolSpecData {
  actor: string;
  args: unknown;
  size: number;
  maxOverflow: number;
  strategy: 'lifo' | 'fifo';
  /** Where workers start. */
  thread: Placement | 'local';
  /** Each worker's mailbox bound, or null for none. */
  mailbox?: MailboxLimit | null;
}

/** `status()`, as poolboy's: `ready` while a worker is free, `overflow` while more can be made, else `full`. */
export interface PoolStatus {
  state: 'ready' | 'overflow' | 'full';
  available: number;
  overflow: number;
  checkedOut: number;
}

export type PoolCall =
  | { type: 'checkout'; block: boolean; timeout: number; borrower: Pid | null; ticket: number }
  | { type: 'status' }
  | { type: 'stop' };

/**
 * A checkin names its worker by thread and serial, not by Pid: plain numbers take the codec's
 * compact path (the copy every same-thread message gets), where a Pid would take msgpackr's.
 */
export type PoolCast = { type: 'checkin'; thread: number; serial: number; lost?: true } | { type: 'cancel'; ticket: number; borrower: Pid | null };

/** A checkout's answer: the worker, `full` (not blocking, none free), `timeout`, or `closed` (the pool stopped). */
export type CheckoutReply = { worker: Pid } | { full: true } | { timeout: true } | { closed: true } | { failed: unknown };

/** Every answer of the pool: a checkout's, a status, or `true` (stop). */
export type PoolReply = CheckoutReply | PoolStatus | true;

interface Waiter {
  readonly from: ReplyTo<CheckoutReply>;
  readonly borrower: Pid | null;
  readonly ticket: number;
  readonly timer: { cancel(): boolean } | undefined;
  /** Our monitor of the waiting borrower (-1: main, not watched): a borrower that dies leaves the queue. */
  readonly monitor: number;
}

interface Loan {
  readonly worker: Pid;
  readonly borrower: Pid | null;
  /** Our monitor of the borrower (-1: main, not watched). */
  readonly monitor: number;
}

interface State {
  readonly spec: PoolSpecData;
  /** Free workers: taken from the end (lifo) or the front (fifo), always returned to the end. */
  readonly available: Pid[];
  /** Lent workers by `key(worker)`. */
  readonly loans: Map<number, Loan>;
  readonly waiting: Waiter[];
  /** Workers beyond `size` alive now. */
  overflow: number;
  /** The pool is stopping: exits of its workers are expected, not replaced. */
  stopping: boolean;
}

/** A worker's key in `loans`. */
const key = (pid: Pid): number => threadKey(pid.thread, pid.serial);

async function startWorker(ctx: ActorContext, state: State): Promise<Pid> {
  const { spec } = state;
  const ref = await ctx.spawn(spec.actor, { args: spec.args, thread: spec.thread, link: true, mailbox: spec.mailbox ?? undefined });
  return ref.pid;
}

/** Lends `worker` to a borrower (watched if it is an actor; a waiter's monitor carries over). */
function lend(ctx: ActorContext, state: State, worker: Pid, borrower: Pid | null, monitor = watch(ctx, borrower)): void {
  state.loans.set(key(worker), { worker, borrower, monitor });
}

/** Monitors a borrowing actor (main, `null`, is not watched: -1). */
function watch(ctx: ActorContext, borrower: Pid | null): number {
  return borrower === null ? -1 : ctx.monitor(borrower);
}

/** A wait ends without a worker: its timer and its monitor go. */
function forgetWaiter(ctx: ActorContext, waiter: Waiter): void {
  waiter.timer?.cancel();
  if (waiter.monitor !== -1) ctx.demonitor(waiter.monitor);
}

function takeAvailable(state: State): Pid | undefined {
  return state.spec.strategy === 'lifo' ? state.available.pop() : state.available.shift();
}

/** A worker is free again: to the first waiter, else dismissed (overflow), else back in the pool. */
function release(ctx: ActorContext, state: State, worker: Pid): void {
  const waiter = state.waiting.shift();
  if (waiter !== undefined) {
    waiter.timer?.cancel();
    lend(ctx, state, worker, waiter.borrower, waiter.monitor);
    ctx.reply(waiter.from, { worker });
    return;
  }
  if (state.overflow > 0) {
    state.overflow--;
    ctx.unlink(worker);
    ctx.exit(worker, 'shutdown');
    return;
  }
  state.available.push(worker);
}

/**
 * A lent worker comes back. `lost`: its borrower saw it exit (a call rejected with ExitError):
 * its EXIT may still be on its way here, behind this checkin (it comes from the worker's thread,
 * the checkin from the borrower's), so it is not lent again but replaced now, as its EXIT would
 * have it; the EXIT then finds nothing to do.
 */
async function checkin(ctx: ActorContext, state: State, thread: number, serial: number, lost: boolean): Promise<void> {
  const loan = state.loans.get(threadKey(thread, serial));
  if (loan === undefined) return; // not lent (a second checkin, or a worker that has died)
  state.loans.delete(threadKey(thread, serial));
  if (loan.monitor !== -1) ctx.demonitor(loan.monitor);
  if (!lost) return release(ctx, state, loan.worker);
  // Not trusted again even if it lives on (the exit was a nested call's): it goes, unlinked first.
  ctx.unlink(loan.worker);
  ctx.exit(loan.worker, 'kill');
  await replace(ctx, state);
}

/** A worker of the pool is gone: start another in its place (or, an overflow one, just count it out). */
async function replace(ctx: ActorContext, state: State): Promise<void> {
  if (state.overflow > 0 && state.waiting.length === 0) {
    state.overflow--;
    return;
  }
  // A worker of the pool's `size` died, or someone waits: start another in its place (as poolboy
  // does, an overflow worker is replaced too while there is a waiter, keeping the count).
  try {
    release(ctx, state, await startWorker(ctx, state));
  } catch {
    // It would not start: the pool runs one short rather than crash its borrowers.
  }
}

/** The waiter `borrower` waits as with `ticket`: tickets are numbered by each borrower (pool-ref.ts), so both are the key. */
function waiterAt(state: State, ticket: number, borrower: Pid | null): number {
  return state.waiting.findIndex((w) => w.ticket === ticket && (w.borrower === null ? borrower === null : borrower !== null && pidEquals(w.borrower, borrower)));
}

function status(state: State): PoolStatus {
  const available = state.available.length;
  const { overflow } = state;
  const stateName = available > 0 ? 'ready' : overflow < state.spec.maxOverflow ? 'overflow' : 'full';
  return { state: stateName, available, overflow, checkedOut: state.loans.size };
}

export default defineActor({
  init: async (spec: PoolSpecData, ctx): Promise<State> => {
    ctx.trapExit(true);
    const state: State = { spec, available: [], loans: new Map(), waiting: [], overflow: 0, stopping: false };
    for (let i = 0; i < spec.size; i++) state.available.push(await startWorker(ctx, state));
    return state;
  },

  // Synchronous unless a worker must be started: a checkout of a free worker is the hot path, and
  // an async handler would hold the pool's mailbox for a turn of the event loop each time.
  handleCall: (msg: PoolCall, state: State, ctx) => {
    switch (msg.type) {
      case 'checkout': {
        const free = takeAvailable(state);
        if (free !== undefined) {
          lend(ctx, state, free, msg.borrower);
          return { reply: { worker: free } as PoolReply, state };
        }
        if (state.overflow < state.spec.maxOverflow) {
          state.overflow++;
          const borrower = msg.borrower;
          return startWorker(ctx, state).then(
            (worker) => {
              lend(ctx, state, worker, borrower);
              return { reply: { worker } as PoolReply, state };
            },
            (error: unknown) => {
              // The worker would not start: that caller hears why; the pool and its loans go on.
              state.overflow--;
              return { reply: { failed: error } as PoolReply, state };
            },
          );
        }
        if (!msg.block) return { reply: { full: true } as PoolReply, state };
        const from = ctx.from as ReplyTo<CheckoutReply>;
        const timer = Number.isFinite(msg.timeout) ? ctx.sendAfter(msg.timeout, { type: 'expire', ticket: msg.ticket, borrower: msg.borrower }) : undefined;
        state.waiting.push({ from, borrower: msg.borrower, ticket: msg.ticket, timer, monitor: watch(ctx, msg.borrower) });
        return ctx.noreply<State, PoolReply>(state);
      }
      case 'status':
        return { reply: status(state) as PoolReply, state };
      case 'stop':
        state.stopping = true;
        ctx.stop('normal');
        return { reply: true as PoolReply, state };
    }
  },

  handleCast: (msg: PoolCast, state: State, ctx) => {
    if (msg.type === 'checkin') {
      if (msg.lost !== true) {
        void checkin(ctx, state, msg.thread, msg.serial, false); // synchronous: the hot path
        return state;
      }
      return checkin(ctx, state, msg.thread, msg.serial, true).then(() => state);
    }
    // The caller gave up waiting (timeout or abort): forget its wait; if it was served meanwhile,
    // the worker comes back by the client's checkin.
    const at = waiterAt(state, msg.ticket, msg.borrower);
    if (at !== -1) {
      const [waiter] = state.waiting.splice(at, 1);
      forgetWaiter(ctx, waiter);
      ctx.reply(waiter.from, { timeout: true });
    }
    return state;
  },

  handleInfo: async (msg: unknown, state: State, ctx) => {
    const info = msg as ExitSignal | Down | { type: 'expire'; ticket: number; borrower: Pid | null };
    if (info.type === 'expire') {
      const at = waiterAt(state, info.ticket, info.borrower);
      if (at !== -1) {
        const [waiter] = state.waiting.splice(at, 1);
        forgetWaiter(ctx, waiter);
        ctx.reply(waiter.from, { timeout: true });
      }
      return state;
    }
    if (info.type === 'DOWN') {
      // A borrower died: its waits leave the queue (as poolboy's DOWN clause drops them, so no
      // worker is lent to the dead) and its workers come back.
      const dead = state.waiting.filter((waiter) => waiter.monitor === info.ref);
      if (dead.length > 0) {
        state.waiting.splice(0, state.waiting.length, ...state.waiting.filter((waiter) => waiter.monitor !== info.ref));
        for (const waiter of dead) {
          waiter.timer?.cancel();
          // Its call settles (no one is left to read it): the caller's thread forgets the wait.
          ctx.reply(waiter.from, { timeout: true });
        }
      }
      for (const loan of [...state.loans.values()]) if (loan.monitor === info.ref) void checkin(ctx, state, loan.worker.thread, loan.worker.serial, false);
      return state;
    }
    if (info.type !== 'EXIT' || state.stopping) return state;
    const { from } = info;
    const loan = state.loans.get(key(from));
    const idle = state.available.findIndex((w) => pidEquals(w, from));
    if (loan === undefined && idle === -1) return state; // a dismissed overflow worker, or not ours
    if (loan !== undefined) {
      state.loans.delete(key(from));
      if (loan.monitor !== -1) ctx.demonitor(loan.monitor);
    } else {
      state.available.splice(idle, 1);
    }
    await replace(ctx, state);
    return state;
  },

  terminate: (_reason, state: State, ctx) => {
    state.stopping = true;
    for (const waiter of state.waiting) ctx.reply(waiter.from, { closed: true });
    for (const worker of [...state.available, ...[...state.loans.values()].map((loan) => loan.worker)]) ctx.exit(worker, 'shutdown');
  },
});
