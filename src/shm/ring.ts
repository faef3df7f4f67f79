/**
 * A single-producer single-consumer ring of variable-length frames in shared memory.
 *
 * The algorithm is the classic Lamport SPSC queue with each side caching the other side's index
 * (as in rigtorp's SPSCQueue): the producer alone writes TAIL, the consumer alone writes HEAD, so no
 * compare-and-swap is ever needed, and each side reads the other's word only when its cached copy
 * says the ring is full (producer) or empty (consumer).
 *
 * ```
 *  base                                                                  base + RING_HEADER_BYTES
 *  ├── HEAD ──── 64 B ──┼── TAIL ──── 64 B ──┼── SPACE_WANTED ── 64 B ──┤
 *  ├──────────────────────────── data area: `capacity` bytes (a power of two) ──────────────────┤
 *  │ frame │ frame │ frame │ ...free... │ SKIP │      (a frame never straddles the end: a skip  │
 *  ^ head & mask           ^ tail & mask          marker sends the reader back to offset 0)
 *
 *  frame = [i32 length][i32 kind | FLAG_MORE][payload ... padded to 8 bytes]
 * ```
 *
 * | word         | written by | read by  | Atomics op                                         |
 * |--------------|------------|----------|----------------------------------------------------|
 * | HEAD         | consumer   | producer | store after the frames before it are consumed      |
 * | TAIL         | producer   | consumer | store after the frame bytes before it are written  |
 * |              |            |          | (per frame, or per batch while `corked`)           |
 * | SPACE_WANTED | producer   | consumer | store 1 when overflow starts, 0 when it is flushed |
 * | frame bytes  | producer   | consumer | plain stores/loads, published by TAIL             |
 *
 * Empty: `HEAD == TAIL`. Full: `TAIL - HEAD` plus the next frame (and its skip marker, if it would
 * straddle the end) exceeds `capacity`. Positions are free-running counters that wrap at 2^30 (see
 * POS_MASK), so a completely full ring is told apart from an empty one.
 *
 * Nothing is ever dropped: a frame that does not fit waits in the producer's private overflow queue
 * and goes out, in order, on a later `push` or `flush`. A payload larger than `maxFramePayload` is
 * split into chunks (every chunk but the last has FLAG_MORE) and the consumer hands it on whole.
 *
 * JS Atomics are sequentially consistent, so a plain store made before an `Atomics.store` is visible
 * to any thread whose `Atomics.load` of the same word returns that stored value. That is the whole
 * publication argument for both indexes.
 *
 * Two ways to write a frame: `push(kind, bytes)` copies a payload in; `claim()` + `commit()` lets an
 * encoder write the payload in place (no copy). While `corked`, frames are written but TAIL is
 * stored once per batch (`publish()`), not per frame: `Atomics.store` costs ~20 ns here, as much as
 * the rest of a small push. A corked producer still publishes every 2 KiB (or quarter ring).
 *
 * Wake-ups are not this file's concern: see endpoint.ts.
 */
import { assert } from './assert.js';
import { FrameQueue } from './frame-queue.js';
import { InvalidArgumentError, RingCorruptError, describeValue } from './errors.js';
import {
  FLAG_MORE,
  FRAME_HEADER_BYTES,
  HEAD,
  KIND_MASK,
  MAX_CAPACITY,
  MIN_CAPACITY,
  POS_MASK,
  RING_HEADER_BYTES,
  SKIP,
  SPACE_WANTED,
  TAIL,
  frameBytes,
} from './ring-layout.js';

/** See `RingProducer.publishEvery`: about 80 small frames. */
const CORKED_PUBLISH_BYTES = 2048;

/** Where one ring lives: a SharedArrayBuffer, the byte offset of its header, its data capacity. */
export interface RingRegion {
  readonly buffer: SharedArrayBuffer;
  /** Multiple of 64 (the header words sit on their own cache lines). */
  readonly byteOffset: number;
  /** Bytes in the data area: a power of two between MIN_CAPACITY and MAX_CAPACITY. */
  readonly capacity: number;
}

/** Bytes a ring of `capacity` takes in its SharedArrayBuffer, header included. */
export function ringBytes(capacity: number): number {
  return RING_HEADER_BYTES + capacity;
}

