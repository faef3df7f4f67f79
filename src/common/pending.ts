/**
 * The replies a thread is waiting for: `call`s, spawns, stops. Runs on any thread (main now; a
 * shard too once actors call each other), hence `src/common`.
 *
 * Each wait gets a `ref`, unique on this thread, which travels in the request and comes back in
 * the reply. Timeouts cost O(1) per wait and one timer per distinct timeout value, not a timer per
 * call: waits with the same timeout expire in the order they began, so each timeout value keeps a
 * FIFO of deadlines and one timer armed for its head. At a million calls a second, a `setTimeout`
 * per call would cost more than the call.
 */

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Deadline {
  readonly ref: number;
  readonly at: number;
  readonly onTimeout: () => Error;
}

/** One FIFO of deadlines that all share a timeout value, with a timer for its head. */
class DeadlineQueue {
  readonly items: Deadline[] = [];
  head = 0;
  timer: NodeJS.Timeout | undefined;
}

export class PendingReplies {
  private readonly waiters = new Map<number, Waiter>();
  private readonly queues = new Map<number, DeadlineQueue>();
  /** Refs wrap at 2^30 so they stay V8 small integers; a wait never lives through 2^30 others. */
  private nextRef = 1;
  /** Called when the count goes 0 → 1 and 1 → 0 (main holds the process open while waiting). */
  private readonly onBusyChange: (busy: boolean) => void;

  constructor(onBusyChange: (busy: boolean) => void = () => {}) {
    this.onBusyChange = onBusyChange;
  }

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Registers a wait and returns its ref and promise. After `timeoutMs` (if finite) it rejects with
   * `onTimeout()`; the reply, if it comes later, is dropped.
   */
  add<T>(timeoutMs: number, onTimeout: () => Error): { ref: number; promise: Promise<T> } {
    const ref = this.nextRef;
    this.nextRef = ref >= 0x3fff_ffff ? 1 : ref + 1;
    let waiter!: Waiter;
    const promise = new Promise<T>((resolve, reject) => {
      waiter = { resolve: resolve as (value: unknown) => void, reject };
    });
    this.waiters.set(ref, waiter);
    if (this.waiters.size === 1) this.onBusyChange(true);
    if (Number.isFinite(timeoutMs)) this.schedule(ref, timeoutMs, onTimeout);
    return { ref, promise };
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

  /** Rejects every wait (e.g. the system stopped), with `error(ref)`. */
  rejectAll(error: () => Error): void {
    for (const ref of [...this.waiters.keys()]) this.reject(ref, error());
  }

  private take(ref: number): Waiter | undefined {
    const waiter = this.waiters.get(ref);
    if (waiter === undefined) return undefined;
    this.waiters.delete(ref);
    if (this.waiters.size === 0) {
      this.onBusyChange(false);
      this.clearTimers();
    }
    return waiter;
  }

  private schedule(ref: number, timeoutMs: number, onTimeout: () => Error): void {
    let queue = this.queues.get(timeoutMs);
    if (queue === undefined) {
      queue = new DeadlineQueue();
      this.queues.set(timeoutMs, queue);
    }
    queue.items.push({ ref, at: performance.now() + timeoutMs, onTimeout });
    if (queue.timer === undefined) this.arm(queue, timeoutMs);
  }

  /** Arms `queue`'s timer for its first deadline whose wait is still pending. */
  private arm(queue: DeadlineQueue, timeoutMs: number): void {
    const items = queue.items;
    while (queue.head < items.length && !this.waiters.has(items[queue.head].ref)) queue.head++;
    if (queue.head === items.length) {
      items.length = 0;
      queue.head = 0;
      queue.timer = undefined;
      return;
    }
    if (queue.head > 1024 && queue.head * 2 > items.length) {
      items.splice(0, queue.head);
      queue.head = 0;
    }
    const delay = Math.max(0, items[queue.head].at - performance.now());
    queue.timer = setTimeout(() => {
      const now = performance.now();
      while (queue.head < items.length && items[queue.head].at <= now) {
        const { ref, onTimeout } = items[queue.head++];
        if (this.waiters.has(ref)) this.reject(ref, onTimeout());
      }
      // reject() may have emptied everything and cleared the timers; arm only if still ours
      if (this.queues.get(timeoutMs) === queue) this.arm(queue, timeoutMs);
    }, delay);
    queue.timer.unref();
  }

  private clearTimers(): void {
    for (const queue of this.queues.values()) if (queue.timer !== undefined) clearTimeout(queue.timer);
    this.queues.clear();
  }
}
