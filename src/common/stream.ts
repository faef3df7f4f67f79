/**
 * A stream's consumer side: what `pool.stream()` and `system.stream()` hand out on main, and an
 * actor's `ref.stream()` on any thread. The producing side, and the credit protocol both follow,
 * are in src/common/task-stream.ts (src/common/actor-stream.ts for an actor's).
 *
 * ```ts
 * // worker.js:  export async function* lines(path) { for await (const line of readLines(path)) yield parse(line); }
 * for await (const row of pool.stream(path, { name: 'lines' })) {
 *   if (row.bad) break;   // the generator's return() runs on its thread: its finally blocks too
 * }
 * ```
 *
 * The stream starts when it is first pulled, and lets the thread run at most `highWaterMark`
 * values ahead of what the consumer has taken: it grants that much credit at the start, and grants
 * again each time the consumer has taken a quarter of it (so a few grants are on the way at once,
 * and the thread rarely waits a round trip for credit while the consumer keeps up). It is one-shot (its own iterator), and
 * settles every `next()` once: with a value, with the end, or with the one error that ended it
 * (later calls then give the end, as a generator's do).
 */
import type { StreamBatch } from './task-stream.js';
import { InvalidArgumentError, describeValue } from '../shm/errors.js';
import type { Abortable } from './abortable.js';

/** Options of `pool.stream()` (and, through the pool, of a system's streams). */
export interface StreamOptions {
  /**
   * Values the thread may make ahead of what the consumer has taken (the credit). A stream's speed
   * is about this many values per round trip between the threads (a fraction of a ms, more on a
   * loaded machine), so larger is faster; smaller holds fewer values in memory when the consumer is
   * slow (lower it for large values).
   * @default 1024
   */
  highWaterMark?: number;
}

export const DEFAULT_HIGH_WATER_MARK = 1024;

/** What a stream asks of its dispatcher (src/main/tasks.ts); each call settles once. */
export interface StreamChannel {
  /** Sends the task (queued like any other) with `credit`; resolves with its first batch. */
  open(credit: number): Promise<StreamBatch>;
  /** Grants `credit` more and opens a slot: resolves with the next batch. */
  pull(credit: number): Promise<StreamBatch>;
  /** Ends the generator on its thread; resolves once its `return()` has settled there. */
  cancel(): Promise<unknown>;
  /** The stream is over: the dispatcher forgets it. */
  close(): void;
}

interface Waiter<T> {
  resolve(result: IteratorResult<T, undefined>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export class TaskStream<T = unknown> implements AsyncIterableIterator<T, undefined, undefined> {
  private channel: StreamChannel | undefined;
  private readonly highWaterMark: number;
  /** 'idle': not started; 'open'; 'ended': the thread said done (values may still be buffered); 'failed'; 'closed': returned, or ended and drained. */
  private state: 'idle' | 'open' | 'ended' | 'failed' | 'closed' = 'idle';
  private readonly buffer: T[] = [];
  private bufferHead = 0;
  private readonly waiters: Array<Waiter<T>> = [];
  /** Calls to the thread (open, pulls) not yet answered. */
  private calls = 0;
  /** Values taken by the consumer since credit was last granted. */
  private taken = 0;
  private error: unknown;
  /** The opening call, settled (either way): a cancel waits for it, so the thread knows the stream it ends. */
  private opened: Promise<unknown> | undefined;

  /** @internal Made by a dispatcher (`TaskDispatcher.stream`), which gives it its channel. */
  constructor(connect: (stream: TaskStream<unknown>) => StreamChannel, highWaterMark: number) {
    this.highWaterMark = highWaterMark;
    this.channel = connect(this as TaskStream<unknown>);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.bufferHead < this.buffer.length) {
      const value = this.take();
      this.grant();
      return Promise.resolve({ done: false, value });
    }
    switch (this.state) {
      case 'ended':
      case 'closed':
        this.state = 'closed';
        return Promise.resolve(DONE);
      case 'failed':
        this.state = 'closed';
        return Promise.reject(this.error);
    }
    const waiting = new Promise<IteratorResult<T, undefined>>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.state === 'idle') this.start();
    else this.grant();
    return waiting;
  }

  /**
   * Ends the stream early (what `break` calls): the generator's `return()` runs on its thread (its
   * finally blocks too), and this resolves once it has; waiting `next()` calls get the end.
   */
  async return(): Promise<IteratorResult<T, undefined>> {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.buffer.length = this.bufferHead = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    const channel = this.channel;
    this.channel = undefined; // no more pulls
    if (wasOpen && channel !== undefined) {
      await this.opened;
      // The thread may have gone (crash, stop) meanwhile: then the generator went with it.
      await channel.cancel().catch(() => undefined);
    }
    channel?.close();
    return DONE;
  }

  /**
   * @internal The dispatcher ends it: its thread went down, or the pool or system closed. Values
   * already here are still handed out before the error, unless `discard` (an abort: the consumer
   * asked to stop now).
   */
  fail(error: unknown, discard = false): void {
    if (this.state !== 'open' && this.state !== 'idle') return;
    if (discard) this.buffer.length = this.bufferHead = 0;
    this.state = 'failed';
    this.error = error;
    this.release();
    this.serve();
  }