/** True if `capacity` is a power of two from MIN_CAPACITY to MAX_CAPACITY. */
export function isValidCapacity(capacity: number): boolean {
  return Number.isInteger(capacity) && capacity >= MIN_CAPACITY && capacity <= MAX_CAPACITY && (capacity & (capacity - 1)) === 0;
}

/** Throws InvalidArgumentError unless `capacity` is a power of two in range. */
export function validateCapacity(capacity: number, name = 'ringCapacity'): void {
  if (!isValidCapacity(capacity)) {
    throw new InvalidArgumentError(
      `expected \`${name}\` to be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}, got: ${describeValue(capacity)}`,
    );
  }
}

/**
 * The largest payload one frame may carry in a ring of `capacity`: a quarter of the ring, so a frame
 * always fits once the consumer has caught up, even behind a skip marker.
 */
export function defaultMaxFramePayload(capacity: number): number {
  return capacity / 4 - FRAME_HEADER_BYTES;
}

/** The header words, and the data area as bytes (payloads) and as words (frame headers). */
function ringViews(region: RingRegion): { header: Int32Array; bytes: Uint8Array; words: Int32Array } {
  validateCapacity(region.capacity);
  const data = region.byteOffset + RING_HEADER_BYTES;
  return {
    header: new Int32Array(region.buffer, region.byteOffset, RING_HEADER_BYTES / 4),
    bytes: new Uint8Array(region.buffer, data, region.capacity),
    words: new Int32Array(region.buffer, data, region.capacity / 4),
  };
}

/** Sets a ring's shared words to empty. Only while neither side is using it (creation, reset). */
export function resetRing(region: RingRegion): void {
  const { header } = ringViews(region);
  Atomics.store(header, HEAD, 0);
  Atomics.store(header, TAIL, 0);
  Atomics.store(header, SPACE_WANTED, 0);
}

/** The producer's view of one ring. Exactly one thread may own a producer for a given ring. */
export class RingProducer {
  /** Header words (HEAD, TAIL, SPACE_WANTED). */
  private readonly header: Int32Array;
  /** The data area as bytes (payloads) and as words (frame headers; frames are 8-aligned). */
  private readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly capacity: number;
  private readonly mask: number;
  readonly maxFramePayload: number;
  /** Our own TAIL: we are its only writer, so it never needs reloading. Ahead of the shared TAIL
   *  while corked, until `publish()`. */
  private tail: number;
  /** The TAIL value last stored to shared memory. */
  private published: number;
  /**
   * While true, frames are written but TAIL is stored only by `publish()` (or once a quarter of the
   * ring is unpublished, so a long burst still streams). One `Atomics.store` per batch instead of
   * per frame: a shard's scheduler corks while it runs a batch of messages.
   */
  corked = false;
  /**
   * While corked, publish anyway once this many bytes wait: a consumer that has caught up spins
   * only so long before it parks, and a burst of a quarter ring (hundreds of small frames) took
   * longer to write than its spin window, so it parked and had to be woken every time.
   */
  private readonly publishEvery: number;
  /** Set when a frame became visible to the consumer; the endpoint clears it when it has checked
   *  whether the consumer needs waking. */
  unseenPublish = false;
  /** Where the claimed frame's header goes, or -1 with no claim open (see `claim`). */
  private claimedAt = -1;
  /** End of the room that `claim` granted, an offset into `bytes`. */
  claimEnd = 0;
  /** Last HEAD we loaded. Reloaded only when the ring looks full: saves a read of the consumer's
   *  cache line (and the coherence traffic it causes) on every push while there is room. */
  private cachedHead: number;
  /** Frames waiting for room, in order, copied into chunks that are let go as they drain. */
  private readonly overflow = new FrameQueue();
  /** Frames sent with `pushUrgent` that found no room: they go out before `overflow`. */
  private readonly urgent = new FrameQueue();
  /**
   * The queue whose head continues the message last written to the ring (its chunks so far had
   * FLAG_MORE), or undefined. That message is finished before anything else is written: a frame
   * between its chunks would be taken by the consumer for its last chunk.
   */
  private midQueue: FrameQueue | undefined;
  /** Frames that had to wait in overflow, since creation (a measure of back-pressure). */
  overflowed = 0;

