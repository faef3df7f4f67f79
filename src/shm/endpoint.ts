/**
 * One thread's end of a ring set: its outbound rings to every other thread, its inbound rings from
 * them, and its doorbell. The scheduler of a shard (and main's receiver) is built on this.
 *
 * Wake-up protocol, one bell word per consumer thread (see ring-set.ts for where it lives):
 *
 * | bell value | meaning                                       | written by                       |
 * |------------|-----------------------------------------------|----------------------------------|
 * | AWAKE (0)  | the owner is running or spinning; no notify   | owner (store), waker (CAS)       |
 * | PARKED (1) | the owner is about to wait or is waiting      | owner (store)                    |
 *
 * | interrupt    | 1: a `wait()` must return though nothing came | interrupter (store), owner (exchange 0 as `wait` returns) |
 *
 * Consumer (`wait`): find nothing to read → spin up to `spinMicros` re-checking (unless the last
 * few spins all found nothing, or other threads hold every core: see `spinWindow`) → store PARKED
 * → check the rings once more → `Atomics.waitAsync(bell, PARKED)` → store AWAKE.
 * Producer (`send`): publish the frame (TAIL store) → load the bell → only if PARKED, CAS it to
 * AWAKE and, if the CAS won, `Atomics.notify`.
 *
 * Why no wake-up is lost: the consumer stores PARKED before its last check of TAIL, and the producer
 * stores TAIL before it loads the bell. With sequentially consistent atomics one of the two sees the
 * other's store: either the consumer finds the frame and does not wait, or the producer sees PARKED
 * and notifies (and if it does so before the consumer reaches `waitAsync`, the bell is no longer
 * PARKED and `waitAsync` returns at once with 'not-equal').
 *
 * Why it costs nothing under load: a consumer that always finds frames never parks, so producers
 * only ever load a bell that reads AWAKE: a plain read of a cache line nobody is writing. `stats`
 * counts parks and notifies so a benchmark can show both stay at zero under steady load.
 *
 * The same bell also wakes a producer whose overflow can move: a consumer that frees space in a
 * ring whose SPACE_WANTED is up rings the producer's thread's bell.
 */
import { InvalidArgumentError, describeValue } from './errors.js';
import type { MessageEncoder } from './codec.js';
import type { FrameHandler, RingConsumer, RingProducer } from './ring.js';
import { KIND_MASK } from './ring-layout.js';
import { bellIndex, interruptIndex, taskIndex, type RingSet } from './ring-set.js';

const AWAKE = 0;
const PARKED = 1;

/** True while `thread` is parked (idle, waiting on its bell): main's watchdog does not count that as hung. */
export function isParked(set: RingSet, thread: number): boolean {
  return Atomics.load(set.words, bellIndex(thread)) === PARKED;
}
/** The longest delay a Node timer takes; it only holds the loop open and fires at most every 24 days. */
const KEEP_ALIVE_MS = 2 ** 31 - 1;
const noop = (): void => {};
const RESOLVED: Promise<void> = Promise.resolve();
/** Waits in a row that outlasted their spin before `wait()` stops spinning (see `spinWindow`). */
const SPIN_MISSES_TO_PARK = 3;
/** While not spinning, every this many waits spins anyway, to notice traffic that got dense. */
const SPIN_PROBE_EVERY = 64;

export interface EndpointOptions {
  /**
   * How long `wait()` spins, re-checking the rings, before it parks. Spinning turns a ~14 µs
   * park/wake round trip into well under 1 µs when the next frame comes soon, at the price of CPU
   * burnt while idle (at most this long per idle period). Never unbounded.
   * @default 50
   */
  spinMicros?: number;
  /**
   * Cores the ring set's threads share. A wait does not spin while as many other threads hold one
   * (see `coresTaken`): its spin would only take a core from a thread with work, often the one
   * whose message it waits for, and the scheduler's slices would then stall both for milliseconds.
   * @default Infinity (spin whatever the others do)
   */
  cores?: number;
  /** Largest payload per frame before a message is split; see RingProducer. @default capacity / 4 - 8 */
  maxFramePayload?: number;
  /**
   * Keep this thread's event loop alive while parked. A pending `Atomics.waitAsync` does not hold
   * the loop open on its own (Node exits a thread, or the process, whose loop has nothing else to
   * do), so a parked endpoint holds a ref'd timer unless told not to. Turn it off where something
   * else decides the thread's life, as main does when no reply is outstanding.
   * @default true
   */
  keepAlive?: boolean;
}

