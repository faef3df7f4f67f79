/**
 * Fuses (circuit breakers, after jlouis/fuse) in a table of shared memory, so that every thread sees
 * a blown fuse at once and melts from many threads are counted exactly.
 *
 * Main allocates the table (`FuseTable.create`, its size an option of `start`) and hands its buffer
 * to every shard; a restarted shard gets the same buffer, so a fuse's state outlives any thread.
 * One slot per fuse, all Int32 words:
 *
 * | word          | written by                         | meaning                                            |
 * |---------------|------------------------------------|----------------------------------------------------|
 * | STATE         | main (install, heal, reset, remove); any thread (blow: CAS ok → blown) | `generation << 2 \| FREE/OK/BLOWN/TRIAL` |
 * | MAX_R, MAX_T, RESET, FAULT, HALF_OPEN | main, before STATE says OK | the fuse's options (fault in parts per million)   |
 * | MELTS         | any thread, Atomics.add            | melts since install: each melt's sequence number   |
 * | BLOWS, HEALS  | the thread that blows it / main    | counters for stats()                               |
 * | BLOWN_AT      | the thread that blows it           | ms (table clock) of the blow, for the heal timer   |
 * | NAME_LENGTH, NAME | main                           | the name, one UTF-16 code unit a word (≤ 64)       |
 * | TIMES[MAX_R_LIMIT + 1] | any thread (its own melt's index) | melt times (table clock), a ring: melt i at i mod (maxR+1) |
 *
 * Blowing: melt number i (from Atomics.add) stores its time at i mod (maxR+1), then reads the time
 * of melt i - maxR (the slot it would overwrite next): if that melt was within maxT ms, more than
 * maxR melts fell in the window and the fuse blows. `ask` is one read of STATE (a plain read:
 * aligned Int32Array reads are tear-free); the generation in it makes a handle to a removed fuse
 * (or to a slot reused by another) fail loudly.
 * The table clock is `Date.now()` minus an epoch in the header: one clock for every thread (each
 * worker's `performance.now()` has its own origin).
 */
import { InvalidArgumentError, RingCorruptError, describeValue } from './errors.js';

const FREE = 0;
const OK = 1;
const BLOWN = 2;
/** Healed with the half-open policy: the next melt blows it at once; a success makes it OK. */
const TRIAL = 3;
export type FuseState = 'ok' | 'blown';

/** The largest `maxR`: each slot keeps maxR + 1 melt times. */
export const MAX_R_LIMIT = 255;
export const MAX_NAME = 64;

// Slot words.
const STATE = 0;
const MAX_R = 1;
const MAX_T = 2;
const RESET = 3;
const FAULT = 4;
const HALF_OPEN = 5;
const MELTS = 6;
const BLOWS = 7;
const HEALS = 8;
const BLOWN_AT = 9;
const NAME_LENGTH = 10;
const NAME = 11;
const TIMES = NAME + MAX_NAME;
const SLOT_WORDS = TIMES + MAX_R_LIMIT + 1;

// Header words.
const MAGIC = 0;
const SLOTS = 1;
/** The table clock's zero: seconds since 1970 at creation (ms would not fit an Int32). */
const EPOCH_SECONDS = 2;
const HEADER_WORDS = 16;
const MAGIC_VALUE = 0x66757365; // 'fuse'

export interface FuseOptions {
  /** More than `maxR` melts within `maxT` ms blow the fuse. */
  maxR: number;
  maxT: number;
  /** Milliseconds after a blow that it heals by itself. */
  reset: number;
  /** Heal into a trial: the first melt after it blows again at once. @default false */
  halfOpen: boolean;
  /** Fault injection: the fraction of `ask`s that melt the fuse and answer 'blown' (0..1). @default 0 */
  fault: number;
}

export interface FuseCounters {
  melts: number;
  blows: number;
  heals: number;
}

