/**
 * Where `spawn` puts an actor. Main decides, since it knows every shard's actor count.
 *
 * - a thread number: exactly there (1..N);
 * - `'round-robin'` (default): shards in turn;
 * - `'least-loaded'`: the shard with the fewest live actors;
 * - `{ key }`: a hash of the key, so the same key always lands on the same shard.
 */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

export type Placement = number | 'round-robin' | 'least-loaded' | { key: string | number };

export class Placer {
  private readonly shards: number;
  private next = 0;
  /** Live actors per thread (index 0 unused), kept by the system from SPAWNED and EXITED. */
  readonly counts: number[];

  constructor(shards: number) {
    this.shards = shards;
    this.counts = new Array<number>(shards + 1).fill(0);
  }

  place(placement: Placement = 'round-robin'): number {
    if (typeof placement === 'number') {
      if (!Number.isInteger(placement) || placement < 1 || placement > this.shards) {
        throw new InvalidArgumentError(`expected \`thread\` to be a shard from 1 to ${this.shards}, got: ${describeValue(placement)}`);
      }
      return placement;
    }
    if (placement === 'round-robin') {
      this.next = (this.next % this.shards) + 1;
      return this.next;
    }
    if (placement === 'least-loaded') {
      let best = 1;
      for (let thread = 2; thread <= this.shards; thread++) if (this.counts[thread] < this.counts[best]) best = thread;
      return best;
    }
    if (typeof placement === 'object' && placement !== null && (typeof placement.key === 'string' || typeof placement.key === 'number')) {
      return (hash(String(placement.key)) % this.shards) + 1;
    }
    throw new InvalidArgumentError(`expected \`thread\` to be a shard number, 'round-robin', 'least-loaded' or { key }, got: ${describeValue(placement)}`);
  }
}

/** FNV-1a over UTF-16 code units: stable across runs and Node versions. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