/** No word before the message (see `sendMessage`). */
export const NO_WORD = -1;

/** Writes one or two int32 words, little-endian, at `at`. */
function writeWords(bytes: Uint8Array, at: number, word0: number, word1: number): void {
  bytes[at] = word0;
  bytes[at + 1] = word0 >> 8;
  bytes[at + 2] = word0 >> 16;
  bytes[at + 3] = word0 >> 24;
  if (word1 === NO_WORD) return;
  bytes[at + 4] = word1;
  bytes[at + 5] = word1 >> 8;
  bytes[at + 6] = word1 >> 16;
  bytes[at + 7] = word1 >> 24;
}

/** Reads the int32 word `sendMessage` wrote at `at`. */
export function readWord(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}

/** `sendMessage` encodes in place when at least this much contiguous room is free in the ring. */
const MIN_CLAIM = 64;

/** Receives one whole message, `bytes[start, end)`, from thread `from`; valid only until it returns. */
export type MessageHandler = (from: number, kind: number, bytes: Uint8Array, start: number, end: number) => void;

/** Counters for one endpoint, kept by its own thread (plain numbers, no atomics). */
export interface EndpointStats {
  messagesSent: number;
  messagesReceived: number;
  /** `Atomics.notify` calls made to wake a parked thread. */
  notifies: number;
  /** Times this thread parked (entered `Atomics.waitAsync`). */
  parks: number;
  /** Frames that waited in overflow because a ring was full. */
  overflowed: number;
}

/**
 * Wakes thread `thread` if it is parked. Only the waker whose CAS wins makes the syscall; the rest
 * see AWAKE and leave it. Returns the number of notifies made (0 or 1).
 */
function ringBell(words: Int32Array, thread: number): number {
  const bell = bellIndex(thread);
  if (Atomics.compareExchange(words, bell, PARKED, AWAKE) !== PARKED) return 0;
  Atomics.notify(words, bell, 1);
  return 1;
}

/**
 * Makes `thread`'s current or next `Endpoint.wait()` return, from any thread (main uses it to stop
 * a shard). The interrupt word is raised before the bell is rung, and the parking thread raises its
 * bell before it looks at the word, so the interrupt is never lost. Returns the notifies made.
 */
export function interruptThread(set: RingSet, thread: number): number {
  Atomics.store(set.words, interruptIndex(thread), 1);
  return ringBell(set.words, thread);
}

export class Endpoint {
  readonly self: number;
  readonly set: RingSet;
  readonly spinMicros: number;
  private readonly cores: number;
  keepAlive: boolean;
  readonly stats: EndpointStats = { messagesSent: 0, messagesReceived: 0, notifies: 0, parks: 0, overflowed: 0 };
  /** Indexed by peer thread; undefined at `self`. */
  private readonly outbound: Array<RingProducer | undefined> = [];
  private readonly inbound: Array<RingConsumer | undefined> = [];
  private readonly peers: number[] = [];
  /** Peers whose outbound ring holds overflow, in no particular order. */
  private readonly backedUp = new Set<number>();
  /** Per peer, who waits in `drained(peer)` for its overflow to go out. */
  private readonly drainWaiters = new Map<number, Array<() => void>>();
  private readonly bell: number;
  private readonly interruptWord: number;
  /** See `keepAliveTimer`. */
  private holdTimer: NodeJS.Timeout | undefined;
  /** True between `cork` and `uncork`. */
  private corked = false;
  /** Which inbound ring `drain` starts with; rotates so no sender is starved. */
  private nextPeer = 0;
  /** The handler of the `drain` in progress, and per peer a forwarder that adds `from` to it, made
   *  once so that draining allocates nothing. */
  private handler: MessageHandler = () => {};
  private readonly forwarders: Array<FrameHandler | undefined> = [];

