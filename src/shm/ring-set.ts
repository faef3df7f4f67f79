/**
 * All the rings of one system in one SharedArrayBuffer: a ring per ordered pair of threads (main is
 * thread 0), and a doorbell word per thread.
 *
 * Main allocates the buffer with `RingSet.create` and hands it to each shard at start (a
 * SharedArrayBuffer passed in `workerData` is shared, not copied); the shard calls `RingSet.attach`.
 * Both sides then compute the same offsets from the meta words, so no table of offsets travels.
 *
 * ```
 *  0            64                 64 + 64·T                                       end
 *  ├── meta ────┼── bell 0 │ bell 1 │ … ──┼── ring 0→1 │ ring 0→2 │ … │ ring T-1→T-2 ──┤
 *  meta words: MAGIC, VERSION, THREADS, RING_CAPACITY (written once by main before sharing),
 *              ROUND_ROBIN (the spawn cursor: any thread, Atomics.add)
 *  thread line: BELL, INTERRUPT (endpoint.ts), ACTORS (live actors), NEXT_SERIAL (the next pid
 *               serial, so a restarted thread never reuses one), HEARTBEAT (bumped every scheduler
 *               turn; main's watchdog reads it), TASK (the task running now, task-runner.ts),
 *               PARKED (async tasks started and awaiting, task-runner.ts), OS_THREAD and HEAP
 *               (its OS thread id and heap fill, for the watchdog), HEAP_MB (its used heap, for
 *               recycling): all but BELL and CLAIM written by that thread alone; CLAIM (a task
 *               main sent ahead, until the thread claims it or main takes it back: either side's
 *               compareExchange id → 0, whichever wins)
 *  ring i→j sits at index i·(T-1) + (j < i ? j : j-1)
 * ```
 *
 * A thread's cache line holds the words that thread owns: its bell and, beside it, its interrupt
 * word (their protocol is in endpoint.ts), and the count of its live actors, which placement reads
 * from any thread (placement.ts).
 */
import { InvalidArgumentError, RingCorruptError, describeValue } from './errors.js';
import { RingConsumer, RingProducer, isValidCapacity, resetRing, ringBytes, validateCapacity, type RingRegion } from './ring.js';
import { CACHE_LINE } from './ring-layout.js';

// Meta words (Int32Array indexes), written once by main before the buffer is shared.
const MAGIC = 0;
const VERSION = 1;
const THREADS = 2;
const RING_CAPACITY = 3;
/** The round-robin spawn cursor (placement.ts): any thread takes the next shard with Atomics.add. */
export const ROUND_ROBIN_INDEX = 4;

const MAGIC_VALUE = 0x77656674; // 'weft'
const LAYOUT_VERSION = 2;
const META_BYTES = CACHE_LINE;
const MAX_THREADS = 1024;

/** Bell word index of `thread` in the Int32Array over the whole buffer (one cache line each). */
export function bellIndex(thread: number): number {
  return (META_BYTES + thread * CACHE_LINE) / 4;
}

/** Interrupt word index of `thread`: the word after its bell, on the same cache line. */
export function interruptIndex(thread: number): number {
  return bellIndex(thread) + 1;
}

/** Live-actor count word of `thread`: stored by that thread alone, read by placement anywhere. */
export function actorsIndex(thread: number): number {
  return bellIndex(thread) + 2;
}

/** Next pid serial of `thread`: survives the thread, so its next incarnation goes on counting. */
export function serialIndex(thread: number): number {
  return bellIndex(thread) + 3;
}

/** Heartbeat of `thread`: its scheduler bumps it every turn; main's watchdog sees a hung thread by it. */
export function heartbeatIndex(thread: number): number {
  return bellIndex(thread) + 4;
}

/**
 * The task `thread` is running right now (its id), or 0: stored by the thread's task runner around
 * each task's synchronous part, read by main to tell an aborted task that is running (its thread
 * must be ended: JavaScript cannot be interrupted) from one still waiting in a queue.
 */
export function taskIndex(thread: number): number {
  return bellIndex(thread) + 5;
}

/**
 * Async tasks `thread`'s task runners have started and not yet answered: they await, holding no
 * CPU. Stored by the thread (Atomics.add), read by main's dispatcher, which counts only the rest of
 * a shard's tasks in flight against its limit (src/main/tasks.ts), so tasks that never settle do not
 * starve the shard.
 */
export function parkedIndex(thread: number): number {
  return bellIndex(thread) + 6;
}

/**
 * A task main sent ahead to `thread` while it was busy (its id), or 0: main stores the id before it
 * sends the task (compareExchange 0 → id, so it never overwrites one outstanding), and then either
 * the thread's task runner claims it as it starts it, or main takes it back to run it on a thread
 * that came free first; both by compareExchange id → 0, so exactly one of them wins
 * (src/main/tasks.ts `sendAhead`, src/common/task-runner.ts `start`).
 */
export function claimIndex(thread: number): number {
  return bellIndex(thread) + 10;
}

/**
 * The OS thread id of `thread` (Linux; 0 where it cannot be read), stored by that thread at start so
 * main's watchdog can read its CPU time in /proc and tell a hung thread from a starved one.
 */
export function osThreadIndex(thread: number): number {
  return bellIndex(thread) + 7;
}

/** How full `thread`'s heap is, in permille of its limit, sampled by that thread a few times a second. */
export function heapIndex(thread: number): number {
  return bellIndex(thread) + 8;
}

/** `thread`'s used heap in MiB, sampled with `heapIndex`: what `maxHeapMB` is checked against (src/main/recycler.ts). */
export function heapMBIndex(thread: number): number {
  return bellIndex(thread) + 9;
}

