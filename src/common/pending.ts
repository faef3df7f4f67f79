/**
 * The replies a thread is waiting for: `call`s, spawns, stops. Runs on any thread (main now; a
 * shard too once actors call each other), hence `src/common`.
 *
 * Each wait gets a `ref`, unique on this thread, which travels in the request and comes back in
 * the reply. Every finite deadline goes into one binary min-heap, whatever its timeout value, with
 * one timer armed for the earliest: O(log n) to add, O(1) when deadlines come in order (a run of
 * calls with one timeout: each sifts up no further than its parent), and one structure however
 * many distinct timeouts there are (another node chooses its calls' timeouts: a deadline queue per
 * value let it make any number of them). The heap is three arrays of numbers, not an object per
 * wait: at hundreds of thousands of calls a second the garbage collector is the largest cost on
 * the calling thread, and a `setTimeout` per call would cost more than the call.
 *
 *            [0] at 12.5 ref 7            entry i's children are 2i+1 and 2i+2; every entry's
 *           /               \              (at, seq) is ≤ its children's, so [0] is the earliest
 *   [1] at 13.0 ref 9   [2] at 40.2 ref 8  deadline; seq (the order waits began) breaks ties, so
 *                                          waits with one deadline expire in the order they began.
 *
 * An answered wait leaves its entry behind (removing it from the middle would cost O(log n) on
 * every reply): the timer pops it and finds nothing, and when the heap holds more than twice the
 * waits still pending it is rebuilt from them, so it holds about as many entries as waits in flight.
 */
import { Kind } from '../shm/protocol.js';
import { MAX_TIMER_MS } from './timeout.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Makes the error a timed-out wait rejects with, from `subject` (only called if it times out):
   *  a function shared by every wait of its kind, so that a wait allocates no closure for it. */
  readonly timedOut: (subject: unknown, timeoutMs: number) => Error;
  readonly subject: unknown;
  /** The thread that will answer, if one: its death rejects the wait (`rejectThread`). */
  thread: number;
  /** Its timeout, for `timedOut`. */
  readonly timeoutMs: number;
}

/** The `timedOut` of waits whose subject is itself the function that makes the error. */
const callIt = (onTimeout: unknown): Error => (onTimeout as () => Error)();

/** Entries the heap may hold before answered ones are swept out (when they are over half of it). */
const TRIM_AT = 4096;

/** The `thread` of a wait that another node answers (through main's cluster, not a ring). */
export const AFAR = -2;

export class PendingReplies {
  private readonly waiters = new Map<number, Waiter>();
  /** The deadline heap (see the module comment): `at[i]` (performance.now() ms), `seq[i]`, `refs[i]`. */
  private readonly at: number[] = [];
  private readonly seq: number[] = [];
  private readonly refs: number[] = [];
  private nextSeq = 0;
  /** The one timer, armed for `armedFor`, the heap's earliest deadline when it was armed. */
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
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
  begin<T>(timeoutMs: number, thread: number, timedOut: (subject: unknown, timeoutMs: number) => Error, subject: unknown): Promise<T> {
    const ref = this.nextRef;
    this.nextRef = ref >= 0x3fff_ffff ? 1 : ref + 1;
    this.lastRef = ref;
    let waiter!: Waiter;
    const promise = new Promise<T>((resolve, reject) => {
      waiter = { resolve: resolve as (value: unknown) => void, reject, timedOut, subject, thread, timeoutMs };
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

  /** Deadline entries held (pending waits with a finite timeout, plus answered ones not yet swept). */
  get deadlines(): number {
    return this.at.length;
  }

  /** Timers armed for deadlines: 0 or 1, however many timeouts there are. */
  get timers(): number {
    return this.timer === undefined ? 0 : 1;
  }

  private schedule(ref: number, timeoutMs: number): void {
    const at = performance.now() + timeoutMs;
    if (this.at.length >= TRIM_AT && this.at.length > 2 * this.waiters.size) this.sweep();
    this.push(at, ref);
    // Only a deadline earlier than the armed one moves the timer: with one timeout, never.
    if (at < this.armedFor) this.arm();
  }

  /** Rebuilds the heap from the entries of waits still pending (Floyd's heapify, O(n)). */
  private sweep(): void {
    const { at, seq, refs } = this;
    let kept = 0;
    for (let i = 0; i < refs.length; i++) {
      if (!this.waiters.has(refs[i])) continue;
      at[kept] = at[i];
      seq[kept] = seq[i];
      refs[kept] = refs[i];
      kept++;
    }
    at.length = seq.length = refs.length = kept;
    for (let i = (kept >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(deadline: number, ref: number): void {
    const { at, seq, refs } = this;
    const order = this.nextSeq++;
    let i = at.length;
    // sift up: move parents later than the new entry down, then write it where it stops
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (at[parent] < deadline || (at[parent] === deadline && seq[parent] < order)) break;
      at[i] = at[parent];
      seq[i] = seq[parent];
      refs[i] = refs[parent];
      i = parent;
    }
    at[i] = deadline;
    seq[i] = order;
    refs[i] = ref;
  }

  /** Removes the earliest entry (the heap is not empty). */
  private pop(): void {
    const { at, seq, refs } = this;
    const last = at.length - 1;
    at[0] = at[last];
    seq[0] = seq[last];
    refs[0] = refs[last];
    at.length = seq.length = refs.length = last;
    if (last > 1) this.siftDown(0);
  }

  private siftDown(from: number): void {
    const { at, seq, refs } = this;
    const n = at.length;
    const deadline = at[from];
    const order = seq[from];
    const ref = refs[from];
    let i = from;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && (at[right] < at[child] || (at[right] === at[child] && seq[right] < seq[child]))) child = right;
      if (deadline < at[child] || (deadline === at[child] && order < seq[child])) break;
      at[i] = at[child];
      seq[i] = seq[child];
      refs[i] = refs[child];
      i = child;
    }
    at[i] = deadline;
    seq[i] = order;
    refs[i] = ref;
  }

  /** (Re)arms the timer for the earliest deadline whose wait is still pending; none left: no timer. */
  private arm(): void {
    while (this.refs.length !== 0 && !this.waiters.has(this.refs[0])) this.pop();
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.refs.length === 0) {
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = this.at[0];
    // Capped: a Node timer longer than 2^31-1 ms fires after 1 ms; this one fires, finds its
    // deadline not yet come, and re-arms, once every 24.8 days rather than every millisecond.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, this.armedFor - performance.now()));
    this.timer = setTimeout(this.expire, delay);
    this.timer.unref();
  }

  /** The timer: rejects every wait whose deadline has come, earliest first, then re-arms. */
  private readonly expire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = performance.now();
    while (this.refs.length !== 0 && this.at[0] <= now) {
      const ref = this.refs[0];
      this.pop();
      const waiter = this.waiters.get(ref);
      if (waiter !== undefined) this.reject(ref, waiter.timedOut(waiter.subject, waiter.timeoutMs));
    }
    if (this.timer === undefined) this.arm(); // (a rejection's handler may have begun a wait and armed it)
  };

  /** Stops the timer (the thread is done waiting for anything). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.at.length = this.seq.length = this.refs.length = 0;
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