  constructor(set: RingSet, self: number, options: EndpointOptions = {}) {
    if (!Number.isInteger(self) || self < 0 || self >= set.threads) {
      throw new InvalidArgumentError(`expected \`self\` to be a thread from 0 to ${set.threads - 1}, got: ${describeValue(self)}`);
    }
    const spin = options.spinMicros ?? 50;
    if (!Number.isFinite(spin) || spin < 0 || spin > 1_000_000) {
      throw new InvalidArgumentError(`expected \`spinMicros\` to be a number from 0 to 1000000, got: ${describeValue(options.spinMicros)}`);
    }
    this.set = set;
    this.self = self;
    this.spinMicros = spin;
    const cores = options.cores ?? Infinity;
    if (cores !== Infinity && !(Number.isInteger(cores) && cores >= 1)) {
      throw new InvalidArgumentError(`expected \`cores\` to be a positive integer or Infinity, got: ${describeValue(options.cores)}`);
    }
    this.cores = cores;
    this.keepAlive = options.keepAlive ?? true;
    this.bell = bellIndex(self);
    this.interruptWord = interruptIndex(self);
    for (let peer = 0; peer < set.threads; peer++) {
      if (peer === self) {
        this.outbound.push(undefined);
        this.inbound.push(undefined);
        this.forwarders.push(undefined);
        continue;
      }
      this.peers.push(peer);
      this.forwarders[peer] = (kind, bytes, start, end) => this.handler(peer, kind, bytes, start, end);
      this.outbound.push(set.producer(self, peer, { maxFramePayload: options.maxFramePayload }));
      this.inbound.push(set.consumer(peer, self));
    }
  }

  /**
   * Sends one message to thread `to`, waking it if it is parked. Never drops and never blocks: if
   * the ring is full the message waits in overflow and goes out from `drain`/`flush` once the
   * consumer frees space (it rings our bell when it does).
   */
  send(to: number, kind: number, bytes: Uint8Array, start = 0, end: number = bytes.length): void {
    const ring = this.ring(to, kind);
    this.stats.messagesSent++;
    if (!ring.push(kind, bytes, start, end)) this.noteBackedUp(to);
    if (ring.unseenPublish) this.wakeAfterPublish(to, ring);
  }

  /**
   * Encodes `message` with `encoder` (the one paired with thread `to`'s decoder for us) and sends
   * it, like `send`. Up to two non-negative int32 words (`word0`, `word1`: an actor's serial, a call's
   * ref) go before the encoded bytes, little-endian; the receiver reads them with `readWord`. Words
   * rather than an envelope array: they cost no allocation and no codec work on either side. Plain data is encoded straight into the ring's free space, with no copy; the
   * rest (and anything that does not fit now) is encoded aside and copied. Throws `EncodeError` for
   * a value that cannot travel, and then nothing was sent.
   */
  sendMessage(to: number, kind: number, message: unknown, encoder: MessageEncoder, word0 = NO_WORD, word1 = NO_WORD): void {
    const ring = this.ring(to, kind);
    const prefix = word0 === NO_WORD ? 0 : word1 === NO_WORD ? 4 : 8;
    const at = ring.claim(MIN_CLAIM);
    if (at !== -1) {
      const end = encoder.encodeInto(message, ring.bytes, at + prefix, ring.claimEnd);
      if (end !== -1) {
        if (prefix !== 0) writeWords(ring.bytes, at, word0, word1);
        this.stats.messagesSent++;
        ring.commit(kind, end - at);
        if (ring.unseenPublish) this.wakeAfterPublish(to, ring);
        return;
      }
      // Not plain data, or no room: give the room back (a skip marker the claim wrote included),
      // so a message that then fails to encode leaves nothing behind for the consumer to wake on.
      ring.abandonClaim();
    }
    const length = encoder.encodeToScratch(message);
    const start = encoder.scratchStart;
    if (prefix === 0) {
      this.send(to, kind, encoder.scratch, start, start + length);
      return;
    }
    // The slow path (not plain data, or no room in place): join the words and the body once.
    const frame = new Uint8Array(prefix + length);
    writeWords(frame, 0, word0, word1);
    frame.set(encoder.scratch.subarray(start, start + length), prefix);
    this.send(to, kind, frame);
  }

