/**
 * The replies a thread is waiting for: `call`s, spawns, stops. Runs on any thread (main now; a
 * shard too once actors call each other), hence `src/common`.
 *
 * Each wait gets a `ref`, unique on this thread, which travels in the request and comes back in
 * the reply. Timeouts cost O(1) per wait and one timer per distinct timeout value, not a timer per
 * call: waits with the same timeout expire in the order they began, so each timeout value keeps a
 * FIFO of deadlines and one timer armed for its head. The FIFO is two arrays of numbers, not an
 * object per wait: at hundreds of thousands of calls a second the garbage collector is the largest
 * cost on the calling thread, and a `setTimeout` per call would cost more than the call.
 */
import { Kind } from '../shm/protocol.js';
import { MAX_TIMER_MS } from './timeout.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Makes the error a timed-out wait rejects with, from `subject` (only called if it times out):
   *  a function shared by every wait of its kind, so that a wait allocates no closure for it. `ref`
   *  is the wait's (a call tells its actor it stopped waiting). */
  readonly timedOut: (subject: unknown, timeoutMs: number, ref: number) => Error;
  readonly subject: unknown;
  /** The thread that will answer, if one: its death rejects the wait (`rejectThread`). */
  thread: number;
}

/** The `timedOut` of waits whose subject is itself the function that makes the error. */
const callIt = (onTimeout: unknown): Error => (onTimeout as () => Error)();

/** Entries a deadline queue may hold past its head before answered ones are dropped. */
const TRIM_AT = 4096;

/** The deadlines of every wait that shares one timeout value, oldest first, and a timer for the head. */
class DeadlineQueue {
  readonly refs: number[] = [];
  readonly at: number[] = [];
  head = 0;
  timer: NodeJS.Timeout | undefined;
}

/** The `thread` of a wait that another node answers (through main's cluster, not a ring). */
export const AFAR = -2;

export class PendingReplies {
  private readonly waiters = new Map<number, Waiter>();
  private readonly queues = new Map<number, DeadlineQueue>();
  /** Refs wrap at 2^30 so they stay V8 small integers; a wait never lives through 2^30 others. */
  private nextRef = 1;
  /** Called when the count goes 0 → 1 and 1 → 0 (main holds the process open while waiting). */
  private readonly onBusyChange: (busy: boolean) => void;

