/**
 * A fuse: a circuit breaker every thread shares (after jlouis/fuse). When a service your actors
 * call keeps failing, melt its fuse on each failure; past `maxR` melts in `maxT` ms it blows, and
 * every thread's `ask()` says so at once, so they all stop hammering the service and fall back;
 * after `reset` ms it heals by itself.
 *
 * ```ts
 * // main: install it once
 * system.fuse('geo-api', { strategy: { standard: { maxR: 5, maxT: 10_000 } }, reset: 30_000 });
 * // in an actor, on any thread
 * const price = await ctx.fuse('geo-api').run(() => fetchPrice(id), () => state.cached[id]);
 * ```
 *
 * The state lives in a table of shared memory (src/shm/fuse-table.ts), so `ask()` is one read, melts from every thread are counted exactly, and a fuse outlives a restarted shard. Blows
 * and heals are events on main (`system.on('blown' | 'healed', …)`), which also runs the heal timer.
 */
import { FuseError } from '../shm/errors.js';
import { stateOf, stateWord, type FuseCounters, type FuseState, type FuseTable } from '../shm/fuse-table.js';

/** What a thread tells main about its fuses (main emits the events and heals). */
export type FuseNotice = { type: 'fuseBlown'; name: string; slot: number; generation: number; blownAt: number } | { type: 'fuseRemove'; name: string };

export class Fuse {
  readonly name: string;
  private readonly table: FuseTable;
  private readonly slot: number;
  private readonly generation: number;
  private readonly faultPpm: number;
  private readonly notify: (notice: FuseNotice) => void;
  /** The table's words and this fuse's STATE word in them, and the word it holds while ok/blown. */
  private readonly words: Int32Array;
  private readonly index: number;
  private readonly okWord: number;
  private readonly blownWord: number;

  /** Use `system.fuse`, `ctx.fuse` or `fuse(name)`. */
  constructor(table: FuseTable, name: string, slot: number, generation: number, notify: (notice: FuseNotice) => void) {
    this.table = table;
    this.name = name;
    this.slot = slot;
    this.generation = generation;
    this.faultPpm = table.faultPpm(slot);
    this.notify = notify;
    this.words = table.words;
    this.index = table.stateIndex(slot);
    this.okWord = stateWord(generation, 'ok');
    this.blownWord = stateWord(generation, 'blown');
  }

  /**
   * `'ok'` or `'blown'`: one read of shared memory. With fault injection, the given fraction of asks melts
   * the fuse and answers `'blown'`. Throws FuseError if the fuse has been removed.
   */
  ask(): FuseState {
    if (this.faultPpm !== 0 && Math.random() * 1_000_000 < this.faultPpm) {
      this.melt();
      return 'blown';
    }
    // The hot path: one read of shared memory, compared with the two words this generation can
    // hold. A plain read: aligned Int32Array reads are tear-free, so it sees a whole state word,
    // at most nanoseconds old; Atomics.load's fence would cost half the check and buy nothing here.
    const word = this.words[this.index];
    if (word === this.okWord) return 'ok';
    if (word === this.blownWord) return 'blown';
    const state = stateOf(word, this.generation); // on trial (half-open), or removed
    if (state === undefined) throw this.removed();
    return state;
  }

  /** Records a failure; the melt that takes it past `maxR` in `maxT` blows it. */
  melt(): void {
    if (!this.table.melt(this.slot, this.generation)) return;
    this.notify({ type: 'fuseBlown', name: this.name, slot: this.slot, generation: this.generation, blownAt: this.table.blownAt(this.slot) });
  }

  /**
   * Runs `fn` while the fuse is ok and returns its result, melting the fuse if it throws or
   * rejects (and then answering with `fallback(error)`); while it is blown, returns
   * `fallback(error)` without calling `fn`.
   */
  async run<T, F>(fn: () => T | Promise<T>, fallback: (error: unknown) => F | Promise<F>): Promise<T | F> {
    if (this.ask() === 'blown') return fallback(new FuseError(`fuse ${JSON.stringify(this.name)} is blown`));
    try {
      const value = await fn();
      this.table.succeeded(this.slot, this.generation);
      return value;
    } catch (error) {
      this.melt();
      return fallback(error);
    }
  }

  /** Heals it now and forgets past melts. */
  reset(): void {
    this.table.reset(this.slot, this.generation);
  }

  /** Removes it from the table; every handle to it then throws FuseError. */
  remove(): void {
    this.notify({ type: 'fuseRemove', name: this.name });
  }

  /** True while the fuse this handle names is still installed. */
  isCurrent(): boolean {
    return stateOf(this.table.word(this.slot), this.generation) !== undefined;
  }

  /** Melts, blows and heals since it was installed. */
  counters(): FuseCounters {
    return this.table.counters(this.slot);
  }

  private removed(): FuseError {
    return new FuseError(`fuse ${JSON.stringify(this.name)} was removed`);
  }
}

/** This thread's fuses, by name (set up by its runtime): what `fuse(name)` and `ctx.fuse(name)` use. */
let threadFuses: ((name: string) => Fuse) | undefined;

export function setThreadFuses(lookup: (name: string) => Fuse): void {
  threadFuses = lookup;
}

/** The fuse `name` (installed on main with `system.fuse`), from any thread that runs weft. */
export function fuse(name: string): Fuse {
  if (threadFuses === undefined) throw new FuseError(`fuse(${JSON.stringify(name)}) was called outside a weft thread`);
  return threadFuses(name);
}