  /**
   * Sends a frame of `kind` whose whole payload is one int32 `word` (a request's ref) ahead of any
   * overflow to thread `to` (`RingProducer.pushUrgent`): `stats()` must answer while a producer
   * has megabytes queued for that thread. No codec is involved, so overtaking frames that were
   * encoded earlier cannot put the pair's decoder out of step.
   */
  sendUrgentWord(to: number, kind: number, word: number): void {
    const ring = this.ring(to, kind);
    writeWords(this.urgentFrame, 0, word, NO_WORD);
    this.stats.messagesSent++;
    if (!ring.pushUrgent(kind, this.urgentFrame, 0, 4)) this.noteBackedUp(to);
    if (ring.unseenPublish) this.wakeAfterPublish(to, ring);
  }

  private readonly urgentFrame = new Uint8Array(4);

  /**
   * Sends `message` on the control lane to thread `to`: ahead of any data held back for it
   * (`RingProducer.pushUrgent`), in order with the other control frames. `encoder` must be the
   * control lane's own (paired with a decoder the receiver uses for control frames only): a data
   * pair's decoder must see its frames in the order they were encoded. Words as in `sendMessage`.
   * Throws `EncodeError` for a value that cannot travel, and then nothing was sent.
   */
  sendUrgentMessage(to: number, kind: number, message: unknown, encoder: MessageEncoder, word0 = NO_WORD, word1 = NO_WORD): void {
    const ring = this.ring(to, kind);
    const prefix = word0 === NO_WORD ? 0 : word1 === NO_WORD ? 4 : 8;
    const length = encoder.encodeToScratch(message);
    const start = encoder.scratchStart;
    const frame = new Uint8Array(prefix + length);
    if (prefix !== 0) writeWords(frame, 0, word0, word1);
    frame.set(encoder.scratch.subarray(start, start + length), prefix);
    this.stats.messagesSent++;
    if (!ring.pushUrgent(kind, frame, 0, frame.length)) this.noteBackedUp(to);
    if (ring.unseenPublish) this.wakeAfterPublish(to, ring);
  }

  /**
   * From now until `uncork`, sends are written but made visible in one store per ring at `uncork`
   * (or whenever a quarter of a ring is waiting), and waking a parked peer waits for it too. `drain`
   * corks around its handlers by itself; corking is for a burst of sends outside a drain.
   */
  cork(): void {
    this.corked = true;
    for (const peer of this.peers) this.outbound[peer]!.corked = true;
  }

  /** Runs `sends` corked (unless already corked: then the outer uncork publishes), then publishes. */
  corkedAround(sends: () => void): void {
    const corkedHere = !this.corked;
    if (corkedHere) this.cork();
    try {
      sends();
    } finally {
      if (corkedHere) this.uncork();
    }
  }

  /**
   * Publishes everything sent so far while corked, and wakes the peers that need it, but stays
   * corked: for a handler about to run long, so the answers of those before it in the batch go out
   * now rather than after it (a task sent ahead: src/common/task-runner.ts).
   */
  publishCorked(): void {
    for (const peer of this.peers) {
      const ring = this.outbound[peer]!;
      ring.publish();
      if (ring.unseenPublish) this.wakeAfterPublish(peer, ring);
    }
  }

  /** Publishes everything sent while corked and wakes the peers that need it. */
  uncork(): void {
    this.corked = false;
    for (const peer of this.peers) {
      const ring = this.outbound[peer]!;
      ring.corked = false;
      ring.publish();
      if (ring.unseenPublish) this.wakeAfterPublish(peer, ring);
    }
  }

  /**
   * Hands up to `budget` waiting messages to `onMessage`, taking turns among the senders, then
   * moves any overflow that now fits. Returns the number of messages handed on.
   */
  drain(onMessage: MessageHandler, budget = 1024): number {
    let total = 0;
    this.handler = onMessage;
    // What the handlers send goes out in one publish per ring at the end of the batch.
    const corkedHere = !this.corked;
    if (corkedHere) this.cork();
    try {
      total = this.drainRings(budget);
    } finally {
      if (corkedHere) this.uncork();
    }
    this.stats.messagesReceived += total;
    // The first drain after a park that finds a backlog: frames came faster than this thread
    // woke, so the traffic is dense, and a spin would have caught them one publish at a time
    // rather than cost a notify each. Sparse traffic wakes to one message.
    if (this.wokeFromPark) {
      this.wokeFromPark = false;
      if (total > 1) this.spinMisses = 0;
    }
    if (this.backedUp.size !== 0) this.flush();
    return total;
  }

