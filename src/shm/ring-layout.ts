/**
 * The names of every shared word and frame field of a ring, in one place.
 *
 * A bare number passed to `Atomics.*` is a bug waiting to happen, so ring.ts, ring-set.ts and the
 * tests import these names instead. The picture and the table of who writes what are at the top of
 * ring.ts; this module only fixes the numbers.
 */

/** Bytes per cache line on the machines we run on (x86-64, arm64). */
export const CACHE_LINE = 64;

// ── The ring header: three words, each alone on its cache line so that the producer's stores to
// TAIL and the consumer's stores to HEAD never invalidate each other's line (false sharing). The
// values are Int32Array indexes into the header.
/** Consumer's read position. Written by the consumer only (Atomics.store), read by the producer. */
export const HEAD = 0;
/** Producer's write position. Written by the producer only (Atomics.store), read by the consumer. */
export const TAIL = CACHE_LINE / 4;
/**
 * 1 while the producer holds frames in its overflow queue because the ring was full, else 0.
 * Written by the producer only; read by the consumer after it frees space, to know it must wake the
 * producer's thread so the overflow goes out.
 */
export const SPACE_WANTED = (2 * CACHE_LINE) / 4;
/** Bytes before a ring's data area. */
export const RING_HEADER_BYTES = 3 * CACHE_LINE;

/**
 * Positions run freely and wrap at 2^30. Kept below 2^30 so they stay V8 small integers: a heap
 * number in `push()` would deopt it. A ring's capacity divides 2^30, so `pos & (capacity - 1)` is
 * the byte offset and `(tail - head) & POS_MASK` the bytes in use, even across the wrap.
 */
export const POS_MASK = 0x3fff_ffff;

// ── A frame, 8-byte aligned: [i32 length][i32 kind | flags][payload, padded to 8].
/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 8;
/** Frames start on 8-byte boundaries. */
export const FRAME_ALIGN = 8;
/** `length` of a skip marker: the rest of the data area up to its end is unused, read on from 0. */
export const SKIP = -1;
/** Low 8 bits of the second header word: the frame's kind, for the layer above the ring. */
export const KIND_MASK = 0xff;
/** Set on every chunk of a split message but the last. */
export const FLAG_MORE = 0x100;

/** Smallest and largest data area a ring accepts. */
export const MIN_CAPACITY = 256;
export const MAX_CAPACITY = 1 << 28;

/** Bytes a frame carrying `payloadBytes` takes in the ring, header and padding included. */
export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + ((payloadBytes + FRAME_ALIGN - 1) & ~(FRAME_ALIGN - 1));
}