  constructor(region: RingRegion, options: { maxFramePayload?: number } = {}) {
    const views = ringViews(region);
    this.header = views.header;
    this.data = views.bytes;
    this.words = views.words;
    this.capacity = region.capacity;
    this.mask = region.capacity - 1;
    const limit = defaultMaxFramePayload(region.capacity);
    this.maxFramePayload = options.maxFramePayload ?? limit;
    if (!Number.isInteger(this.maxFramePayload) || this.maxFramePayload < 1 || this.maxFramePayload > limit) {
      throw new InvalidArgumentError(
        `expected \`maxFramePayload\` to be an integer from 1 to ${limit} for a ring of ${region.capacity} bytes, got: ${describeValue(options.maxFramePayload)}`,
      );
    }
    this.tail = Atomics.load(this.header, TAIL);
    this.published = this.tail;
    this.publishEvery = Math.min(region.capacity >> 2, CORKED_PUBLISH_BYTES);
    this.cachedHead = Atomics.load(this.header, HEAD);
  }

  /** The ring's data area: `claim` hands out offsets into it. */
  get bytes(): Uint8Array {
    return this.data;
  }

  /** Frames held back in overflow right now. */
  get pendingFrames(): number {
    return this.overflow.frames + this.urgent.frames;
  }

  /** Payload bytes held back in overflow right now: what this sender holds for a slow consumer. */
  get pendingBytes(): number {
    return this.overflow.bytes + this.urgent.bytes;
  }

  /**
   * Sends one message ahead of any overflow (the control lane): for `stats()` and supervisor calls,
   * which must not wait behind a backlog of data. Urgent messages keep their order among
   * themselves; a message whose first chunks are already in the ring is finished first. The
   * message must not depend on the data lane's codec state (see `Endpoint.sendUrgentMessage`): the
   * frames it overtakes were encoded before it. Returns true if it is in the ring now.
   */
  pushUrgent(kind: number, bytes: Uint8Array, start: number, end: number): boolean {
    if (this.overflow.isEmpty && this.urgent.isEmpty) return this.push(kind, bytes, start, end);
    this.claimedAt = -1;
    if (this.urgent.isEmpty && this.midQueue === undefined && end - start <= this.maxFramePayload && this.write(kind, bytes, start, end)) {
      this.publish();
      return true;
    }
    this.enqueue(this.urgent, kind, bytes, start, end);
    return false;
  }

  /**
   * Sends one message of `kind` (0..255), the payload `bytes[start, end)`. Returns true if it is in
   * the ring now, false if all or part of it waits in overflow (it goes out, in order, on a later
   * `push` or `flush`). The bytes are copied before this returns; the caller may reuse them.
   */
  push(kind: number, bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    if ((kind & KIND_MASK) !== kind) assert(false, 'a frame kind is an integer from 0 to 255');
    this.claimedAt = -1; // a claim left without commit is given up
    if ((!this.overflow.isEmpty || !this.urgent.isEmpty) && !this.flush()) {
      this.enqueue(this.overflow, kind, bytes, start, end);
      return false;
    }
    const max = this.maxFramePayload;
    if (end - start <= max) {
      if (!this.write(kind, bytes, start, end)) {
        this.enqueue(this.overflow, kind, bytes, start, end);
        return false;
      }
    } else {
      for (let at = start; at < end; at += max) {
        const stop = Math.min(at + max, end);
        const flags = stop < end ? FLAG_MORE : 0;
        if (!this.write(kind | flags, bytes, at, stop)) {
          // Chunks of it are in the ring already: the rest goes before anything else (see midQueue).
          if (at !== start) this.midQueue = this.overflow;
          this.enqueue(this.overflow, kind, bytes, at, end);
          return false;
        }
      }
    }
    this.afterWrite();
    return true;
  }

