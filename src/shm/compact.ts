/**
 * The codec's fast path: a compact format for the messages actors send most (plain objects,
 * arrays, numbers, strings, booleans, null, undefined), several times cheaper to write and read than
 * msgpackr on this kind of message.
 *
 * Why it exists: one-way throughput is bounded by the sender's encode. msgpackr's sequential `pack`
 * of `{ id, op: 'add', args: [1, 2] }` costs about 460 ns here (plus the codec's checking walk),
 * which caps a sender near 1.5M messages/s whatever the ring does. This writer checks and encodes in
 * one walk, and reads and writes an object's fields through code generated once per shape, so the
 * property accesses are monomorphic.
 *
 * It is strictly a subset: anything else (Map, Set, Date, BigInt, typed arrays, errors, pids, null-
 * prototype objects, a `__proto__` key, nesting deeper than COMPACT_MAX_DEPTH) makes `write` return
 * false, having changed nothing a decoder could see, and the caller
 * encodes the message with msgpackr instead (codec.ts), which also reports every value that cannot
 * travel. A compact frame starts with 0xc1, a byte msgpack never uses, so a decoder tells the two
 * apart by the first byte.
 *
 * ```
 * frame  = 0xc1 value
 * value  = 0x00..0x3f                          integer 0..63
 *        | NULL | UNDEFINED | FALSE | TRUE
 *        | INT32 i32le                          any other integer in int32 range (not -0)
 *        | FLOAT64 f64le                        every other number: -0, NaN, ±Infinity, fractions
 *        | STRING8 varint(n) n bytes            a string whose code units are all < 0x100
 *        | STRING16 varint(n) n × u16le         any other string (lone surrogates survive)
 *        | ARRAY varint(n) n × value
 *        | SHAPE varint(id) varint(k) k × key   defines shape `id` (the pair's next id), then…
 *              k × value                        …its values, in key order
 *        | OBJECT varint(id) k × value          an object of a shape defined earlier in the stream
 *        | MAP_OBJECT varint(k) k × (key value) an object with its keys inline (table full, many keys)
 * key    = varint(n) n × u16le
 * ```
 *
 * Shapes are numbered per encoder/decoder pair in stream order, like msgpackr's sequential records:
 * correct because a pair's stream is ordered and lossless and the decoder decodes every frame.
 */

/** First byte of a compact frame: msgpack's "never used" byte, so it cannot start a msgpackr frame. */
export const COMPACT_MARK = 0xc1;
/** Objects and arrays nested deeper than this go to msgpackr (which checks cycles and its own limit). */
export const COMPACT_MAX_DEPTH = 64;
/** Shapes a pair remembers; later new shapes travel with their keys inline (MAP_OBJECT). */
export const COMPACT_MAX_SHAPES = 4096;
/**
 * A reader compiles a shape's reader (a `new Function`) only once the shape has been read this
 * many times, and compiles at most COMPACT_MAX_COMPILED shapes; the others are read by a generic
 * loop over their keys. Frames may come from the network (a node's batches), so no input may make
 * a reader compile without bound: compiling costs far more than reading a few objects generically.
 */
export const COMPACT_COMPILE_AFTER = 16;
export const COMPACT_MAX_COMPILED = 256;
/** Objects with more keys than this travel with keys inline: they are dictionaries, not records. */
export const COMPACT_MAX_SHAPE_KEYS = 32;

const SMALL_INT_LIMIT = 0x40;
const NULL = 0x40;
const UNDEFINED = 0x41;
const FALSE = 0x42;
const TRUE = 0x43;
const INT32 = 0x44;
const FLOAT64 = 0x45;
const STRING8 = 0x46;
const STRING16 = 0x47;
const ARRAY = 0x48;
const SHAPE = 0x49;
const OBJECT = 0x4a;
const MAP_OBJECT = 0x4b;

/** `writeInto` results: the message does not fit the room given / is not plain data. */
export const NO_ROOM = -1;
export const NOT_COMPACT = -2;

const objectProto = Object.prototype;
const arrayProto = Array.prototype;

