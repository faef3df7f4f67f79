/**
 * A FIFO of frames in chunks of bytes: where a ring producer keeps the frames that did not fit
 * (ring.ts's overflow), so that a backlog costs what it holds and gives memory back as it drains.
 *
 * ```
 *  chunks[0] (oldest)                           chunks[last] (newest)
 *  ├ consumed ┼ [len][hdr][payload…] [len][hdr]… ┤   ├ [len][hdr][payload…] ┼ free ┤
 *             ^ readAt                  ends[0] ^                          ^ writeAt
 * ```
 *
 * Each frame is `[u32 length][u32 header][payload]`, written once by `push` and read in place by
 * the ring (`head*`), so a waiting frame costs its bytes plus 8, not an object and a typed array of
 * its own (about 270 B for a small frame before). A chunk is dropped as soon as it is consumed, so
 * a queue that never empties still holds only what waits in it; one spare chunk is kept to spare
 * the allocator the churn of a queue hovering at a chunk boundary. Owned by one thread.
 */

/** Bytes per chunk: large enough that a small frame almost never needs a new one. */
const CHUNK_BYTES = 64 * 1024;
/** Bytes before each payload: length and header, two little-endian u32. */
const FRAME_PREFIX = 8;

export class FrameQueue {
  /** Chunks in order; `chunks[0]` holds the head frame. */
  private readonly chunks: Uint8Array[] = [];
  /** Where the written frames of each chunk end. */
  private readonly ends: number[] = [];
  /** Offset of the head frame in `chunks[0]`. */
  private readAt = 0;
  /** A consumed chunk kept for the next push (see the module comment). */
  private spare: Uint8Array | undefined;
  /** Frames waiting. */
  frames = 0;
  /** Payload bytes waiting (prefixes not counted): what a sender is holding back. */
  bytes = 0;

  /** Bytes of memory the queue holds right now (its chunks, the spare included). */
  get heldBytes(): number {
    let held = this.spare?.length ?? 0;
    for (const chunk of this.chunks) held += chunk.length;
    return held;
  }

  get isEmpty(): boolean {
    return this.frames === 0;
  }

  /** Appends one frame: `header` (kind | flags) and a copy of `source[start, end)`. */
  push(header: number, source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    const need = FRAME_PREFIX + length;
    let last = this.chunks.length - 1;
    if (last < 0 || this.ends[last] + need > this.chunks[last].length) {
      this.chunks.push(this.newChunk(need));
      this.ends.push(0);
      last++;
    }
    const chunk = this.chunks[last];
    const at = this.ends[last];
    writeU32(chunk, at, length);
    writeU32(chunk, at + 4, header);
    if (length <= 32) for (let i = 0; i < length; i++) chunk[at + FRAME_PREFIX + i] = source[start + i];
    else chunk.set(source.subarray(start, end), at + FRAME_PREFIX);
    this.ends[last] = at + need;
    this.frames++;
    this.bytes += length;
  }

  /** The head frame's header (kind | flags). Only while `!isEmpty`. */
  headHeader(): number {
    return readU32(this.chunks[0], this.readAt + 4);
  }

  /** The bytes holding the head frame's payload, from `headStart()` to `headEnd()`. */
  headChunk(): Uint8Array {
    return this.chunks[0];
  }

  headStart(): number {
    return this.readAt + FRAME_PREFIX;
  }

  headEnd(): number {
    return this.readAt + FRAME_PREFIX + readU32(this.chunks[0], this.readAt);
  }

  /** Drops the head frame; a chunk it empties is let go. */
  shift(): void {
    const chunk = this.chunks[0];
    const length = readU32(chunk, this.readAt);
    this.readAt += FRAME_PREFIX + length;
    this.frames--;
    this.bytes -= length;
    if (this.readAt < this.ends[0]) return;
    // The head chunk is consumed: let it go (an empty queue holds no chunk but the spare).
    this.readAt = 0;
    this.chunks.shift();
    this.ends.shift();
    if (chunk.length === CHUNK_BYTES) this.spare = chunk;
  }

  /** Drops every frame and every chunk (the peer died). */
  clear(): void {
    this.chunks.length = 0;
    this.ends.length = 0;
    this.readAt = 0;
    this.frames = 0;
    this.bytes = 0;
    this.spare = undefined;
  }

  private newChunk(need: number): Uint8Array {
    if (need <= CHUNK_BYTES && this.spare !== undefined) {
      const spare = this.spare;
      this.spare = undefined;
      return spare;
    }
    return new Uint8Array(Math.max(CHUNK_BYTES, need));
  }
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}
