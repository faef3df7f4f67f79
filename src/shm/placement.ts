/**
 * Where `spawn` puts an actor, decided on whichever thread spawns it (main or a shard) from words
 * in the ring set, so every thread places alike without asking main:
 *
 * - a thread number: exactly there (0 is main, 1..N the shards);
 * - `'round-robin'` (default): shards in turn, one cursor shared by every thread (`Atomics.add`);
 * - `'least-loaded'`: the shard with the fewest live actors, each shard's count read from the word
 *   that shard keeps (`actorsIndex`; a count may be a spawn or two behind, never more);
 * - `{ key }`: a hash of the key, so the same key always lands on the same shard.
 *
 * Main hosts actors only when asked by number: the policies spread over the shards, since main's
 * event loop also serves the application.
 */
import { InvalidArgumentError, describeValue } from './errors.js';
import { ROUND_ROBIN_INDEX, actorsIndex, type RingSet } from './ring-set.js';

export type Placement = number | 'round-robin' | 'least-loaded' | { key: string | number };

export class Placer {
  /** Shards: threads 1..shards. */
  private readonly shards: number;
  private readonly words: Int32Array;

  constructor(set: RingSet) {
    this.shards = set.threads - 1;
    this.words = set.words;
  }

  place(placement: Placement = 'round-robin'): number {
    if (this.shards === 0) return inline(placement);
    if (typeof placement === 'number') {
      if (!Number.isInteger(placement) || placement < 0 || placement > this.shards) {
        throw new InvalidArgumentError(`expected \`thread\` to be 0 (main) or a shard from 1 to ${this.shards}, got: ${describeValue(placement)}`);
      }
      return placement;
    }
    if (placement === 'round-robin') {
      // The cursor wraps at 2^31 to negative numbers; >>> 0 keeps the turn order across the wrap.
      return ((Atomics.add(this.words, ROUND_ROBIN_INDEX, 1) >>> 0) % this.shards) + 1;
    }
    if (placement === 'least-loaded') {
      let best = 1;
      let fewest = Atomics.load(this.words, actorsIndex(1));
      for (let thread = 2; thread <= this.shards; thread++) {
        const actors = Atomics.load(this.words, actorsIndex(thread));
        if (actors < fewest) [best, fewest] = [thread, actors];
      }
      return best;
    }
    if (typeof placement === 'object' && placement !== null && (typeof placement.key === 'string' || typeof placement.key === 'number')) {
      return (hash(String(placement.key)) % this.shards) + 1;
    }
    throw new InvalidArgumentError(`expected \`thread\` to be a thread number, 'round-robin', 'least-loaded' or { key }, got: ${describeValue(placement)}`);
  }
}

/** Records `thread`'s live actors for `least-loaded`; only `thread` itself calls this. */
export function publishActorCount(set: RingSet, thread: number, actors: number): void {
  Atomics.store(set.words, actorsIndex(thread), actors);
}

/**
 * Inline mode (`start({ threads: 0 })`): main is the only thread, so every placement, a shard's
 * number included, lands on it, and code written for shards runs unchanged. A placement that is no
 * placement at all is still refused.
 */
function inline(placement: Placement): number {
  const valid =
    (typeof placement === 'number' && Number.isInteger(placement) && placement >= 0) ||
    placement === 'round-robin' ||
    placement === 'least-loaded' ||
    (typeof placement === 'object' && placement !== null && (typeof placement.key === 'string' || typeof placement.key === 'number'));
  if (!valid) throw new InvalidArgumentError(`expected \`thread\` to be a thread number, 'round-robin', 'least-loaded' or { key }, got: ${describeValue(placement)}`);
  return 0;
}

/** FNV-1a over UTF-16 code units: stable across runs and Node versions. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