/** A node of the shape trie: the path of keys from the root spells an object's key list. */
interface ShapeNode {
  /** The shape's id once an object with exactly these keys has been sent, else -1. */
  id: number;
  readonly keys: readonly string[];
  readonly next: Map<string, ShapeNode>;
  /** The child taken last, checked before `next`: most senders repeat one shape per position, and a
   *  string compare is several times cheaper than a Map lookup. */
  lastKey: string | undefined;
  lastNext: ShapeNode | undefined;
  /** Writes this shape's values: generated once, reads each key by its literal name. */
  write: ShapeWriter | undefined;
}

function newNode(keys: readonly string[]): ShapeNode {
  return { id: -1, keys, next: new Map(), lastKey: undefined, lastNext: undefined, write: undefined };
}

/** Source text of a JS string literal for `key` (JSON's escaping is valid JS, lone surrogates too). */
function literal(key: string): string {
  return JSON.stringify(key);
}

/**
 * Encodes messages of the compact subset into a private, growing buffer. One per encoder pair.
 * `write` returns false (and leaves the pair's state as it was) for anything outside the subset.
 */
export class CompactWriter {
  /** Output buffer; `bytes[0, length)` is the last frame written. Reused by the next `write`. */
  bytes: Uint8Array<ArrayBufferLike> = new Uint8Array(256);
  length = 0;
  private pos = 0;
  /** While `writeInto` runs: the end of the room it was given (else -1, and `bytes` may grow). */
  private limit = -1;
  /** Where writing must stop or grow: `limit` in place, else `bytes.length`. One compare per ensure. */
  private end = this.bytes.length;
  private outOfRoom = false;
  private depth = 0;
  private readonly root: ShapeNode = newNode([]);
  private nodes = 0;
  private nextShapeId = 0;
  /** Shapes given an id during the current `write`; forgotten again if it gives up. */
  private readonly fresh: ShapeNode[] = [];
  /** Shapes the reader has been told of (ids below `nextShapeId`), for `forgetShapes`. */
  private readonly known: ShapeNode[] = [];
  private readonly f64 = new Float64Array(1);
  private readonly f64Bytes = new Uint8Array(this.f64.buffer);

  /** Encodes `value` as one compact frame into `bytes[0, length)`, or returns false to hand it to msgpackr. */
  write(value: unknown): boolean {
    this.pos = 0;
    if (!this.run(value)) return false;
    this.length = this.pos;
    return true;
  }

  /**
   * Encodes `value` straight into `target[start, limit)` (a ring's claimed room) and returns the end
   * offset; or NO_ROOM if it does not fit there, or NOT_COMPACT if it is outside the compact subset.
   * Either failure leaves the pair's state as it was.
   */
  writeInto(value: unknown, target: Uint8Array, start: number, limit: number): number {
    const own = this.bytes;
    this.bytes = target;
    this.pos = start;
    this.limit = limit;
    this.end = limit;
    this.outOfRoom = false;
    const ok = this.run(value);
    this.bytes = own;
    this.limit = -1;
    this.end = own.length;
    if (ok) return this.pos;
    return this.outOfRoom ? NO_ROOM : NOT_COMPACT;
  }

  // Every writer below returns false to give up (outside the subset, or out of room in place), and
  // its caller returns false at once. Not an exception: a throw and catch costs ~3 µs in V8, ten
  // times a whole encode, and messages that need msgpackr would pay it every time.

  private run(value: unknown): boolean {
    this.depth = 0;
    let ok = false;
    try {
      ok = this.ensure(1) && this.byte(COMPACT_MARK) && this.value(value);
    } catch {
      // A getter threw. msgpackr's path reads the message again and reports it with its path.
      ok = false;
    }
    if (!ok) {
      for (const node of this.fresh) node.id = -1;
      this.nextShapeId -= this.fresh.length;
      this.fresh.length = 0;
      return false;
    }
    // Setting an array's length is a runtime call; most writes define no shape, so skip it then.
    if (this.fresh.length !== 0) {
      for (const node of this.fresh) this.known.push(node);
      this.fresh.length = 0;
    }
    return true;
  }

  /**
   * Starts a new stream for a new reader: shapes are defined again at their next use, as to a
   * fresh writer, but the trie and its compiled shape writers are kept (they cost more to build
   * than the frames they write).
   */
  forgetShapes(): void {
    for (const node of this.known) node.id = -1;
    this.known.length = 0;
    this.nextShapeId = 0;
  }