  /**
   * `firstRef`: where refs start. A restarted shard starts at a random one, so that a late reply
   * meant for its previous incarnation is most unlikely to find a wait of the new one.
   */
  constructor(onBusyChange: (busy: boolean) => void = () => {}, firstRef = 1) {
    this.onBusyChange = onBusyChange;
    this.nextRef = firstRef;
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Waits another node is to answer (`thread` AFAR): their replies come through NATS, not a ring. */
  afar = 0;

  /** The ref of the wait `begin` made last. */
  lastRef = 0;

  /**
   * Registers a wait and returns its promise; its ref is then `lastRef`. After `timeoutMs` (if
   * finite) it rejects with `timedOut(subject, timeoutMs)`; a reply that comes later is dropped. `thread`: the
   * thread that will answer (-1: none in particular; AFAR: another node), whose death rejects the wait. The hot path of
   * every call: it allocates the promise and one record, nothing else.
   */
  begin<T>(timeoutMs: number, thread: number, timedOut: (subject: unknown, timeoutMs: number, ref: number) => Error, subject: unknown): Promise<T> {
    const ref = this.nextRef;
    this.nextRef = ref >= 0x3fff_ffff ? 1 : ref + 1;
    this.lastRef = ref;
    let waiter!: Waiter;
    const promise = new Promise<T>((resolve, reject) => {
      waiter = { resolve: resolve as (value: unknown) => void, reject, timedOut, subject, thread };
    });
    this.waiters.set(ref, waiter);
    if (thread === AFAR) this.afar++;
    if (this.waiters.size === 1) this.onBusyChange(true);
    if (Number.isFinite(timeoutMs)) this.schedule(ref, timeoutMs);
    return promise;
  }

  /**
   * `begin` (the timeout's error made by `onTimeout()`), then `send(ref)` the request; if sending throws (an EncodeError, an unknown thread), the
   * wait is rejected with that error instead, so the caller always gets a settled promise.
   */
  request<T>(timeoutMs: number, onTimeout: () => Error, send: (ref: number) => void, thread = -1): Promise<T> {
    const promise = this.begin<T>(timeoutMs, thread, callIt, onTimeout);
    const ref = this.lastRef;
    const lost = this.lost.get(thread);
    if (lost !== undefined) {
      this.reject(ref, lost());
      return promise;
    }
    try {
      send(ref);
    } catch (error) {
      this.reject(ref, error);
    }
    return promise;
  }

  resolve(ref: number, value: unknown): boolean {
    const waiter = this.take(ref);
    waiter?.resolve(value);
    return waiter !== undefined;
  }

  reject(ref: number, error: unknown): boolean {
    const waiter = this.take(ref);
    waiter?.reject(error);
    return waiter !== undefined;
  }

  /** True while wait `ref` is pending. */
  has(ref: number): boolean {
    return this.waiters.has(ref);
  }

  /** Drops wait `ref` without settling it (its request was never sent, and the caller was told so). */
  forget(ref: number): void {
    this.take(ref);
  }

  /** Rejects every wait (e.g. the system stopped), with `error(ref)`. */
  rejectAll(error: () => Error): void {
    for (const ref of [...this.waiters.keys()]) this.reject(ref, error());
  }

  /** Rejects every wait that thread `thread` was to answer (it died), with `error()`. */
  /**
   * Thread `thread` is gone for good (it will not be started again): its waits reject now, and
   * every later request to it rejects at once with `error()` rather than wait out its timeout.
   */
  loseThread(thread: number, error: () => Error): void {
    this.lost.set(thread, error);
    this.rejectThread(thread, error);
  }

  /** Threads gone for good, with the error their waits get (see `loseThread`). */
  private readonly lost = new Map<number, () => Error>();

  rejectThread(thread: number, error: () => Error): void {
    for (const [ref, waiter] of [...this.waiters]) if (waiter.thread === thread) this.reject(ref, error());
  }

  private take(ref: number): Waiter | undefined {
    const waiter = this.waiters.get(ref);
    if (waiter === undefined) return undefined;
    this.waiters.delete(ref);
    if (waiter.thread === AFAR) this.afar--;
    // Timers are left to fire and find nothing: clearing and re-creating them whenever the count
    // touches zero would cost a timer per call when calls run one at a time.
    if (this.waiters.size === 0) this.onBusyChange(false);
    return waiter;
  }

  private schedule(ref: number, timeoutMs: number): void {
    let queue = this.queues.get(timeoutMs);
    if (queue === undefined) {
      queue = new DeadlineQueue();
      this.queues.set(timeoutMs, queue);
    }
    queue.refs.push(ref);
    queue.at.push(performance.now() + timeoutMs);
    if (queue.timer === undefined) this.arm(queue, timeoutMs);
    else if (queue.refs.length - queue.head > TRIM_AT) this.trim(queue);
  }

  /**
   * Drops answered waits from the front of `queue`, so under steady load it holds about as many
   * entries as there are waits in flight rather than every call of the last `timeoutMs`.
   */
  private trim(queue: DeadlineQueue): void {
    const { refs, at } = queue;
    while (queue.head < refs.length && !this.waiters.has(refs[queue.head])) queue.head++;
    if (queue.head * 2 > refs.length) {
      refs.splice(0, queue.head);
      at.splice(0, queue.head);
      queue.head = 0;
    }
  }

  /** Arms `queue`'s timer for its first deadline whose wait is still pending. */
  private arm(queue: DeadlineQueue, timeoutMs: number): void {
    const { refs, at } = queue;
    while (queue.head < refs.length && !this.waiters.has(refs[queue.head])) queue.head++;
    if (queue.head === refs.length) {
      refs.length = 0;
      at.length = 0;
      queue.head = 0;
      queue.timer = undefined;
      return;
    }
    // Capped: a Node timer longer than 2^31-1 ms fires after 1 ms; this one fires, finds its
    // deadline not yet come, and re-arms, once every 24.8 days rather than every millisecond.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at[queue.head] - performance.now()));
    queue.timer = setTimeout(() => {
      const now = performance.now();
      while (queue.head < refs.length && at[queue.head] <= now) {
        const ref = refs[queue.head++];
        const waiter = this.waiters.get(ref);
        if (waiter !== undefined) this.reject(ref, waiter.timedOut(waiter.subject, timeoutMs, ref));
      }
      if (this.queues.get(timeoutMs) === queue) this.arm(queue, timeoutMs);
    }, delay);
    queue.timer.unref();
  }

  /** Stops every timer (the thread is done waiting for anything). */
  close(): void {
    for (const queue of this.queues.values()) if (queue.timer !== undefined) clearTimeout(queue.timer);
    this.queues.clear();
  }
}

/**
 * Settles the wait that an enveloped reply frame answers: SPAWNED and STOPPED resolve it with the
 * envelope's value, REPLY_ERROR and SPAWN_ERROR reject it with the envelope's error (all are
 * `[ref, value]`; REPLY carries its ref as a word and is settled by the caller). Returns false for
 * any other kind. A reply whose wait is gone (it timed out) is
 * dropped. Main and every shard route replies through this.
 */
export function settleReply(pending: PendingReplies, kind: number, envelope: unknown[]): boolean {
  switch (kind) {
    case Kind.SPAWNED:
    case Kind.STOPPED:
      pending.resolve(envelope[0] as number, envelope[1]);
      return true;
    case Kind.REPLY_ERROR:
    case Kind.SPAWN_ERROR:
      pending.reject(envelope[0] as number, envelope[1]);
      return true;
    default:
      return false;
  }
}