  private drainRings(budget: number): number {
    let total = 0;
    const peers = this.peers;
    const count = peers.length;
    const first = this.nextPeer;
    for (let i = 0; i < count && total < budget; i++) {
      const index = (first + i) % count;
      const from = peers[index];
      const ring = this.inbound[from]!;
      if (!ring.hasFrames()) continue;
      const got = ring.drain(this.forwarders[from]!, budget - total);
      total += got;
      // The next drain starts after the last sender served, so busy senders take turns whatever
      // the idle ones do.
      this.nextPeer = (index + 1) % count;
      // We freed space: if that producer is holding overflow for us, let its thread know.
      if (ring.producerWantsSpace()) this.wake(from);
    }
    return total;
  }

  /** Moves overflow into rings that have room again. True when nothing is held back. */
  flush(): boolean {
    for (const to of this.backedUp) {
      const ring = this.outbound[to]!;
      if (ring.flush()) {
        this.backedUp.delete(to);
        this.releaseDrainWaiters(to);
      }
      if (ring.unseenPublish) this.wakeAfterPublish(to, ring);
    }
    return this.backedUp.size === 0;
  }

  /**
   * Payload bytes held back for thread `to`: its ring is full and these wait in this thread's
   * overflow. What a producer reads to slow down before memory does it for it.
   */
  pendingBytes(to: number): number {
    return this.backedUp.has(to) ? this.outbound[to]!.pendingBytes : 0;
  }

  /** Frames held back for thread `to` (see `pendingBytes`). */
  pendingFrames(to: number): number {
    return this.backedUp.has(to) ? this.outbound[to]!.pendingFrames : 0;
  }

