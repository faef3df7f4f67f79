/**
 * The replies a thread is waiting for: `call`s, spawns, stops. Runs on any thread (main now; a
 * shard too once actors call each other), hence `src/common`.
 *
 * Each wait gets a `ref`, unique on this thread, which travels in the request and comes back in
 * the reply. Every finite deadline goes into one binary min-heap, whatever its timeout value, with
 * one timer armed for the earliest: O(log n) to add, O(1) when deadlines come in order (a run of
 * calls with one timeout: each sifts up no further than its parent), and one structure however
 * many distinct timeouts there are (another node chooses its calls' timeouts: a deadline queue per
 * value let it make any number of them). The heap is three arrays of numbers, and the waits a
 * table of slots (see PendingReplies), not an object and a Map entry per wait: at hundreds of
 * thousands of calls a second the garbage collector is the largest cost on the calling thread, and
 * a `setTimeout` per call would cost more than the call.
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

/** The `timedOut` of waits whose subject is itself the function that makes the error. */
const callIt = (onTimeout: unknown): Error => (onTimeout as () => Error)();

/** Entries the heap may hold before answered ones are swept out (when they are over half of it). */
const TRIM_AT = 4096;

/** Slots the wait table starts with (a power of two); it doubles when half are taken. */
const FIRST_SLOTS = 64;

/** The `thread` of a wait that another node answers (through main's cluster, not a ring). */
export const AFAR = -2;

/**
 * The waits, as a table of slots in parallel arrays: wait `ref` lives in slot `ref & mask`, and
 * `refs[slot] === ref` says it is still there. No object and no Map entry per wait: beginning and
 * settling one allocates only its promise and that promise's two resolving functions.
 *
 * ```
 *  slot      0      1      2      3    ...   mask
 *  refs    [ 0 ][ 65 ][ 66 ][  0 ] ... [ 63 ]     0: free; else the ref of the wait in it
 *  resolves[   ][ fn ][ fn ][    ] ... [ fn ]     what settles it, and how a timeout words it:
 *  rejects, timedOuts, subjects, threads           read and cleared only by `take`
 * ```
 *
 * Refs are handed out in order (wrapping at 2^30, never 0), so the waits in flight sit in a run of
 * consecutive slots that moves on as they are answered. A ref whose slot is still held (a long wait
 * the run came round to) is skipped: refs need only be unique among the live waits. The table
 * doubles when half its slots are taken, so a free slot is always near.
 */
export class PendingReplies {
  private mask = FIRST_SLOTS - 1;
  private refs = new Int32Array(FIRST_SLOTS);
  private resolves: Array<((value: unknown) => void) | undefined> = new Array(FIRST_SLOTS).fill(undefined);
  private rejects: Array<((error: unknown) => void) | undefined> = new Array(FIRST_SLOTS).fill(undefined);
  /** Makes the error a timed-out wait rejects with, from its subject (only called if it times out):
   *  a function shared by every wait of its kind, so that a wait allocates no closure for it. It
   *  gets the wait's ref too (a call tells its actor it stopped waiting). */
  private timedOuts: Array<((subject: unknown, timeoutMs: number, ref: number) => Error) | undefined> = new Array(FIRST_SLOTS).fill(undefined);
  private subjects: unknown[] = new Array(FIRST_SLOTS).fill(undefined);
  /** The thread that will answer each wait, if one: its death rejects the wait (`rejectThread`). */
  private threads = new Int32Array(FIRST_SLOTS);
  private count = 0;
  /** Each wait's timeout, for its `timedOut`. */
  private timeouts: number[] = new Array(FIRST_SLOTS).fill(0);
  /** The deadline heap (see the module comment): `heapAt[i]` (performance.now() ms), `heapSeq[i]`, `heapRefs[i]`. */
  private readonly heapAt: number[] = [];
  private readonly heapSeq: number[] = [];
  private readonly heapRefs: number[] = [];
  private nextSeq = 0;
  /** The one timer, armed for `armedFor`, the heap's earliest deadline when it was armed. */
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  /** Refs wrap at 2^30 so they stay V8 small integers; a wait never lives through 2^30 others. */
  private nextRef = 1;
  /** Called when the count goes 0 → 1 and 1 → 0 (main holds the process open while waiting). */
  private readonly onBusyChange: (busy: boolean) => void;
  /** What the promise executor hands over (see `capture`); cleared at once by `begin`. */
  private capturedResolve: ((value: unknown) => void) | undefined;
  private capturedReject: ((error: unknown) => void) | undefined;
  /** The executor of every wait's promise, made once: a closure per promise is what it saves. */
  private readonly capture = (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
    this.capturedResolve = resolve;
    this.capturedReject = reject;
  };