/**
 * Data bytes per ring unless told otherwise: room for about a thousand small messages in flight
 * per pair, while 16 threads (240 rings) still take only 15 MiB.
 */
export const DEFAULT_RING_CAPACITY = 64 * 1024;

export interface RingSetOptions {
  /** Threads, main included. */
  threads: number;
  /** Data bytes per ring, a power of two. @default DEFAULT_RING_CAPACITY */
  ringCapacity?: number;
}

export class RingSet {
  readonly buffer: SharedArrayBuffer;
  readonly threads: number;
  readonly ringCapacity: number;
  /** The whole buffer as words, for the bells. */
  readonly words: Int32Array;

  private constructor(buffer: SharedArrayBuffer, threads: number, ringCapacity: number) {
    this.buffer = buffer;
    this.threads = threads;
    this.ringCapacity = ringCapacity;
    this.words = new Int32Array(buffer);
  }

  /** Bytes a set for `threads` threads with rings of `ringCapacity` takes. */
  static byteLength(threads: number, ringCapacity: number): number {
    return META_BYTES + threads * CACHE_LINE + threads * (threads - 1) * ringBytes(ringCapacity);
  }

  /** Main thread: allocates and lays out a new set, all rings empty, all bells at rest. */
  static create(options: RingSetOptions): RingSet {
    const { threads, ringCapacity = DEFAULT_RING_CAPACITY } = options;
    // One thread is main alone, with no ring: inline mode (`start({ threads: 0 })`).
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new InvalidArgumentError(`expected \`threads\` (main included) to be an integer from 1 to ${MAX_THREADS}, got: ${describeValue(threads)}`);
    }
    validateCapacity(ringCapacity);
    const buffer = new SharedArrayBuffer(RingSet.byteLength(threads, ringCapacity));
    const words = new Int32Array(buffer);
    words[MAGIC] = MAGIC_VALUE;
    words[VERSION] = LAYOUT_VERSION;
    words[THREADS] = threads;
    words[RING_CAPACITY] = ringCapacity;
    return new RingSet(buffer, threads, ringCapacity);
  }

  /** Any thread: views a set that main created. */
  static attach(buffer: SharedArrayBuffer): RingSet {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < META_BYTES || buffer.byteLength % 4 !== 0) {
      throw new RingCorruptError(`expected the SharedArrayBuffer of a weft ring set, got: ${describeValue(buffer)} of ${(buffer as { byteLength?: unknown })?.byteLength} bytes`);
    }
    const words = new Int32Array(buffer);
    if (words[MAGIC] !== MAGIC_VALUE || words[VERSION] !== LAYOUT_VERSION) {
      throw new RingCorruptError(`expected a weft ring set of layout ${LAYOUT_VERSION}, got: magic ${words[MAGIC]}, version ${words[VERSION]}`);
    }
    const threads = words[THREADS];
    const capacity = words[RING_CAPACITY];
    if (threads < 1 || threads > MAX_THREADS || !isValidCapacity(capacity)) {
      throw new RingCorruptError(`ring set header holds values create() never writes, got: ${threads} threads, ring capacity ${capacity}`);
    }
    if (buffer.byteLength !== RingSet.byteLength(threads, capacity)) {
      throw new RingCorruptError(`ring set of ${threads} threads needs ${RingSet.byteLength(threads, capacity)} bytes, got: ${buffer.byteLength}`);
    }
    return new RingSet(buffer, threads, capacity);
  }

  /** The ring that carries frames from thread `from` to thread `to`. */
  region(from: number, to: number): RingRegion {
    this.checkPair(from, to);
    const index = from * (this.threads - 1) + (to < from ? to : to - 1);
    const byteOffset = META_BYTES + this.threads * CACHE_LINE + index * ringBytes(this.ringCapacity);
    return { buffer: this.buffer, byteOffset, capacity: this.ringCapacity };
  }

  producer(from: number, to: number, options?: { maxFramePayload?: number }): RingProducer {
    return new RingProducer(this.region(from, to), options);
  }

  consumer(from: number, to: number): RingConsumer {
    return new RingConsumer(this.region(from, to));
  }

  /**
   * Empties the two rings between threads `a` and `b`, for a thread that died: only by a thread
   * that holds no producer or consumer for them any more (a live end renews its own, see
   * `Endpoint.resetPeer`), and only while the dead end is gone.
   */
  resetPair(a: number, b: number): void {
    resetRing(this.region(a, b));
    resetRing(this.region(b, a));
  }

  /**
   * Readies `thread`'s line for a new incarnation: bell at rest, no interrupt, no actors, heartbeat
   * at zero. Its NEXT_SERIAL stays, so pids of the old incarnation are never reused. Main only, while
   * the thread is gone.
   */
  resetThreadLine(thread: number): void {
    for (const index of [bellIndex(thread), interruptIndex(thread), actorsIndex(thread), heartbeatIndex(thread), taskIndex(thread), parkedIndex(thread), osThreadIndex(thread), heapIndex(thread), heapMBIndex(thread), claimIndex(thread)]) {
      Atomics.store(this.words, index, 0);
    }
  }

  private checkPair(from: number, to: number): void {
    const ok = (t: number) => Number.isInteger(t) && t >= 0 && t < this.threads;
    if (!ok(from) || !ok(to) || from === to) {
      throw new InvalidArgumentError(`expected two different threads from 0 to ${this.threads - 1}, got: ${describeValue(from)} → ${describeValue(to)}`);
    }
  }
}