  /** Writes one value. Public only for the generated shape writers. */
  value(value: unknown): boolean {
    // Most frequent first; an if-chain on typeof compiles to a few compares.
    if (typeof value === 'number') return this.number(value);
    if (typeof value === 'string') return this.string(value);
    if (typeof value === 'object') {
      if (value === null) return this.ensure(1) && this.byte(NULL);
      if (++this.depth > COMPACT_MAX_DEPTH) return false;
      let ok: boolean;
      if (Array.isArray(value)) ok = Object.getPrototypeOf(value) === arrayProto && this.array(value);
      else ok = Object.getPrototypeOf(value) === objectProto && this.object(value as Record<string, unknown>);
      this.depth--;
      return ok;
    }
    if (typeof value === 'boolean') return this.ensure(1) && this.byte(value ? TRUE : FALSE);
    if (value === undefined) return this.ensure(1) && this.byte(UNDEFINED);
    return false; // bigint, symbol, function: msgpackr's path carries or rejects them
  }

  /** Writes one byte; room must have been ensured. Returns true so it chains after `ensure`. */
  private byte(b: number): boolean {
    this.bytes[this.pos++] = b;
    return true;
  }

  private number(n: number): boolean {
    // (n | 0) === n holds for -0 too; `1 / n > 0` tells 0 from -0, which must stay a float
    if ((n | 0) === n && (n !== 0 || 1 / n > 0)) {
      if (n >= 0 && n < SMALL_INT_LIMIT) return this.ensure(1) && this.byte(n);
      if (!this.ensure(5)) return false;
      const b = this.bytes;
      let p = this.pos;
      b[p++] = INT32;
      b[p++] = n;
      b[p++] = n >> 8;
      b[p++] = n >> 16;
      b[p++] = n >> 24;
      this.pos = p;
      return true;
    }
    if (!this.ensure(9)) return false;
    this.f64[0] = n;
    const b = this.bytes;
    const f = this.f64Bytes;
    let p = this.pos;
    b[p++] = FLOAT64;
    for (let i = 0; i < 8; i++) b[p++] = f[i];
    this.pos = p;
    return true;
  }

  private string(s: string): boolean {
    const n = s.length;
    if (!this.ensure(5 + 2 * n)) return false;
    const b = this.bytes;
    const tagAt = this.pos;
    let p = this.varintAt(tagAt + 1, n);
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) break;
      b[p++] = c;
    }
    if (i === n) {
      b[tagAt] = STRING8;
      this.pos = p;
      return true;
    }
    // Not one byte per code unit: rewrite as UTF-16 code units (exact, lone surrogates included).
    b[tagAt] = STRING16;
    this.pos = this.utf16At(this.varintAt(tagAt + 1, n), s);
    return true;
  }

  private array(a: readonly unknown[]): boolean {
    const n = a.length;
    if (!this.ensure(6)) return false;
    this.bytes[this.pos] = ARRAY;
    this.pos = this.varintAt(this.pos + 1, n);
    for (let i = 0; i < n; i++) if (!this.value(a[i])) return false;
    return true;
  }

  private object(o: Record<string, unknown>): boolean {
    // Walk the trie along the object's keys (for…in order: integer-like keys first, then insertion).
    let node = this.root;
    let count = 0;
    for (const key in o) {
      if (++count > COMPACT_MAX_SHAPE_KEYS) return this.inline(o);
      if (key === node.lastKey) {
        node = node.lastNext!;
        continue;
      }
      if (key === '__proto__') return false;
      let next = node.next.get(key);
      if (next === undefined) {
        if (this.nodes >= COMPACT_MAX_SHAPES * 4) return this.inline(o);
        next = newNode([...node.keys, key]);
        node.next.set(key, next);
        this.nodes++;
      }
      node.lastKey = key;
      node.lastNext = next;
      node = next;
    }
    if (node.id === -1) {
      if (this.nextShapeId >= COMPACT_MAX_SHAPES) return this.inline(o);
      if (!this.ensure(11)) return false;
      node.id = this.nextShapeId++;
      this.fresh.push(node);
      this.bytes[this.pos] = SHAPE;
      this.pos = this.varintAt(this.varintAt(this.pos + 1, node.id), node.keys.length);
      for (const key of node.keys) if (!this.key(key)) return false;
    } else {
      if (!this.ensure(6)) return false;
      this.bytes[this.pos] = OBJECT;
      this.pos = this.varintAt(this.pos + 1, node.id);
    }
    const write = (node.write ??= compileShapeWriter(node.keys));
    return write(this, o);
  }

  /** An object whose keys travel with it: many keys, or the shape table is full. */
  private inline(o: Record<string, unknown>): boolean {
    const keys = Object.keys(o);
    if (!this.ensure(6)) return false;
    this.bytes[this.pos] = MAP_OBJECT;
    this.pos = this.varintAt(this.pos + 1, keys.length);
    for (const key of keys) {
      if (key === '__proto__' || !this.key(key) || !this.value(o[key])) return false;
    }
    return true;
  }

  private key(key: string): boolean {
    if (!this.ensure(5 + 2 * key.length)) return false;
    this.pos = this.utf16At(this.varintAt(this.pos, key.length), key);
    return true;
  }

  private utf16At(p: number, s: string): number {
    const b = this.bytes;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      b[p++] = c;
      b[p++] = c >> 8;
    }
    return p;
  }

  /** Writes `n` as a little-endian base-128 varint at `p` (room already ensured); returns the end. */
  private varintAt(p: number, n: number): number {
    const b = this.bytes;
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    return p;
  }

  /**
   * Makes room for `room` more bytes (an upper bound). In place (`writeInto`) it cannot grow: it
   * returns false, and the caller encodes into our own buffer instead and copies. That may give up
   * on a frame that would just have fitted; it never writes past the room.
   */
  private ensure(room: number): boolean {
    return this.pos + room <= this.end || this.grow(room);
  }

  private grow(room: number): boolean {
    const need = this.pos + room;
    if (this.limit !== -1) {
      this.outOfRoom = true;
      return false;
    }
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
    this.end = size;
    return true;
  }
}

