/**
 * Same-thread messages waiting for the shard loop's next turn: a FIFO of (serial, kind, ref, body,
 * size) kept in parallel arrays, so queueing a message allocates no object. `bytes` adds up the
 * encoded sizes of what waits, so backpressure bounds this path as it bounds a ring's overflow.
 */
/** Taken entries the queue may keep before it drops them (see `shift`). */
const COMPACT_AFTER = 4096;

export class LocalQueue {
  private readonly serials: number[] = [];
  private readonly kinds: number[] = [];
  private readonly refs: number[] = [];
  private readonly bodies: unknown[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  /** Encoded bytes of the messages waiting (system messages count 0). */
  bytes = 0;

  get size(): number {
    return this.serials.length - this.head;
  }

  push(serial: number, kind: number, ref: number, body: unknown, size = 0): void {
    this.serials.push(serial);
    this.kinds.push(kind);
    this.refs.push(ref);
    this.bodies.push(body);
    this.sizes.push(size);
    this.bytes += size;
  }

  serial(): number {
    return this.serials[this.head];
  }

  kind(): number {
    return this.kinds[this.head];
  }

  ref(): number {
    return this.refs[this.head];
  }

  body(): unknown {
    return this.bodies[this.head];
  }

  /** Drops the head; resets the arrays once everything has been taken. */
  shift(): void {
    this.bodies[this.head] = undefined;
    this.bytes -= this.sizes[this.head];
    if (++this.head === this.serials.length) {
      this.serials.length = 0;
      this.kinds.length = 0;
      this.refs.length = 0;
      this.bodies.length = 0;
      this.sizes.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.serials.length) {
      // A queue that never empties (a steady backlog) would otherwise keep every message it ever
      // held: drop the taken half. Amortized O(1), since half the arrays are gone each time.
      const head = this.head;
      this.serials.splice(0, head);
      this.kinds.splice(0, head);
      this.refs.splice(0, head);
      this.bodies.splice(0, head);
      this.sizes.splice(0, head);
      this.head = 0;
    }
  }
}