  /**
   * Opens room for one frame and returns the offset in `bytes` where its payload may be written,
   * up to `claimEnd`; or -1 if there is no room of at least `minPayload` bytes now (or overflow is
   * waiting, which must go first). The caller then writes the payload in place and calls `commit`:
   * an encoder can write straight into shared memory, with no copy. A claim may be given up by
   * simply not committing it (nothing is visible until a commit); the next claim reopens the room.
   */
  claim(minPayload: number): number {
    if (!this.overflow.isEmpty || !this.urgent.isEmpty) return -1;
    this.tailBeforeClaim = this.tail;
    let room = this.contiguousRoom();
    if (room < minPayload) {
      this.cachedHead = Atomics.load(this.header, HEAD);
      room = this.contiguousRoom();
      if (room < minPayload) {
        // Not enough before the end of the data area: if there is at the start, skip to it.
        const offset = this.tail & this.mask;
        const toEnd = this.capacity - offset;
        const free = this.capacity - ((this.tail - this.cachedHead) & POS_MASK);
        if (offset === 0 || free - toEnd - FRAME_HEADER_BYTES < minPayload) return -1;
        this.words[offset >> 2] = SKIP;
        this.tail = (this.tail + toEnd) & POS_MASK;
        room = this.contiguousRoom();
      }
    }
    const at = this.tail & this.mask;
    this.claimedAt = at;
    this.claimEnd = at + FRAME_HEADER_BYTES + Math.min(room, this.maxFramePayload);
    return at + FRAME_HEADER_BYTES;
  }

  /**
   * Gives up the open claim, if any: TAIL goes back to where it was before `claim`, so a skip
   * marker the claim wrote is never published on its own (the consumer would wake for nothing).
   */
  abandonClaim(): void {
    if (this.claimedAt === -1) return;
    this.tail = this.tailBeforeClaim;
    this.claimedAt = -1;
  }

  /** Where TAIL stood when the open claim began (see `abandonClaim`). */
  private tailBeforeClaim = 0;

  /** Finishes the claimed frame: its payload is `bytes[offset, offset + length)` as `claim` said. */
  commit(kind: number, length: number): void {
    const at = this.claimedAt;
    // One branch for the three preconditions: on the hot path three assert calls cost ~10 ns.
    if (at === -1 || (kind & KIND_MASK) !== kind || length < 0 || at + FRAME_HEADER_BYTES + length > this.claimEnd) {
      assert(at !== -1, 'commit() only after claim() returned an offset');
      assert((kind & KIND_MASK) === kind, 'a frame kind is an integer from 0 to 255');
      assert(false, 'a committed payload fits the claimed room');
    }
    const word = at >> 2;
    this.words[word] = length;
    this.words[word + 1] = kind;
    this.tail = (this.tail + frameBytes(length)) & POS_MASK;
    this.claimedAt = -1;
    this.afterWrite();
  }

  /**
   * Makes every frame written so far visible to the consumer (one `Atomics.store` of TAIL). Returns
   * true if there was anything new to publish.
   */
  publish(): boolean {
    if (this.tail === this.published) return false;
    this.published = this.tail;
    // The store publishes every frame byte (and skip marker) written before it.
    Atomics.store(this.header, TAIL, this.tail);
    this.unseenPublish = true;
    return true;
  }

  /** Payload bytes that fit in one frame at the tail, before the end of the data area. */
  private contiguousRoom(): number {
    const toEnd = this.capacity - (this.tail & this.mask);
    const free = this.capacity - ((this.tail - this.cachedHead) & POS_MASK);
    return Math.min(toEnd, free) - FRAME_HEADER_BYTES;
  }

  /** Publishes now, unless corked with less than `publishEvery` bytes unpublished. */
  private afterWrite(): void {
    if (!this.corked || ((this.tail - this.published) & POS_MASK) >= this.publishEvery) this.publish();
  }

  /**
   * Moves overflow into the ring while it fits. Returns true when nothing is left waiting. Called
   * by the owner's scheduler when the consumer signals that it has freed space.
   */
  flush(): boolean {
    if ((this.midQueue !== undefined && !this.flushQueue(this.midQueue, true)) || !this.flushQueue(this.urgent) || !this.flushQueue(this.overflow)) {
      this.publish();
      return false;
    }
    this.publish();
    // Overflow drained: the consumer no longer needs to wake us when it frees space.
    Atomics.store(this.header, SPACE_WANTED, 0);
    return true;
  }