  /**
   * Resolves once nothing is held back for thread `to`: at once if nothing is, else when its
   * overflow has gone into the ring (the consumer freed space and this thread flushed), or when
   * the peer is forgotten (`resetPeer`) or every wait is let go (`releaseAllDrainWaiters`).
   * Node streams' `'drain'`, for one path.
   */
  drained(to: number): Promise<void> {
    if (!this.backedUp.has(to)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiters = this.drainWaiters.get(to);
      if (waiters === undefined) this.drainWaiters.set(to, [resolve]);
      else waiters.push(resolve);
    });
  }

  /** Resolves every `drained` wait (the system is stopping: nothing will flush any more). */
  releaseAllDrainWaiters(): void {
    for (const to of [...this.drainWaiters.keys()]) this.releaseDrainWaiters(to);
  }

  private releaseDrainWaiters(to: number): void {
    const waiters = this.drainWaiters.get(to);
    if (waiters === undefined) return;
    this.drainWaiters.delete(to);
    for (const resolve of waiters) resolve();
  }

  /**
   * Forgets thread `peer` (it died): both rings with it are emptied and start afresh, its held-back
   * overflow is dropped. What it had sent and we had not read is read first, by `onMessage`, since
   * it was sent before it died (a crashed thread's last casts are delivered, as Erlang's are).
   * Safe because `peer` is gone: this thread is the only one touching these two rings until main
   * starts the new incarnation, which it does only once every live thread has reset them.
   */
  resetPeer(peer: number, onMessage: MessageHandler): void {
    const inbound = this.inbound[peer]!;
    this.handler = onMessage;
    try {
      while (inbound.hasFrames() && inbound.drain(this.forwarders[peer]!, 1024) !== 0);
    } catch {
      // A frame cut short by the death (a chunked message half written): the rest is dropped.
    }
    this.backedUp.delete(peer);
    this.releaseDrainWaiters(peer); // its overflow is dropped with it: nothing is held back now
    this.set.resetPair(this.self, peer);
    const producer = this.set.producer(this.self, peer, { maxFramePayload: this.outbound[peer]!.maxFramePayload });
    producer.corked = this.corked;
    this.outbound[peer] = producer;
    this.inbound[peer] = this.set.consumer(peer, this.self);
  }

  /** Messages held back in overflow, across all outbound rings. */
  get pendingOut(): number {
    let n = 0;
    for (const to of this.backedUp) n += this.outbound[to]!.pendingFrames;
    return n;
  }

  /** True if a message is waiting to be read, or held-back overflow can now move. */
  hasWork(): boolean {
    const inbound = this.inbound;
    for (const peer of this.peers) if (inbound[peer]!.hasFrames()) return true;
    if (this.backedUp.size !== 0) {
      for (const to of this.backedUp) if (this.outbound[to]!.canFlush()) return true;
    }
    return false;
  }

  /**
   * Resolves when there may be work: at once if there is, after a bounded spin if work comes soon,
   * else when a producer (or `interrupt`) rings this thread's bell. `spinMicros` overrides the
   * endpoint's spin window for this wait (0: park at once, e.g. when nothing is expected). Never a blocking wait: the
   * thread's event loop keeps running while parked.
   *
   * The spin is adaptive (see `spinWindow`): it is only worth its CPU when the next frame comes
   * within the window, so after a few waits in a row that outlasted it the thread parks at once,
   * and spins again as soon as a wait shows that a spin would have paid.
   *
   * Not an async function: a park is one promise (waitAsync's, then `afterPark`), not three.
   */
  wait(spinMicros: number = this.spinMicros): Promise<void> {
    // Frames we have written but not published would never be read while we sleep.
    if (this.corked) this.uncork();
    if (this.ready()) return this.woken();
    const window = this.spinWindow(spinMicros);
    if (window > 0) {
      if (this.spin(window)) {
        this.spinMisses = 0;
        return this.woken();
      }
      this.spinMisses++;
    }
    this.parkedAt = window === 0 && spinMicros > 0 ? performance.now() : -1;
    this.parkWindow = spinMicros;
    return this.park();
  }

  /**
   * How long this wait spins: `spinMicros`, unless the last SPIN_MISSES_TO_PARK waits all outlasted
   * their spin (sparse traffic: each of those spins only burnt CPU, and on a loaded machine took
   * the core from the thread about to answer); then 0, with a probe of the full window every
   * SPIN_PROBE_EVERY waits. A parked wait that ends within `spinMicros` (see `afterPark`), or one
   * that wakes to more than one message (see `drain`: a stream whose producer was descheduled for
   * a while, not sparse traffic), brings the spin back.
   */
  private spinWindow(spinMicros: number): number {
    if (spinMicros <= 0 || this.coresTaken()) return 0;
    if (this.spinMisses < SPIN_MISSES_TO_PARK) return spinMicros;
    return ++this.spinProbe % SPIN_PROBE_EVERY === 0 ? spinMicros : 0;
  }

  /**
   * True if other threads hold every core (see `EndpointOptions.cores`). Main holds one unless it
   * is parked; a shard holds one while it runs a task (its TASK word, ring-set.ts `taskIndex`, is 0
   * between tasks). A shard busy with actors' messages is not seen, so this errs towards spinning,
   * as a thread did before it looked; a shard that went down in a task is seen until main resets
   * its line (root-supervisor.ts `recover`), which only skips spins meanwhile.
   */
  private coresTaken(): boolean {
    if (this.cores === Infinity) return false;
    const words = this.set.words;
    let taken = 0;
    for (const peer of this.peers) {
      const busy = peer === 0 ? Atomics.load(words, bellIndex(0)) !== PARKED : Atomics.load(words, taskIndex(peer)) !== 0;
      if (busy && ++taken >= this.cores) return true;
    }
    return false;
  }

  /** Waits in a row whose spin found nothing (see `spinWindow`). */
  private spinMisses = 0;
  private spinProbe = 0;
  /** Set as a park ends, cleared by the next `drain` (which looks at what the park let pile up). */
  private wokeFromPark = false;
  /** When the current park began, if it skipped its spin (else -1), and the window it skipped. */
  private parkedAt = -1;
  private parkWindow = 0;

  /** Re-checks for up to `spinMicros`; true as soon as there is something to do. */
  private spin(spinMicros: number): boolean {
    if (spinMicros <= 0) return false;
    const until = performance.now() + spinMicros / 1000;
    do {
      if (this.ready()) return true;
    } while (performance.now() < until);
    return false;
  }

  /** Delivers a pending interrupt (this return of `wait()` is it) and resolves. */
  private woken(): Promise<void> {
    Atomics.exchange(this.set.words, this.interruptWord, 0);
    return RESOLVED;
  }

  private park(): Promise<void> {
    const words = this.set.words;
    Atomics.store(words, this.bell, PARKED);
    // Check once more with the flag up: a producer that published (or an interrupter that raised
    // its word) before seeing PARKED did not notify, so what it did must be found here.
    if (this.ready()) {
      Atomics.store(words, this.bell, AWAKE);
      return this.woken();
    }
    this.stats.parks++;
    const result = Atomics.waitAsync(words, this.bell, PARKED);
    if (!result.async) {
      this.afterPark();
      return RESOLVED;
    }
    if (this.keepAlive) this.keepAliveTimer().ref();
    return result.value.then(this.afterPark);
  }

  /**
   * The rest of a park, once woken (or never asleep): bound once, so a park allocates no closure,
   * and returning nothing, so the promise `then` makes settles in one step (a returned promise
   * would cost two more microtask turns).
   */
  private readonly afterPark = (): void => {
    this.holdTimer?.unref();
    // The bell is AWAKE already if a waker's CAS won; stored again for a wake by timeout or a
    // waitAsync that found the word changed. Only this thread stores PARKED, so this cannot lose one.
    Atomics.store(this.set.words, this.bell, AWAKE);
    // A skipped spin that would have paid (the wake came within the window): spin again.
    if (this.parkedAt >= 0 && (performance.now() - this.parkedAt) * 1000 <= this.parkWindow) this.spinMisses = 0;
    this.wokeFromPark = true;
    Atomics.exchange(this.set.words, this.interruptWord, 0);
  };

  /**
   * One timer for the endpoint's life, ref'd only while parked: toggling a ref is far cheaper than
   * creating and clearing a timer per park (measured ~10 µs per wake-up here).
   */
  private keepAliveTimer(): NodeJS.Timeout {
    this.holdTimer ??= setInterval(noop, KEEP_ALIVE_MS).unref();
    return this.holdTimer;
  }

  /** Work to do, or an interrupt to deliver. */
  private ready(): boolean {
    return this.hasWork() || Atomics.load(this.set.words, this.interruptWord) !== 0;
  }

  /**
   * Makes this thread's current or next `wait()` return, even with nothing to read (e.g. to stop).
   * Not lost if it comes before the thread parks: it is remembered until a `wait()` returns.
   * `interruptThread` does the same from any thread.
   */
  interrupt(): void {
    this.stats.notifies += interruptThread(this.set, this.self);
  }

  /** The ring to thread `to`, after checking `to` and `kind` (a bad kind would corrupt the frame header). */
  private ring(to: number, kind: number): RingProducer {
    const ring = this.outbound[to];
    if (ring === undefined) throw new InvalidArgumentError(`expected a peer thread other than ${this.self} from 0 to ${this.set.threads - 1}, got: ${describeValue(to)}`);
    if ((kind & KIND_MASK) !== kind) throw new InvalidArgumentError(`expected a frame kind to be an integer from 0 to 255, got: ${describeValue(kind)}`);
    return ring;
  }

  private noteBackedUp(to: number): void {
    this.backedUp.add(to);
    this.stats.overflowed = this.countOverflowed();
  }

  /** After `ring` made frames visible: wake its consumer if it is parked. */
  private wakeAfterPublish(to: number, ring: RingProducer): void {
    ring.unseenPublish = false;
    this.wake(to);
  }

  /** Wakes thread `to` if it is parked; a load of an unchanging word when it is not. */
  private wake(to: number): void {
    const words = this.set.words;
    if (Atomics.load(words, bellIndex(to)) === PARKED) this.ringBell(to);
  }

  private ringBell(to: number): void {
    this.stats.notifies += ringBell(this.set.words, to);
  }

  private countOverflowed(): number {
    let n = 0;
    for (const ring of this.outbound) if (ring !== undefined) n += ring.overflowed;
    return n;
  }
}