  /**
   * `firstRef`: where refs start. A restarted shard starts at a random one, so that a late reply
   * meant for its previous incarnation is most unlikely to find a wait of the new one.
   */
  constructor(onBusyChange: (busy: boolean) => void = () => {}, firstRef = 1) {
    this.onBusyChange = onBusyChange;
    this.nextRef = firstRef;
  }

  get size(): number {
    return this.count;
  }

  /** Waits another node is to answer (`thread` AFAR): their replies come through NATS, not a ring. */
  afar = 0;

  /** The ref of the wait `begin` made last. */
  lastRef = 0;

  /**
   * Registers a wait and returns its promise; its ref is then `lastRef`. After `timeoutMs` (if
   * finite) it rejects with `timedOut(subject, timeoutMs)`; a reply that comes later is dropped. `thread`: the
   * thread that will answer (-1: none in particular; AFAR: another node), whose death rejects the wait. The hot path of
   * every call: it allocates the promise (with its resolving functions), nothing else.
   */
  begin<T>(timeoutMs: number, thread: number, timedOut: (subject: unknown, timeoutMs: number, ref: number) => Error, subject: unknown): Promise<T> {
    if (this.count * 2 >= this.refs.length) this.grow();
    const refs = this.refs;
    const mask = this.mask;
    let ref = this.nextRef;
    // At most half the slots are taken, so this finds a free one within a few steps.
    while (refs[ref & mask] !== 0) ref = ref >= 0x3fff_ffff ? 1 : ref + 1;
    this.nextRef = ref >= 0x3fff_ffff ? 1 : ref + 1;
    this.lastRef = ref;
    const promise = new Promise<T>(this.capture as (resolve: (value: T) => void, reject: (error: unknown) => void) => void);
    const slot = ref & mask;
    refs[slot] = ref;
    this.resolves[slot] = this.capturedResolve;
    this.rejects[slot] = this.capturedReject;
    this.capturedResolve = this.capturedReject = undefined;
    this.timedOuts[slot] = timedOut;
    this.subjects[slot] = subject;
    this.threads[slot] = thread;
    this.timeouts[slot] = timeoutMs;
    this.count++;
    if (thread === AFAR) this.afar++;
    if (this.count === 1) this.onBusyChange(true);
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
    const slot = ref & this.mask;
    if (ref <= 0 || this.refs[slot] !== ref) return false;
    const resolve = this.resolves[slot]!;
    this.take(slot);
    resolve(value);
    return true;
  }

  reject(ref: number, error: unknown): boolean {
    const slot = ref & this.mask;
    if (ref <= 0 || this.refs[slot] !== ref) return false;
    const reject = this.rejects[slot]!;
    this.take(slot);
    reject(error);
    return true;
  }

  /** True while wait `ref` is pending. */
  has(ref: number): boolean {
    return ref > 0 && this.refs[ref & this.mask] === ref;
  }

  /** Drops wait `ref` without settling it (its request was never sent, and the caller was told so). */
  forget(ref: number): void {
    if (this.has(ref)) this.take(ref & this.mask);
  }

  /** Rejects every wait (e.g. the system stopped), with `error(ref)`. */
  rejectAll(error: () => Error): void {
    for (const ref of this.liveRefs()) this.reject(ref, error());
  }

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

  /** Rejects every wait that thread `thread` was to answer (it died), with `error()`. */
  rejectThread(thread: number, error: () => Error): void {
    const threads = this.threads;
    for (const ref of this.liveRefs()) if (threads[ref & this.mask] === thread) this.reject(ref, error());
  }

  /** The refs of the waits pending now, oldest first (a copy: settling one may begin others). */
  private liveRefs(): number[] {
    const live: number[] = [];
    for (const ref of this.refs) if (ref !== 0) live.push(ref);
    return live.sort((a, b) => a - b);
  }