  /**
   * Writes `queue`'s frames into the ring while they fit (with `untilWhole`, only until the message
   * in progress is whole); true when that is done.
   */
  private flushQueue(queue: FrameQueue, untilWhole = false): boolean {
    while (!queue.isEmpty) {
      if (untilWhole && this.midQueue === undefined) return true;
      const header = queue.headHeader();
      if (!this.write(header, queue.headChunk(), queue.headStart(), queue.headEnd())) return false;
      queue.shift();
      this.midQueue = (header & FLAG_MORE) !== 0 ? queue : undefined;
    }
    return true;
  }

  /**
   * True if the consumer has freed enough room for the first overflow frame. Cheap enough for a
   * scheduler to call while deciding whether to park.
   */
  canFlush(): boolean {
    const queue = this.midQueue ?? (this.urgent.isEmpty ? this.overflow : this.urgent);
    if (queue.isEmpty) return false;
    this.cachedHead = Atomics.load(this.header, HEAD);
    return this.fits(frameBytes(queue.headEnd() - queue.headStart()));
  }

  /** Bytes the next frame of `size` needs, counting the skip marker if it would straddle the end. */
  private fits(size: number): boolean {
    const offset = this.tail & this.mask;
    const toEnd = this.capacity - offset;
    const need = size <= toEnd ? size : toEnd + size;
    return need <= this.capacity - ((this.tail - this.cachedHead) & POS_MASK);
  }

  /**
   * Writes one frame if it fits, without publishing it. The hot path: no allocation when
   * `end - start` is small.
   */
  private write(header: number, source: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    const size = frameBytes(length);
    if (!this.fits(size)) {
      // Looks full. Frames we have not published yet cannot be consumed: publish them first.
      this.publish();
      this.cachedHead = Atomics.load(this.header, HEAD);
      if (!this.fits(size)) return false;
    }
    let offset = this.tail & this.mask;
    let tail = this.tail;
    const toEnd = this.capacity - offset;
    if (size > toEnd) {
      // Not enough room before the end: mark the rest unused and start over at offset 0. toEnd is a
      // multiple of 8, so the marker's header always fits.
      this.words[offset >> 2] = SKIP;
      tail = (tail + toEnd) & POS_MASK;
      offset = 0;
    }
    const word = offset >> 2;
    this.words[word] = length;
    this.words[word + 1] = header;
    const bytes = this.data;
    const at = offset + FRAME_HEADER_BYTES;
    if (length <= 32) {
      // A short loop beats subarray()+set() here: set() needs a new view object per call.
      for (let i = 0; i < length; i++) bytes[at + i] = source[start + i];
    } else {
      bytes.set(start === 0 && end === source.length ? source : source.subarray(start, end), at);
    }
    this.tail = (tail + size) & POS_MASK;
    return true;
  }

  /** Queues the rest of a message, `bytes[start, end)`, in `queue` as frames that own their bytes. */
  private enqueue(queue: FrameQueue, kind: number, bytes: Uint8Array, start: number, end: number): void {
    const max = this.maxFramePayload;
    if (start === end) {
      queue.push(kind, bytes, start, end);
      this.overflowed++;
    }
    for (let at = start; at < end; at += max) {
      const stop = Math.min(at + max, end);
      queue.push(kind | (stop < end ? FLAG_MORE : 0), bytes, at, stop);
      this.overflowed++;
    }
    this.publish(); // whatever went in before the ring filled
    if (Atomics.load(this.header, SPACE_WANTED) === 0) Atomics.store(this.header, SPACE_WANTED, 1);
    // The consumer may have freed the ring entirely between our failed write and the store above,
    // and then read SPACE_WANTED as 0: it will not wake us. Try once more now that the flag is up;
    // with sequentially consistent atomics, either it sees our 1 or we see its new HEAD.
    this.flush();
  }
}


/**
 * Receives one whole message: `bytes[start, end)`. `bytes` is the ring's shared data area (or, for
 * a split message, a private buffer), and those bytes are valid only until this callback returns:
 * decode or copy them before returning. Offsets rather than a subarray because a view object per
 * message costs more than the rest of `drain` together.
 */