type ShapeWriter = (writer: CompactWriter, object: Record<string, unknown>) => boolean;

function compileShapeWriter(keys: readonly string[]): ShapeWriter {
  const body = keys.length === 0 ? 'true' : keys.map((key) => `w.value(o[${literal(key)}])`).join(' &&\n');
  return new Function('w', 'o', `return ${body};`) as ShapeWriter;
}

function compileShapeReader(keys: readonly string[]): (reader: CompactReader) => Record<string, unknown> {
  // Object literal fields are evaluated left to right, which is the order the values were written.
  const fields = keys.map((key) => `${literal(key)}: r.value()`).join(',\n');
  return new Function('r', `return {\n${fields}\n};`) as (reader: CompactReader) => Record<string, unknown>;
}

/** A malformed compact frame; codec.ts turns it into a DecodeError. */
export class CompactFormatError extends Error {}

/** Decodes compact frames written by the paired CompactWriter, in order. */
export class CompactReader {
  private bytes: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  private readonly shapes: Array<(reader: CompactReader) => Record<string, unknown>> = [];
  /** Shape readers this reader compiled (at most COMPACT_MAX_COMPILED). */
  private compiled = 0;
  private readonly f64 = new Float64Array(1);
  private readonly f64Bytes = new Uint8Array(this.f64.buffer);

  /** Decodes the compact frame in `bytes[start, end)`; `bytes[start]` is COMPACT_MARK. */
  read(bytes: Uint8Array, start: number, end: number): unknown {
    this.bytes = bytes;
    this.pos = start + 1;
    this.end = end;
    const value = this.value();
    if (this.pos !== end) throw new CompactFormatError(`frame has ${end - this.pos} bytes after its value`);
    this.bytes = EMPTY; // do not keep a shared ring alive through the reader
    return value;
  }