export class FuseTable {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  /** The table's words; `ask` reads a fuse's STATE word straight from here (see `stateIndex`). */
  readonly words: Int32Array;
  private readonly epochMs: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.slots = this.words[SLOTS];
    this.epochMs = this.words[EPOCH_SECONDS] * 1000;
  }

  /** Main: a table of `slots` empty slots. */
  static create(slots: number): FuseTable {
    if (!Number.isInteger(slots) || slots < 0 || slots > 65_536) throw new InvalidArgumentError(`expected \`fuses\` to be an integer from 0 to 65536, got: ${describeValue(slots)}`);
    const buffer = new SharedArrayBuffer((HEADER_WORDS + slots * SLOT_WORDS) * 4);
    const words = new Int32Array(buffer);
    words[MAGIC] = MAGIC_VALUE;
    words[SLOTS] = slots;
    words[EPOCH_SECONDS] = Math.floor(Date.now() / 1000) - 1;
    return new FuseTable(buffer);
  }

  /** Any thread: the table main created. */
  static attach(buffer: SharedArrayBuffer): FuseTable {
    const words = new Int32Array(buffer);
    if (words[MAGIC] !== MAGIC_VALUE || buffer.byteLength !== (HEADER_WORDS + words[SLOTS] * SLOT_WORDS) * 4) {
      throw new RingCorruptError(`expected the SharedArrayBuffer of a weft fuse table, got one of ${buffer.byteLength} bytes`);
    }
    return new FuseTable(buffer);
  }

  /** Milliseconds on the table's clock (the same on every thread). */
  now(): number {
    return Date.now() - this.epochMs;
  }

  private base(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS;
  }

  // ── main only ─────────────────────────────────────────────────────────────────────────────────

  /** Writes a new fuse into a free slot and returns the slot; -1 if the table is full. */
  install(name: string, options: FuseOptions): number {
    for (let slot = 0; slot < this.slots; slot++) {
      const base = this.base(slot);
      const state = this.words[base + STATE];
      if ((state & 3) !== FREE) continue;
      const w = this.words;
      w[base + MAX_R] = options.maxR;
      w[base + MAX_T] = options.maxT;
      w[base + RESET] = options.reset;
      w[base + FAULT] = Math.round(options.fault * 1_000_000);
      w[base + HALF_OPEN] = options.halfOpen ? 1 : 0;
      w[base + MELTS] = 0;
      w[base + BLOWS] = 0;
      w[base + HEALS] = 0;
      w[base + NAME_LENGTH] = name.length;
      for (let i = 0; i < name.length; i++) w[base + NAME + i] = name.charCodeAt(i);
      w.fill(-(2 ** 30), base + TIMES, base + TIMES + options.maxR + 1); // long ago
      // Last, with a store other threads read with Atomics.load: the options are visible before it.
      Atomics.store(w, base + STATE, (((state >>> 2) + 1) << 2) | OK);
      return slot;
    }
    return -1;
  }

  /** Frees `slot` (a new generation: handles to the old fuse fail). */
  remove(slot: number): void {
    const index = this.base(slot) + STATE;
    Atomics.store(this.words, index, (((Atomics.load(this.words, index) >>> 2) + 1) << 2) | FREE);
  }

  /**
   * Heals `slot` if it is still blown by the blow at `blownAt` (a reset or a later blow since then
   * leave it be): OK again with a fresh window, or TRIAL with the half-open policy.
   */
  heal(slot: number, generation: number, blownAt: number): boolean {
    const base = this.base(slot);
    if (Atomics.load(this.words, base + BLOWN_AT) !== blownAt) return false;
    const trial = this.words[base + HALF_OPEN] === 1;
    // A healed fuse starts a fresh window, as jlouis/fuse's does: the melts that blew it are history.
    this.words.fill(-(2 ** 30), base + TIMES, base + TIMES + this.words[base + MAX_R] + 1);
    if (Atomics.compareExchange(this.words, base + STATE, (generation << 2) | BLOWN, (generation << 2) | (trial ? TRIAL : OK)) !== ((generation << 2) | BLOWN)) return false;
    Atomics.add(this.words, base + HEALS, 1);
    return true;
  }

  /** Resets `slot` to OK whatever its state, forgetting past melts' times (any thread). */
  reset(slot: number, generation: number): void {
    const w = this.words;
    const base = this.base(slot);
    const state = Atomics.load(w, base + STATE);
    if (state >>> 2 !== generation || (state & 3) === FREE) return;
    w.fill(-(2 ** 30), base + TIMES, base + TIMES + w[base + MAX_R] + 1);
    Atomics.store(w, base + STATE, (generation << 2) | OK);
  }

  /** When `slot` last blew (table clock). */
  blownAt(slot: number): number {
    return Atomics.load(this.words, this.base(slot) + BLOWN_AT);
  }

  // ── any thread ────────────────────────────────────────────────────────────────────────────────

  /** Every installed fuse: name, state and counters (for `system.stats()`). */
  installed(): Array<{ name: string; state: FuseState } & FuseCounters> {
    const out: Array<{ name: string; state: FuseState } & FuseCounters> = [];
    const w = this.words;
    for (let slot = 0; slot < this.slots; slot++) {
      const base = this.base(slot);
      const word = Atomics.load(w, base + STATE);
      if ((word & 3) === FREE) continue;
      const name = String.fromCharCode(...w.subarray(base + NAME, base + NAME + w[base + NAME_LENGTH]));
      out.push({ name, state: (word & 3) === BLOWN ? 'blown' : 'ok', ...this.counters(slot) });
    }
    return out;
  }

  /** The slot and generation of the fuse named `name`, or undefined. */
  find(name: string): { slot: number; generation: number } | undefined {
    const w = this.words;
    for (let slot = 0; slot < this.slots; slot++) {
      const base = this.base(slot);
      const state = Atomics.load(w, base + STATE);
      if ((state & 3) === FREE || w[base + NAME_LENGTH] !== name.length) continue;
      let same = true;
      for (let i = 0; i < name.length && same; i++) same = w[base + NAME + i] === name.charCodeAt(i);
      if (same) return { slot, generation: state >>> 2 };
    }
    return undefined;
  }

  options(slot: number): FuseOptions {
    const w = this.words;
    const base = this.base(slot);
    return { maxR: w[base + MAX_R], maxT: w[base + MAX_T], reset: w[base + RESET], fault: w[base + FAULT] / 1_000_000, halfOpen: w[base + HALF_OPEN] === 1 };
  }

  /** Where `slot`'s STATE word is in `words`. */
  stateIndex(slot: number): number {
    return this.base(slot) + STATE;
  }

  /**
   * The state word of `slot` (one atomic load): `generation << 2 | state`. `stateOf` reads it.
   */
  word(slot: number): number {
    return Atomics.load(this.words, this.base(slot) + STATE);
  }

  /**
   * Records a melt of `slot` (generation `generation`); returns true if this melt blew the fuse
   * (the caller then tells main, which heals it after `reset`).
   */
  melt(slot: number, generation: number): boolean {
    const w = this.words;
    const base = this.base(slot);
    const state = Atomics.load(w, base + STATE);
    if (state >>> 2 !== generation || (state & 3) === FREE) return false;
    const maxR = w[base + MAX_R];
    const now = this.now();
    const index = Atomics.add(w, base + MELTS, 1); // this melt's number, exact under any race
    Atomics.store(w, base + TIMES + (index % (maxR + 1)), now);
    const blows = (state & 3) === TRIAL || (index >= maxR && now - Atomics.load(w, base + TIMES + ((index - maxR) % (maxR + 1))) <= w[base + MAX_T]);
    if (!blows || (state & 3) === BLOWN) return false;
    // Exactly one melt blows it: the one whose CAS takes the state from OK (or TRIAL) to BLOWN.
    if (Atomics.compareExchange(w, base + STATE, state, (generation << 2) | BLOWN) !== state) return false;
    Atomics.store(w, base + BLOWN_AT, now);
    Atomics.add(w, base + BLOWS, 1);
    return true;
  }

  /** A success while on trial (half-open): OK again. */
  succeeded(slot: number, generation: number): void {
    const index = this.base(slot) + STATE;
    Atomics.compareExchange(this.words, index, (generation << 2) | TRIAL, (generation << 2) | OK);
  }

  counters(slot: number): FuseCounters {
    const base = this.base(slot);
    return { melts: Atomics.load(this.words, base + MELTS), blows: Atomics.load(this.words, base + BLOWS), heals: Atomics.load(this.words, base + HEALS) };
  }

  /** The fault rate of `slot` in parts per million (0: none). */
  faultPpm(slot: number): number {
    return this.words[this.base(slot) + FAULT];
  }
}

/** The STATE word of a fuse of generation `generation` that is ok or blown. */
export function stateWord(generation: number, state: FuseState): number {
  return (generation << 2) | (state === 'ok' ? OK : BLOWN);
}

/** What a state word says, for a handle of generation `generation`: 'ok', 'blown', or undefined (removed). */
export function stateOf(word: number, generation: number): FuseState | undefined {
  if (word >>> 2 !== generation || (word & 3) === FREE) return undefined;
  return (word & 3) === BLOWN ? 'blown' : 'ok';
}