  private start(): void {
    this.state = 'open';
    this.calls++;
    const opening = this.channel!.open(this.highWaterMark);
    this.opened = opening.then(noop, noop);
    opening.then(this.delivered, this.failed);
  }

  /**
   * Grants credit as the consumer takes values: once a quarter of the window is taken (so the
   * thread is rarely idle while the consumer keeps up), or when the consumer waits with nothing in hand and
   * no call out (values the thread made while no slot was open come with it). Keeps
   * granted − taken ≤ highWaterMark.
   */
  private grant(): void {
    if (this.state !== 'open' || this.channel === undefined) return;
    const credit = this.taken * 4 >= this.highWaterMark ? this.taken : 0;
    const starved = this.waiters.length !== 0 && this.bufferHead === this.buffer.length && this.calls === 0;
    if (credit === 0 && !starved) return;
    this.taken -= credit;
    this.calls++;
    this.channel.pull(credit).then(this.delivered, this.failed);
  }

  private readonly delivered = ([values, done]: StreamBatch): void => {
    this.calls--;
    if (this.state !== 'open') return; // returned, or failed meanwhile: late values go nowhere
    for (const value of values) this.buffer.push(value as T);
    if (done) {
      this.state = 'ended';
      this.release();
    }
    this.serve();
    this.grant();
  };

  private readonly failed = (error: unknown): void => {
    this.calls--;
    this.fail(error);
  };

  /** Hands buffered values (then the end or the error) to waiting `next()` calls. */
  private serve(): void {
    while (this.waiters.length !== 0 && this.bufferHead < this.buffer.length) this.waiters.shift()!.resolve({ done: false, value: this.take() });
    if (this.waiters.length === 0 || this.state === 'open') return;
    if (this.state === 'failed') {
      this.waiters.shift()!.reject(this.error);
      this.state = 'closed';
    }
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    this.state = 'closed';
  }

  private take(): T {
    const value = this.buffer[this.bufferHead];
    this.buffer[this.bufferHead++] = undefined as T;
    if (this.bufferHead === this.buffer.length) this.buffer.length = this.bufferHead = 0;
    this.taken++;
    return value;
  }

  /** Nothing more comes from the thread: the dispatcher forgets the stream. */
  private release(): void {
    this.channel?.close();
    this.channel = undefined;
  }
}

function noop(): void {}

/** `highWaterMark` checked: an integer >= 1 (InvalidArgumentError otherwise). */
export function highWaterMarkOf(options: StreamOptions | undefined): number {
  const value = options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`expected \`highWaterMark\` to be an integer >= 1, got: ${describeValue(value)}`);
  return value;
}

/**
 * `connect`, with the channel it makes ended by `signal`: on abort the waiting (or next) `next()`
 * rejects with `aborted()`'s error (an AbortError), values already here are dropped, and the
 * generator on its thread is ended as `break` ends it (its finally blocks run), once the opening
 * call has been answered, so the two keep their order. A stream whose signal aborted before it
 * opened sends nothing. The listener goes when the stream is over.
 */
export function abortableConnect(signal: Abortable | undefined, aborted: () => Error, connect: (stream: TaskStream<unknown>) => StreamChannel): (stream: TaskStream<unknown>) => StreamChannel {
  if (signal === undefined) return connect;
  return (stream) => {
    const channel = connect(stream);
    /** The opening call, once sent. */
    let opening: Promise<unknown> | undefined;
    let over = false;
    const unlisten = signal.aborted
      ? undefined
      : signal.listen(() => {
          const wasOpen = opening !== undefined && !over;
          stream.fail(aborted(), true);
          if (wasOpen) opening!.then(() => channel.cancel()).catch(noop);
        });
    return {
      open: (credit) => {
        if (signal.aborted) return Promise.reject(aborted());
        const batch = channel.open(credit);
        opening = batch;
        return batch;
      },
      pull: (credit) => channel.pull(credit),
      cancel: () => channel.cancel(),
      close: () => {
        if (over) return;
        over = true;
        unlisten?.();
        channel.close();
      },
    };
  };
}

/** A channel that is made once `made` resolves (a pool whose threads are still starting); opening waits for it. */
export function deferredChannel(made: Promise<StreamChannel>): StreamChannel {
  let channel: StreamChannel | undefined;
  let closed = false;
  return {
    open: (credit) =>
      made.then((ready) => {
        channel = ready;
        if (closed) ready.close();
        return ready.open(credit);
      }),
    pull: (credit) => channel!.pull(credit),
    cancel: () => channel!.cancel(),
    close: () => {
      closed = true;
      channel?.close();
    },
  };
}

/** A channel that refuses to open, with `error` (a closed pool or a stopped system). */
export function refusedChannel(error: () => Error): StreamChannel {
  const refuse = () => Promise.reject(error());
  return { open: refuse, pull: refuse, cancel: refuse, close: () => undefined };
}
