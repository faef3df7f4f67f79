/**
 * A FIFO of messages kept in parallel arrays, so queueing one allocates no object, and that gives
 * its memory back as it is consumed: the queue a thread keeps of its same-thread messages (the
 * runtime's, run at the loop's next turn) and the mailbox of each actor (src/common/cell.ts) are
 * both one of these.
 *
 * ```
 *  index:  0 … head-1        head … length-1
 *         ├ taken (undefined) ┼ waiting ──────────▶ push
 *                             ^ head: the next message out
 * ```
 *
 * Each entry is (word, kind, ref, body, weight). `word` is an address: the target actor's serial
 * in the thread's queue, the sender's thread in a mailbox. `weight` is what the entry counts
 * against a bound, and `weight` the queue's sum of them: encoded bytes in the thread's queue
 * (backpressure, src/common/runtime.ts), 1 for a message that counts against an actor's mailbox
 * bound and 0 for a system message (EXIT, DOWN) in a mailbox.
 *
 * Taken entries are dropped in halves (see `shift`), so a queue that never empties (an async actor
 * under steady load) holds what waits in it plus at most as much again, never every message it
 * ever held.
 */
/** Taken entries the queue may keep before it drops them (see `shift`). */
const COMPACT_AFTER = 4096;

export class LocalQueue {
  private readonly words: number[] = [];
  private readonly kinds: number[] = [];
  private readonly refs: number[] = [];
  private readonly bodies: unknown[] = [];
  private readonly weights: number[] = [];
  private head = 0;
  /** The weights of the messages waiting, added up. */
  weight = 0;

  get size(): number {
    return this.words.length - this.head;
  }

  get isEmpty(): boolean {
    return this.head === this.words.length;
  }

  push(word: number, kind: number, ref: number, body: unknown, weight = 0): void {
    this.words.push(word);
    this.kinds.push(kind);
    this.refs.push(ref);
    this.bodies.push(body);
    this.weights.push(weight);
    this.weight += weight;
  }

  /** The head's address word (see the module comment). Only while `!isEmpty`. */
  word(): number {
    return this.words[this.head];
  }

  /** The head's target serial, in a thread's same-thread queue. */
  serial(): number {
    return this.words[this.head];
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

  // Entry `i` counts from the head (0 is the next out), for the rare scans a mailbox makes: a
  // selective receive of an EXIT, the calls to fail when its actor dies, drop-old's victim.

  wordAt(i: number): number {
    return this.words[this.head + i];
  }

  kindAt(i: number): number {
    return this.kinds[this.head + i];
  }

  refAt(i: number): number {
    return this.refs[this.head + i];
  }

  bodyAt(i: number): unknown {
    return this.bodies[this.head + i];
  }

  weightAt(i: number): number {
    return this.weights[this.head + i];
  }

  /** Readdresses entry `i` (a mailbox's call whose caller's thread died answers no one). */
  setWordAt(i: number, word: number): void {
    this.words[this.head + i] = word;
  }

  /** Takes entry `i` out of the middle (O(size), for the rare scans above). */
  removeAt(i: number): void {
    const at = this.head + i;
    this.weight -= this.weights[at];
    this.words.splice(at, 1);
    this.kinds.splice(at, 1);
    this.refs.splice(at, 1);
    this.bodies.splice(at, 1);
    this.weights.splice(at, 1);
    if (this.head === this.words.length) this.clear();
  }

  /** Drops the head; resets the arrays once everything has been taken. */
  shift(): void {
    this.bodies[this.head] = undefined;
    this.weight -= this.weights[this.head];
    if (++this.head === this.words.length) {
      this.clear();
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.words.length) {
      // A queue that never empties (a steady backlog) would otherwise keep every message it ever
      // held: drop the taken half. Amortized O(1), since half the arrays are gone each time.
      const head = this.head;
      this.words.splice(0, head);
      this.kinds.splice(0, head);
      this.refs.splice(0, head);
      this.bodies.splice(0, head);
      this.weights.splice(0, head);
      this.head = 0;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.words.length = 0;
    this.kinds.length = 0;
    this.refs.length = 0;
    this.bodies.length = 0;
    this.weights.length = 0;
    this.head = 0;
    this.weight = 0;
  }
}