export type FrameHandler = (kind: number, bytes: Uint8Array, start: number, end: number) => void;

/** The consumer's view of one ring. Exactly one thread may own a consumer for a given ring. */
export class RingConsumer {
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly capacity: number;
  private readonly mask: number;
  /** Our own HEAD, ahead of the shared one until `release()` publishes it. */
  private head: number;
  /** Last TAIL we loaded. Reloaded only when we have caught up with it: saves a read of the
   *  producer's cache line per frame while frames are waiting. */
  private cachedTail: number;
  /** Chunks of a split message received so far (copies; their ring space is already released). */
  private chunks: Uint8Array[] = [];
  private chunkBytes = 0;
  private draining = false;

  constructor(region: RingRegion) {
    const views = ringViews(region);
    this.header = views.header;
    this.bytes = views.bytes;
    this.words = views.words;
    this.capacity = region.capacity;
    this.mask = region.capacity - 1;
    this.head = Atomics.load(this.header, HEAD);
    this.cachedTail = Atomics.load(this.header, TAIL);
  }

  /** True if at least one frame is waiting. Loads TAIL only when the cached copy says empty. */
  hasFrames(): boolean {
    if (this.head !== this.cachedTail) return true;
    this.cachedTail = Atomics.load(this.header, TAIL);
    return this.head !== this.cachedTail;
  }

  /** True if the producer holds frames in overflow, waiting for room (see SPACE_WANTED). */
  producerWantsSpace(): boolean {
    return Atomics.load(this.header, SPACE_WANTED) !== 0;
  }

  /**
   * Hands up to `maxMessages` whole messages to `onMessage`, in order, and returns how many it
   * handed. Space is released to the producer as it goes (every quarter ring) and at the end, also
   * when `onMessage` throws (the message it threw on counts as consumed).
   */
  drain(onMessage: FrameHandler, maxMessages: number): number {
    assert(!this.draining, 'drain() is not re-entered from its own handler');
    this.draining = true;
    let delivered = 0;
    let unreleased = 0;
    const releaseEvery = this.capacity >> 2;
    try {
      while (delivered < maxMessages && this.hasFrames()) {
        const offset = this.head & this.mask;
        const word = offset >> 2;
        const length = this.words[word];
        if (length === SKIP) {
          const skipped = this.capacity - offset;
          this.head = (this.head + skipped) & POS_MASK;
          unreleased += skipped;
          continue;
        }
        const header = this.words[word + 1];
        if (length < 0 || length > this.capacity - offset - 8) {
          throw new RingCorruptError(`frame at offset ${offset} claims ${length} bytes in a ring of ${this.capacity}; expected 0..${this.capacity - offset - 8}, got: ${length}`);
        }
        const size = frameBytes(length);
        const start = offset + FRAME_HEADER_BYTES;
        this.head = (this.head + size) & POS_MASK;
        unreleased += size;
        if ((header & FLAG_MORE) !== 0) {
          this.chunks.push(this.bytes.slice(start, start + length));
          this.chunkBytes += length;
        } else if (this.chunks.length !== 0) {
          const whole = this.assemble(start, length);
          delivered++;
          onMessage(header & KIND_MASK, whole, 0, whole.length);
        } else {
          delivered++;
          onMessage(header & KIND_MASK, this.bytes, start, start + length);
        }
        if (unreleased >= releaseEvery) {
          this.release();
          unreleased = 0;
        }
      }
    } finally {
      if (unreleased !== 0) this.release();
      this.draining = false;
    }
    return delivered;
  }

  /** Joins the stored chunks with the last one (still in the ring) into one private buffer. */
  private assemble(start: number, length: number): Uint8Array {
    const whole = new Uint8Array(this.chunkBytes + length);
    let at = 0;
    for (const chunk of this.chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    whole.set(this.bytes.subarray(start, start + length), at);
    this.chunks = [];
    this.chunkBytes = 0;
    return whole;
  }

  /** Publishes HEAD: the producer may now reuse everything before it. */
  private release(): void {
    // The store tells the producer that every frame before `head` has been read in full.
    Atomics.store(this.header, HEAD, this.head);
  }
}