  /** Reads one value. Public only for the generated shape readers. */
  value(): unknown {
    const tag = this.u8();
    if (tag < SMALL_INT_LIMIT) return tag;
    switch (tag) {
      case NULL:
        return null;
      case UNDEFINED:
        return undefined;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case INT32: {
        this.need(4);
        const b = this.bytes;
        const p = this.pos;
        this.pos = p + 4;
        return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
      }
      case FLOAT64:
        this.need(8);
        for (let i = 0; i < 8; i++) this.f64Bytes[i] = this.bytes[this.pos + i];
        this.pos += 8;
        return this.f64[0];
      case STRING8:
        return this.string8(this.varint());
      case STRING16:
        return this.string16(this.varint());
      case ARRAY: {
        const n = this.varint();
        if (n > this.end - this.pos) throw new CompactFormatError(`array of ${n} items in ${this.end - this.pos} bytes`);
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.value();
        return a;
      }
      case SHAPE: {
        const id = this.varint();
        if (id !== this.shapes.length) throw new CompactFormatError(`shape ${id} defined out of order, expected ${this.shapes.length}`);
        if (id >= COMPACT_MAX_SHAPES) throw new CompactFormatError(`shape ${id} defined past the ${COMPACT_MAX_SHAPES} shapes a writer defines`);
        const k = this.varint();
        if (k > this.end - this.pos) throw new CompactFormatError(`shape of ${k} keys in ${this.end - this.pos} bytes`);
        const keys: string[] = [];
        for (let i = 0; i < k; i++) keys.push(this.key());
        this.shapes.push(this.genericShape(id, keys));
        return this.shapes[id](this);
      }
      case OBJECT: {
        const id = this.varint();
        const read = this.shapes[id];
        if (read === undefined) throw new CompactFormatError(`shape ${id} used before it was defined`);
        return read(this);
      }
      case MAP_OBJECT: {
        const k = this.varint();
        const o: Record<string, unknown> = {};
        for (let i = 0; i < k; i++) {
          const key = this.key();
          o[key] = this.value();
        }
        return o;
      }
      default:
        throw new CompactFormatError(`unknown tag 0x${tag.toString(16)}`);
    }
  }

  /**
   * A shape's first reader: a loop over its keys (in the order they were written, as the compiled
   * literal reads them), which puts the compiled reader in its place once the shape is hot, while
   * this reader has compiled fewer than COMPACT_MAX_COMPILED.
   */
  private genericShape(id: number, keys: readonly string[]): (reader: CompactReader) => Record<string, unknown> {
    let uses = 0;
    return (reader) => {
      if (++uses === COMPACT_COMPILE_AFTER && reader.compiled < COMPACT_MAX_COMPILED) {
        reader.compiled++;
        const read = compileShapeReader(keys);
        reader.shapes[id] = read;
        return read(reader);
      }
      const object: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) object[keys[i]] = reader.value(); // never `__proto__`: key() refuses it
      return object;
    };
  }

  /** Shapes this reader has compiled, for tests. */
  get compiledShapes(): number {
    return this.compiled;
  }

  /** An object key. The writer never sends `__proto__` (it would set the prototype, or break a
   *  generated literal), so one here is a corrupt frame. */
  private key(): string {
    const key = this.string16(this.varint());
    if (key === '__proto__') throw new CompactFormatError('object key `__proto__` (the writer never sends one)');
    return key;
  }

  private u8(): number {
    if (this.pos >= this.end) throw new CompactFormatError('frame ends inside a value');
    return this.bytes[this.pos++];
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new CompactFormatError('frame ends inside a value');
  }

  private varint(): number {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.u8();
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
    throw new CompactFormatError('varint longer than 5 bytes');
  }

  private string8(n: number): string {
    this.need(n);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + n;
    if (n < 24) {
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(b[p + i]);
      return s;
    }
    let s = '';
    for (let at = 0; at < n; at += CHUNK) s += String.fromCharCode.apply(null, b.subarray(p + at, p + Math.min(n, at + CHUNK)) as unknown as number[]);
    return s;
  }

  private string16(n: number): string {
    this.need(2 * n);
    const b = this.bytes;
    let p = this.pos;
    this.pos = p + 2 * n;
    let s = '';
    const units: number[] = n < CHUNK ? new Array<number>(n) : new Array<number>(CHUNK);
    for (let at = 0; at < n; at += CHUNK) {
      const len = Math.min(CHUNK, n - at);
      units.length = len;
      for (let i = 0; i < len; i++, p += 2) units[i] = b[p] | (b[p + 1] << 8);
      s += String.fromCharCode.apply(null, units);
    }
    return s;
  }
}

/** Code units per `String.fromCharCode.apply`, well under any engine's argument limit. */
const CHUNK = 4096;
const EMPTY = new Uint8Array(0);
