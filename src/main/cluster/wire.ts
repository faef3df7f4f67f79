/**
 * What one node publishes to another: a batch of ops, each encoded by weft's codec, in one NATS
 * message. Main gathers the ops bound for one node while it works and publishes them together
 * (see outbox.ts), so ten thousand small casts cost a handful of publishes, not ten thousand.
 *
 * Layout: `[0x57 'W'][version]`, then frames `[u32 length LE][frame]`; frame 0 is the header
 * `[cluster, fromNode, fromCreation, toCreation]`, every other frame one op (an array whose first
 * element is its `WireOp`). A batch is self-contained: it is encoded by a fresh MessageEncoder and
 * read by a fresh MessageDecoder, so a lost or reordered NATS message (core NATS is at-most-once)
 * never leaves a decoder out of step with the next batch.
 */
import { MessageDecoder, MessageEncoder } from '../../shm/codec.js';
import { ClusterError, DecodeError } from '../../shm/errors.js';
import { TOKEN } from './node-options.js';

const MAGIC = 0x57;
const VERSION = 1;

/** The ops nodes send each other. Positions, as in src/shm/protocol.ts. */
export const WireOp = {
  /**
   * [op, thread, serial, body], or [op, name, 0, body]. A pid goes as its thread and serial (plain
   * numbers keep the op on the codec's fast path); its node's creation is the batch's `toCreation`.
   */
  CAST: 1,
  /** as CAST */
  SEND: 2,
  /** [op, thread | name, serial, callId, timeoutMs, body] → REPLY or REPLY_ERROR */
  CALL: 3,
  /** [op, callId, value] */
  REPLY: 4,
  /** [op, callId, error] */
  REPLY_ERROR: 5,
  /** [op, target: Pid, from: Pid] */
  LINK: 6,
  UNLINK: 7,
  /** [op, target: Pid, from: Pid, reason, linked] */
  EXIT: 8,
  /** [op, target: Pid, watchId] → DOWN when target exits */
  MONITOR: 9,
  DEMONITOR: 10,
  /** [op, watchId, pid, reason] */
  DOWN: 11,
  /** [op, callId, moduleUrl, args, name | null, thread | null, timeoutMs, global] → REPLY pid */
  SPAWN: 12,
  /** [op, callId, name] → REPLY pid | null */
  WHEREIS: 13,
  /** [op, callId, exportName, args] (on a task subject) → ACCEPTED, then REPLY */
  TASK: 14,
  /** [op, callId] a node took the task: if it goes down, the task rejects with NodeDownError */
  ACCEPTED: 15,
  /** [op, callId] the caller of CALL `callId` (from the sending node) aborted it: its actor's `ctx.signal` aborts */
  CALL_ABORT: 16,
} as const;

export interface BatchHeader {
  cluster: string;
  from: string;
  fromCreation: number;
  /** The creation of the node it is for, as the sender knew it; 0 for a task subject. */
  toCreation: number;
}

/**
 * One batch being filled, then (after `reset`) the next. `add` throws EncodeError for an op that
 * cannot travel, and then the batch is as it was.
 */
export class BatchWriter {
  private readonly encoder = new MessageEncoder();
  /** The most bytes a batch may have: the NATS server's max_payload. */
  private readonly maxBytes: number;
  private header!: BatchHeader;
  private buffer = new Uint8Array(1024);
  private length = 2;
  /** Ops added. */
  count = 0;

  constructor(header: BatchHeader, maxBytes: number) {
    this.maxBytes = maxBytes;
    this.reset(header);
  }

  /** Empties the writer for a new batch (its bytes were taken), keeping what the encoder compiled. */
  reset(header: BatchHeader): void {
    this.header = header;
    this.encoder.startOver();
    this.buffer[0] = MAGIC;
    this.buffer[1] = VERSION;
    this.length = 2;
    this.count = 0;
    this.frame([header.cluster, header.from, header.fromCreation, header.toCreation]);
  }

  /**
   * Appends `op`; returns false, with the batch's bytes as they were, when it does not fit: send
   * the batch and `reset` before adding it again (the encoder may have learned shapes for it, which
   * `reset` forgets). Throws ClusterError for an op that would not fit in any batch.
   */
  add(op: unknown[]): boolean {
    if (!this.frame(op)) return false;
    this.count++;
    return true;
  }

  get size(): number {
    return this.length;
  }

  /** The batch's bytes (a copy: the writer may be dropped or reused). */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private frame(value: unknown): boolean {
    const frame = this.encoder.encode(value);
    const need = this.length + 4 + frame.length;
    if (need > this.maxBytes) {
      if (this.count !== 0) return false;
      // The encoder may have taken shapes of this frame as known: the batch starts over, empty as it was.
      const size = frame.length;
      this.reset(this.header);
      throw new ClusterError(`a message of ${size} bytes is larger than the NATS server's max_payload (${this.maxBytes} bytes in a batch)`);
    }
    if (need > this.buffer.length) {
      const grown = new Uint8Array(Math.max(need, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    const at = this.length;
    const buffer = this.buffer;
    const size = frame.length;
    buffer[at] = size & 0xff;
    buffer[at + 1] = (size >>> 8) & 0xff;
    buffer[at + 2] = (size >>> 16) & 0xff;
    buffer[at + 3] = (size >>> 24) & 0xff;
    buffer.set(frame, at + 4);
    this.length = need;
    return true;
  }
}

/**
 * Reads a batch: its header, then each op in order through `onOp`. Throws `DecodeError` for bytes
 * that are not a batch (garbage on a weft subject, a foreign version): the caller counts and drops it.
 * An op that fails to decode ends the batch there (ops after it are not read).
 */
export function readBatch(bytes: Uint8Array, onHeader: (header: BatchHeader) => boolean, onOp: (op: unknown[]) => void): void {
  if (bytes.length < 6 || bytes[0] !== MAGIC || bytes[1] !== VERSION) throw new DecodeError(`not a weft batch (${bytes.length} bytes, starting ${bytes[0]} ${bytes[1]})`);
  const decoder = new MessageDecoder();
  let at = 2;
  let first = true;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new DecodeError(`a weft batch ends inside a frame length at byte ${at} of ${bytes.length}`);
    const size = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) + bytes[at + 3] * 0x100_0000;
    const start = at + 4;
    const end = start + size;
    if (size === 0 || end > bytes.length) throw new DecodeError(`a weft batch frame of ${size} bytes at byte ${at} overruns its ${bytes.length} bytes`);
    const value = decoder.decode(bytes, start, end);
    at = end;
    if (first) {
      first = false;
      if (!isHeader(value)) throw new DecodeError('a weft batch header is [cluster, fromNode, fromCreation, toCreation]');
      if (!onHeader({ cluster: value[0], from: value[1], fromCreation: value[2], toCreation: value[3] })) return;
      continue;
    }
    if (!Array.isArray(value) || typeof value[0] !== 'number') throw new DecodeError('a weft batch op is an array starting with its op number');
    onOp(value);
  }
}

function isHeader(value: unknown): value is [string, string, number, number] {
  return Array.isArray(value) && value.length === 4 && typeof value[0] === 'string' && typeof value[1] === 'string' && TOKEN.test(value[1]) && typeof value[2] === 'number' && typeof value[3] === 'number';
}
