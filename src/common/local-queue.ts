/**
 * Same-thread messages waiting for the shard loop's next turn: a FIFO of (serial, kind, ref, body)
 * kept in four parallel arrays, so queueing a message allocates no object.
 */
export class LocalQueue {
  private readonly serials: number[] = [];
  private readonly kinds: number[] = [];
  private readonly refs: number[] = [];
  private readonly bodies: unknown[] = [];
  private head = 0;

  get size(): number {
    return this.serials.length - this.head;
  }

  push(serial: number, kind: number, ref: number, body: unknown): void {
    this.serials.push(serial);
    this.kinds.push(kind);
    this.refs.push(ref);
    this.bodies.push(body);
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
    if (++this.head === this.serials.length) {
      this.serials.length = 0;
      this.kinds.length = 0;
      this.refs.length = 0;
      this.bodies.length = 0;
      this.head = 0;
    }
  }
}