  /** Empties `slot` (its wait is settled or dropped): its functions and subject are let go. */
  private take(slot: number): void {
    this.refs[slot] = 0;
    this.resolves[slot] = undefined;
    this.rejects[slot] = undefined;
    this.timedOuts[slot] = undefined;
    this.subjects[slot] = undefined;
    if (this.threads[slot] === AFAR) this.afar--;
    this.count--;
    // Timers are left to fire and find nothing: clearing and re-creating them whenever the count
    // touches zero would cost a timer per call when calls run one at a time.
    if (this.count === 0) this.onBusyChange(false);
  }

  /** Doubles the table, moving every wait to its slot under the new mask. */
  private grow(): void {
    const { refs, resolves, rejects, timedOuts, subjects, threads, timeouts } = this;
    const slots = refs.length * 2;
    this.mask = slots - 1;
    this.refs = new Int32Array(slots);
    this.resolves = new Array(slots).fill(undefined);
    this.rejects = new Array(slots).fill(undefined);
    this.timedOuts = new Array(slots).fill(undefined);
    this.subjects = new Array(slots).fill(undefined);
    this.threads = new Int32Array(slots);
    this.timeouts = new Array(slots).fill(0);
    for (let old = 0; old < refs.length; old++) {
      const ref = refs[old];
      if (ref === 0) continue;
      // Two live refs never share a slot under the new mask: they differed under the old one,
      // whose bits the new mask keeps.
      const slot = ref & this.mask;
      this.refs[slot] = ref;
      this.resolves[slot] = resolves[old];
      this.rejects[slot] = rejects[old];
      this.timedOuts[slot] = timedOuts[old];
      this.subjects[slot] = subjects[old];
      this.threads[slot] = threads[old];
      this.timeouts[slot] = timeouts[old];
    }
  }

  /** Deadline entries held (pending waits with a finite timeout, plus answered ones not yet swept). */
  get deadlines(): number {
    return this.heapAt.length;
  }

  /** Timers armed for deadlines: 0 or 1, however many timeouts there are. */
  get timers(): number {
    return this.timer === undefined ? 0 : 1;
  }

  private schedule(ref: number, timeoutMs: number): void {
    const at = performance.now() + timeoutMs;
    if (this.heapAt.length >= TRIM_AT && this.heapAt.length > 2 * this.count) this.sweep();
    this.push(at, ref);
    // Only a deadline earlier than the armed one moves the timer: with one timeout, never.
    if (at < this.armedFor) this.arm();
  }

  /** Rebuilds the heap from the entries of waits still pending (Floyd's heapify, O(n)). */
  private sweep(): void {
    const { heapAt: at, heapSeq: seq, heapRefs: refs } = this;
    let kept = 0;
    for (let i = 0; i < refs.length; i++) {
      if (!this.has(refs[i])) continue;
      at[kept] = at[i];
      seq[kept] = seq[i];
      refs[kept] = refs[i];
      kept++;
    }
    at.length = seq.length = refs.length = kept;
    for (let i = (kept >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(deadline: number, ref: number): void {
    const { heapAt: at, heapSeq: seq, heapRefs: refs } = this;
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
    const { heapAt: at, heapSeq: seq, heapRefs: refs } = this;
    const last = at.length - 1;
    at[0] = at[last];
    seq[0] = seq[last];
    refs[0] = refs[last];
    at.length = seq.length = refs.length = last;
    if (last > 1) this.siftDown(0);
  }

  private siftDown(from: number): void {
    const { heapAt: at, heapSeq: seq, heapRefs: refs } = this;
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
    while (this.heapRefs.length !== 0 && !this.has(this.heapRefs[0])) this.pop();
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.heapRefs.length === 0) {
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = this.heapAt[0];
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
    while (this.heapRefs.length !== 0 && this.heapAt[0] <= now) {
      const ref = this.heapRefs[0];
      this.pop();
      if (!this.has(ref)) continue;
      const slot = ref & this.mask;
      this.reject(ref, this.timedOuts[slot]!(this.subjects[slot], this.timeouts[slot], ref));
    }
    if (this.timer === undefined) this.arm(); // (a rejection's handler may have begun a wait and armed it)
  };

  /** Stops the timer (the thread is done waiting for anything). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.heapAt.length = this.heapSeq.length = this.heapRefs.length = 0;
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
