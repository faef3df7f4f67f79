/**
 * The message codec: turns a message into the bytes of one ring frame and back.
 *
 * A message crosses threads as bytes, not through `postMessage`, so this file decides what a
 * message may be. It is msgpackr (records on, for repeated shapes) plus a front end that checks the
 * message first, so a value that cannot travel is an `EncodeError` naming its path at the sender,
 * before a single byte is returned, and so what msgpackr gets wrong on its own still comes out
 * exactly as it went in.
 *
 * ## What travels
 *
 * | value                                         | arrives as                                        |
 * |-----------------------------------------------|---------------------------------------------------|
 * | number (-0, NaN, ±Infinity too), boolean, null, undefined | the same value (`Object.is`-equal)     |
 * | string, lone surrogates included              | the same string, code unit for code unit          |
 * | bigint of any size, negative too              | the same bigint                                   |
 * | plain object, `Object.create(null)` object    | a copy with the same prototype and key order      |
 * | array                                         | a copy; a hole arrives as `undefined`             |
 * | Map (any keys), Set                           | a copy, same iteration order                      |
 * | Date (an invalid Date too), RegExp            | a copy (a RegExp's `lastIndex` is not sent)       |
 * | every typed array, Buffer, ArrayBuffer, DataView | a copy of the viewed bytes, same class, offset 0 |
 * | Error, any subclass                           | see "Errors" below                                |
 * | `Pid`                                         | a `Pid`                                           |
 *
 * Symbol-keyed and non-enumerable properties are skipped (as `JSON.stringify` and `for…in` skip
 * them). Enumerable getters are read, possibly more than once. Extra properties on an array are not
 * sent. Shared references arrive as separate copies.
 *
 * Everything else is an `EncodeError` whose `path` names the value: functions, symbols, instances of
 * any other class (including subclasses of the built-ins above, boxed primitives, Promise, WeakMap),
 * a `SharedArrayBuffer` or a typed array over one (only a task may carry those, beside the ring:
 * docs/architecture.md §3), a cycle (the error names the reference that closes it), and nesting deeper than
 * `MAX_DEPTH` levels. A getter that throws is an `EncodeError` at its path with the throw as `cause`.
 *
 * Paths start at `msg`: `.key` for an identifier-like key, `["weird key"]` for any other, `[3]` for an
 * array index, `<"job-1">` / `<17>` for the value under a primitive Map key, `<#2>` for the value of
 * the third Map entry when its key is an object, `<key #2>` for that key itself, `[#2]` for the third
 * member of a Set, `.cause` and `.code` inside an error. Example: `msg.items[3].handler`.
 *
 * ## Errors
 *
 * An error travels as name, message, stack, `code`, `cause` (any encodable value, an error included,
 * checked like the rest of the message) and `path` (when it is a string). The receiver rebuilds a weft
 * error from its `code` with `errorFromCode` (a code it does not know gives a `WeftError` keeping that
 * code and the original name); Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError and
 * URIError come back as their own class; any other error comes back as an `Error` whose `name` is the
 * original name and which keeps `code`. The stack is the sender's stack string. Other own properties
 * of an error (an AggregateError's `errors`, a SystemError's `errno`) are not sent.
 *
 * ## How it is built, and the measurements behind it
 *
 * `encode` first walks the message (`walkObject` and friends) without building any path string or
 * keeping any ancestor stack: a cycle simply makes the walk reach MAX_DEPTH. Only when the walk fails
 * does `locateFault` walk again, slowly, to name the path and tell a cycle from real depth. The walk
 * also notices the few things msgpackr cannot say on its own; when it finds one, `toWire` makes a
 * copy-on-write version of the message (only the spine above such a value is copied) in which those
 * values become `Wire` objects that a weft msgpackr extension writes:
 *
 * | msgpackr on its own                                  | weft                                   |
 * |------------------------------------------------------|----------------------------------------|
 * | writes -0 as the integer 0                           | `Wire` kind NEGATIVE_ZERO              |
 * | writes a lone surrogate as U+FFFD (in values and keys) | kind STRING: the UTF-16 code units    |
 * | loses a null prototype, renames a `__proto__` key to `__proto_` | kind OBJECT: prototype flag and entries |
 * | writes an error as name, message and cause only      | kind ERROR: see "Errors"               |
 * | returns a Buffer as a Uint8Array (or as a view of the input) | kind BUFFER                     |
 * | writes functions as undefined, class instances as plain objects, overflows on cycles | the walk rejects them first |
 *
 * Why a pre-walk and not msgpackr's hooks (`writeFunction`, and a `useRecords` function that sees
 * each object it writes as a record): the hooks are cheaper, but they cannot give the guarantees.
 * They never see -0 or lone surrogates (msgpackr has no hook for primitives), nor a subclass of Date,
 * Set or a typed array (msgpackr's own extensions take those), nor a typed array over shared memory;
 * a cycle still overflows the stack; and they fire after msgpackr has registered new shapes, so a
 * refusal would come half-way through a frame. Figures from bench/micro/codec.ts (2-core 2.5 GHz
 * Xeon VM, Node 20; ops/s turned into time per call):
 *
 * | encode                         | tiny `{ id: 17, op: 'add', args: [1, 2] }` | medium (20 fields)      |
 * |--------------------------------|--------------------------------------------|-------------------------|
 * | msgpackr, sequential records   | ~360–380 ns                                | ~2.6 µs                 |
 * | the same with the two hooks    | ~380–410 ns                                | ~2.6–2.7 µs             |
 * | `MessageEncoder.encode`        | ~500–620 ns (walk ~100 ns, the view ~50 ns) | ~3.7 µs (walk ~0.95 µs) |
 *
 * A quarter of the walk is `isWellFormed` on object keys (the lone-surrogate check); it stays, since
 * the alternative is silently changing a key. A whole round trip (encode + decode) of the tiny
 * message runs at ~1.1–1.25 M/s in one thread, against ~0.85 M/s for plain msgpackr `pack`/`unpack`
 * and ~0.55 M/s for `structuredClone`; of the medium one at ~185 k/s, against ~100 k/s and ~130 k/s.
 *
 * Shapes: encoder and decoder of a pair run msgpackr in `sequential` mode, so a shape (an object's key
 * list) is defined in the stream once and later messages name it by a one- or two-byte id. The tiny
 * message is 9 bytes instead of 23, encodes ~1.8x and decodes ~5x faster than with per-message
 * records (the decoder keeps each shape's generated reader instead of rebuilding it per message).
 * This is correct only because the stream between one encoder and one decoder is ordered and
 * lossless and every frame `encode` returns is decoded, in order; the tests prove that the pair stays
 * in step across 10,000 shapes, id reuse, and failed encodes. Three details keep it so:
 *
 * - A pair remembers at most `MAX_SHAPES` (1024) shapes; the encoder then reuses the oldest ids and
 *   sends their new definitions inline. The limit also keeps every id's second byte below 0x80, which
 *   matters: with ids of 4128 and more, msgpackr's native string extractor reads that byte as a
 *   string header and decodes garbage (found by the 10,000-shape test with larger limits).
 * - A failed `encode` never leaves a shape registered on one side only: the walk rejects bad values
 *   before msgpackr sees anything, and if msgpackr itself throws, the encoder replaces its msgpackr
 *   instance; a fresh one defines every shape again before using it, so the decoder follows.
 * - A `DecodeError` means corrupt bytes; the decoder's shape table may be out of step afterwards, so
 *   the pair should be torn down.
 *
 * ## Decoding straight from a SharedArrayBuffer
 *
 * msgpackr can read a `Uint8Array` that views a SharedArrayBuffer, such as a frame in a ring: the
 * receiver need not copy the bytes out first. Node's `TextDecoder` (which msgpackr uses for strings
 * of more than 64 bytes) accepts shared views, unlike browsers', and so does msgpackr's native string
 * extractor; the tests decode strings of every length class, typed arrays and binary from a view at
 * an odd offset inside a SharedArrayBuffer. Nothing decoded aliases the input: typed arrays,
 * ArrayBuffers and Buffers are copied (msgpackr slices typed arrays; `copyBuffers` makes it slice
 * binary too), so the caller may reuse the frame's bytes as soon as `decode` returns.
 *
 * `decode` still copies frames of up to 64 KiB into an array of its own first, for speed, not for
 * safety: msgpackr caches a DataView on the array it reads by adding a property to it, which on a
 * fresh view per frame cost ~300 ns, more than decoding the tiny message (~170 ns); the copy costs
 * ~30 ns. Larger frames are read where they are.
 *
 * ## msgpackr is shared
 *
 * msgpackr keeps its extensions in module-level tables, so loading this file registers two extension
 * types in this thread's copy of msgpackr: 0x50 (`Pid`) and 0x57 (`Wire`, weft-private). Neither
 * changes how msgpackr encodes anything else, but another library that registers 0x50 or 0x57 would
 * collide. msgpackr also writes every frame into one module-level buffer per thread; the encoder asks
 * it not to rewind (REUSE_BUFFER_MODE without RESET_BUFFER_MODE), so a frame is never overwritten by
 * a later `pack` from this codec or from anyone else's msgpackr use in the thread.
 */
// 'msgpackr/pack' (in Node: msgpackr's index.js) rather than 'msgpackr': the same Packr and Unpackr
// without its streams module or its native string extractor, which cost every thread ~25 ms of its
// boot and measured no faster on weft's messages (bench/micro/codec.ts, with and without
// MSGPACKR_NATIVE_ACCELERATION_DISABLED).
import { Packr, Unpackr, addExtension, REUSE_BUFFER_MODE } from 'msgpackr/pack';
import { DecodeError, EncodeError, WeftError, describeValue, errorFromCode, isWeftError } from './errors.js';
import { COMPACT_MARK, CompactFormatError, CompactReader, CompactWriter, NOT_COMPACT } from './compact.js';
import { Pid } from './pid.js';

/** Deepest nesting a message may have (the root is level 0). msgpackr's recursive writer overflows a
 *  default Node stack between 1,000 and 2,000 levels; 512 leaves room for the caller's own frames. */
export const MAX_DEPTH = 512;

/** Shapes one encoder/decoder pair remembers before reusing ids (see "Shapes" above). */
export const MAX_SHAPES = 1024;

/** What msgpackr decodes the never-used byte 0xc1 to, a marker rather than an error (see `decode`). */
const C1: unknown = new Unpackr().unpack(Uint8Array.of(0xc1));

/** Frames up to this many bytes are copied into the decoder's own array before decoding; larger
 *  ones are decoded where they are (the copy would not pay for itself). */
const SCRATCH_LIMIT = 64 * 1024;

/** msgpackr extension type of a `Pid`: `[node, thread, serial]`, and `creation` when it is not 0. */
export const PID_EXTENSION = 0x50;

/** msgpackr extension type of a `Wire`: `[kind, ...fields]`. */
export const WIRE_EXTENSION = 0x57;

// ---------------------------------------------------------------------------------------------------
// Wire values: what msgpackr cannot say directly, as arrays it can.

const enum WireKind {
  /** `[kind]` */
  NEGATIVE_ZERO = 0,
  /** `[kind, Uint16Array of UTF-16 code units]`, for strings that are not well-formed */
  STRING = 1,
  /** `[kind, nullPrototype, key0, value0, key1, value1, ...]` */
  OBJECT = 2,
  /** `[kind, flags, name, message, stack, code, cause, path]`, see ErrorFlag */
  ERROR = 3,
  /** `[kind, Uint8Array]` */
  BUFFER = 4,
}

const enum ErrorFlag {
  WEFT = 1,
  HAS_CAUSE = 2,
  HAS_CODE = 4,
  HAS_PATH = 8,
  HAS_STACK = 16,
}

/** A value rewritten for msgpackr; only `toWire` makes these, only the WIRE_EXTENSION reads them. */
class Wire {
  constructor(readonly fields: unknown[]) {}
}

const NEGATIVE_ZERO_WIRE = new Wire([WireKind.NEGATIVE_ZERO]);

const BUILTIN_ERRORS: Readonly<Record<string, ErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

addExtension({
  Class: Pid,
  type: PID_EXTENSION,
  // a node name with a lone surrogate would lose it as a msgpack string, like any other string
  write: (pid: Pid) => {
    const node = isWellFormed(pid.node) ? pid.node : stringWire(pid.node);
    return pid.creation === 0 ? [node, pid.thread, pid.serial] : [node, pid.thread, pid.serial, pid.creation];
  },
  read: (fields: unknown) => {
    if (
      !Array.isArray(fields) ||
      (fields.length !== 3 && fields.length !== 4) ||
      typeof fields[0] !== 'string' ||
      typeof fields[1] !== 'number' ||
      typeof fields[2] !== 'number' ||
      (fields.length === 4 && typeof fields[3] !== 'number')
    ) {
      throw new Error(`a pid extension holds [node, thread, serial, creation?], got: ${describeValue(fields)}`);
    }
    return new Pid(fields[0], fields[1], fields[2], fields[3] ?? 0);
  },
});

addExtension({
  Class: Wire,
  type: WIRE_EXTENSION,
  write: (wire: Wire) => wire.fields,
  read: readWire,
});

function readWire(fields: unknown): unknown {
  if (!Array.isArray(fields)) throw new Error(`a weft wire value is an array, got: ${describeValue(fields)}`);
  switch (fields[0]) {
    case WireKind.NEGATIVE_ZERO:
      return -0;
    case WireKind.STRING:
      return stringFromCodeUnits(fields[1]);
    case WireKind.OBJECT:
      return objectFromEntries(fields);
    case WireKind.ERROR:
      return errorFromWire(fields);
    case WireKind.BUFFER: {
      const bytes: unknown = fields[1];
      if (!(bytes instanceof Uint8Array)) throw new Error(`a weft buffer holds a Uint8Array, got: ${describeValue(bytes)}`);
      // `bytes` is already a private copy (msgpackr slices typed arrays), so wrapping it is safe
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    default:
      throw new Error(`a weft wire value starts with a kind from 0 to 4, got: ${describeValue(fields[0])}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// The walk: validates the message and notices what needs a Wire, without building paths.

/** Thrown by the walk at the first value that cannot travel; `encode` then calls `locateFault`. Not
 *  an Error, so throwing it captures no stack. */
const FAULT = Object.freeze({ fault: 'weft codec walk' });

/** Set by the walk when some value needs `toWire`. Module state: the walk is synchronous. */
let wireNeeded = false;

const getPrototypeOf = Object.getPrototypeOf;
const ObjectPrototype = Object.prototype;
const ArrayPrototype = Array.prototype;
const MapPrototype = Map.prototype;
const SetPrototype = Set.prototype;
const DatePrototype = Date.prototype;
const RegExpPrototype = RegExp.prototype;
const PidPrototype = Pid.prototype;
const BufferPrototype = Buffer.prototype;
const ArrayBufferPrototype = ArrayBuffer.prototype;
const SharedArrayBufferPrototype = SharedArrayBuffer.prototype;

/** The views msgpackr writes with their class (DataView included); Buffer goes through a Wire. */
const VIEW_PROTOTYPES: ReadonlySet<object> = new Set([
  Int8Array.prototype,
  Uint8Array.prototype,
  Uint8ClampedArray.prototype,
  Int16Array.prototype,
  Uint16Array.prototype,
  Int32Array.prototype,
  Uint32Array.prototype,
  Float32Array.prototype,
  Float64Array.prototype,
  BigInt64Array.prototype,
  BigUint64Array.prototype,
  DataView.prototype,
]);

/** `String.prototype.isWellFormed` (ES2024, in Node 20) for a lib setting that predates it. */
interface MaybeWellFormed {
  isWellFormed(): boolean;
}

function isWellFormed(text: string): boolean {
  return (text as unknown as MaybeWellFormed).isWellFormed();
}

function isNegativeZero(value: number): boolean {
  return value === 0 && 1 / value < 0;
}

/** Checks a value that is not a non-null object; throws FAULT for a function or a symbol. */
function checkLeaf(value: unknown): void {
  switch (typeof value) {
    case 'number':
      if (isNegativeZero(value)) wireNeeded = true;
      return;
    case 'string':
      if (!isWellFormed(value)) wireNeeded = true;
      return;
    case 'boolean':
    case 'undefined':
    case 'bigint':
    case 'object': // null: the caller handles every other object
      return;
    default: // function, symbol
      throw FAULT;
  }
}

function walkValue(value: unknown, depth: number): void {
  if (typeof value === 'object' && value !== null) walkObject(value, depth);
  else checkLeaf(value);
}

/**
 * Walks one object. There is no cycle check here: a cycle makes the walk go MAX_DEPTH deep and fail,
 * and `locateFault` then tells the cycle from real depth. That keeps the common case free of any
 * bookkeeping, and a cyclic message costs at most MAX_DEPTH extra steps before it is refused.
 */
function walkObject(object: object, depth: number): void {
  if (depth >= MAX_DEPTH) throw FAULT;
  const prototype: unknown = getPrototypeOf(object);
  if (prototype === ObjectPrototype) {
    walkProperties(object as Record<string, unknown>, depth);
  } else if (prototype === ArrayPrototype) {
    const array = object as unknown[];
    for (let index = 0, length = array.length; index < length; index++) {
      const item = array[index];
      if (typeof item === 'object' && item !== null) walkObject(item, depth + 1);
      else checkLeaf(item);
    }
  } else {
    walkOtherObject(object, prototype, depth);
  }
}

/** Keys msgpackr cannot write as they are: it renames `__proto__` on decode, and dispatches on
 *  `.constructor`, so an own `constructor` would pick the wrong writer. */
function isAwkwardKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || !isWellFormed(key);
}

function walkProperties(object: Record<string, unknown>, depth: number): void {
  for (const key in object) {
    if (isAwkwardKey(key)) wireNeeded = true;
    const value = object[key];
    if (typeof value === 'object' && value !== null) walkObject(value, depth + 1);
    else checkLeaf(value);
  }
}

/** Everything but plain objects and arrays, kept out of `walkObject` so that one stays small. */
function walkOtherObject(object: object, prototype: unknown, depth: number): void {
  if (prototype === null) {
    wireNeeded = true;
    walkProperties(object as Record<string, unknown>, depth);
  } else if (prototype === MapPrototype) {
    for (const [key, value] of object as Map<unknown, unknown>) {
      walkValue(key, depth + 1);
      walkValue(value, depth + 1);
    }
  } else if (prototype === SetPrototype) {
    for (const member of object as Set<unknown>) walkValue(member, depth + 1);
  } else if (prototype === PidPrototype || prototype === DatePrototype || prototype === RegExpPrototype || prototype === ArrayBufferPrototype) {
    return;
  } else if (VIEW_PROTOTYPES.has(prototype as object) || prototype === BufferPrototype) {
    if (getPrototypeOf((object as ArrayBufferView).buffer) === SharedArrayBufferPrototype) throw FAULT;
    if (prototype === BufferPrototype) wireNeeded = true;
  } else if (object instanceof Error) {
    wireNeeded = true;
    const code: unknown = (object as { code?: unknown }).code;
    if (code !== undefined) walkValue(code, depth + 1);
    if ('cause' in object) walkValue(object.cause, depth + 1);
  } else {
    throw FAULT; // a class instance, a SharedArrayBuffer, a boxed primitive, a Promise, ...
  }
}

// ---------------------------------------------------------------------------------------------------
// Locating a fault: the slow second walk that builds paths, run only after the fast walk failed.

interface Fault {
  path: string;
  message: string;
  cause?: unknown;
}

const ACCEPTED =
  'a message holds primitives, plain objects, arrays, Map, Set, Date, RegExp, Error, Pid, typed arrays, ' +
  'Buffer, ArrayBuffer and DataView';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** `<"job-1">`, `<17>`, `<17n>`, `<true>`, `<null>`, `<undefined>`, or `<#2>` for an object key. */
function mapValueSegment(key: unknown, entry: number): string {
  switch (typeof key) {
    case 'string':
      return `<${JSON.stringify(key)}>`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return `<${String(key)}>`;
    case 'bigint':
      return `<${key}n>`;
    default:
      return key === null ? '<null>' : `<#${entry}>`;
  }
}

function faultAt(path: string, value: unknown, why: string, cause?: unknown): Fault {
  return { path, message: `cannot encode \`${path}\`: ${why}, got: ${describeValue(value)}`, cause };
}

/** Reads `holder[key]`, turning a throwing getter into a Fault. */
function readProperty(holder: object, key: string, path: string): { value: unknown } | Fault {
  try {
    return { value: (holder as Record<string, unknown>)[key] };
  } catch (error) {
    return faultAt(path, error, 'reading it threw (see `cause`); a getter in a message must not throw', error);
  }
}

/** An object on the way from the root down to the value being located, for the cycle check. */
interface Link {
  object: object;
  path: string;
}

/**
 * Finds the first value the fast walk rejects, in the same order, and says where and why. `chain`
 * holds the objects (and their paths) from the root down to `value`'s parent; a cycle is reported
 * where it closes, before it could be mistaken for depth.
 */
function locateFault(value: unknown, path: string, chain: Link[]): Fault | undefined {
  if (typeof value === 'function') return faultAt(path, value, `functions cannot be sent; ${ACCEPTED}`);
  if (typeof value === 'symbol') {
    return faultAt(path, value, `symbols cannot be sent (symbol-keyed properties are skipped, symbol values are not); ${ACCEPTED}`);
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const ancestor = chain.find((link) => link.object === value);
  if (ancestor !== undefined) {
    return faultAt(
      path,
      value,
      `it refers back to \`${ancestor.path}\`, which contains it; a message must be a tree (shared references are sent as copies, cycles cannot be)`,
    );
  }
  if (chain.length >= MAX_DEPTH) return faultAt(path, value, `a message may nest at most ${MAX_DEPTH} levels deep`);
  chain.push({ object: value, path });
  try {
    return locateInside(value, path, chain);
  } finally {
    chain.pop();
  }
}

/** `locateFault` for what is inside `object` (already on `chain`). */
function locateInside(object: object, path: string, chain: Link[]): Fault | undefined {
  const prototype: unknown = getPrototypeOf(object);
  if (prototype === ObjectPrototype || prototype === null) {
    for (const key in object) {
      const keyPath = path + propertySegment(key);
      const read = readProperty(object, key, keyPath);
      if (!('value' in read)) return read;
      const fault = locateFault(read.value, keyPath, chain);
      if (fault !== undefined) return fault;
    }
  } else if (prototype === ArrayPrototype) {
    const array = object as unknown[];
    for (let index = 0; index < array.length; index++) {
      const fault = locateFault(array[index], `${path}[${index}]`, chain);
      if (fault !== undefined) return fault;
    }
  } else if (prototype === MapPrototype) {
    let entry = 0;
    for (const [key, item] of object as Map<unknown, unknown>) {
      const fault = locateFault(key, `${path}<key #${entry}>`, chain) ?? locateFault(item, path + mapValueSegment(key, entry), chain);
      if (fault !== undefined) return fault;
      entry++;
    }
  } else if (prototype === SetPrototype) {
    let member = 0;
    for (const item of object as Set<unknown>) {
      const fault = locateFault(item, `${path}[#${member}]`, chain);
      if (fault !== undefined) return fault;
      member++;
    }
  } else if (prototype === SharedArrayBufferPrototype) {
    return faultAt(path, object, 'a SharedArrayBuffer cannot be copied into a frame; only a task may carry one (it then travels on the thread\'s port, docs/architecture.md §3)');
  } else if (VIEW_PROTOTYPES.has(prototype as object) || prototype === BufferPrototype) {
    if (getPrototypeOf((object as ArrayBufferView).buffer) === SharedArrayBufferPrototype) {
      return faultAt(path, object, 'a view over a SharedArrayBuffer cannot be copied into a frame; only a task may carry one (it then travels on the thread\'s port, docs/architecture.md §3)');
    }
  } else if (object instanceof Error) {
    const code = readProperty(object, 'code', `${path}.code`);
    if (!('value' in code)) return code;
    if (code.value !== undefined) {
      const fault = locateFault(code.value, `${path}.code`, chain);
      if (fault !== undefined) return fault;
    }
    if ('cause' in object) {
      const cause = readProperty(object, 'cause', `${path}.cause`);
      if (!('value' in cause)) return cause;
      return locateFault(cause.value, `${path}.cause`, chain);
    }
  } else if (prototype !== PidPrototype && prototype !== DatePrototype && prototype !== RegExpPrototype && prototype !== ArrayBufferPrototype) {
    return faultAt(path, object, `instances of other classes cannot be sent; ${ACCEPTED}`);
  }
  return undefined;
}

/** The EncodeError for a message the fast walk rejected (`thrown` is FAULT or what the walk threw). */
function encodeErrorFor(message: unknown, thrown: unknown): EncodeError {
  let fault: Fault | undefined;
  try {
    fault = locateFault(message, 'msg', []);
  } catch (error) {
    // e.g. the stack ran out: the caller is already deep, or the message nests near MAX_DEPTH
    return new EncodeError(`cannot encode \`msg\`: the codec's walk itself failed (see \`cause\`), got: ${describeValue(error)}`, 'msg', { cause: error });
  }
  if (fault !== undefined) return new EncodeError(fault.message, fault.path, { cause: fault.cause });
  // The first walk failed and the second did not: a getter that answers differently each time, or
  // a stack overflow in the first walk only.
  const cause = thrown === FAULT ? undefined : thrown;
  return new EncodeError(
    `cannot encode \`msg\`: the message changed while it was being checked (a getter?) or the walk ran out of stack, got: ${describeValue(cause ?? message)}`,
    'msg',
    { cause },
  );
}

// ---------------------------------------------------------------------------------------------------
// Rewriting: a copy-on-write version of a walked message, with Wire objects where msgpackr needs them.

/** Returns `value` itself when nothing inside it needs a Wire, so only the spine above a Wire is copied.
 *  Runs only after a successful walk: no cycles, no bad values, bounded depth. */
function toWire(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return isNegativeZero(value) ? NEGATIVE_ZERO_WIRE : value;
    case 'string':
      return isWellFormed(value) ? value : stringWire(value);
    case 'object':
      return value === null ? null : objectToWire(value);
    default:
      return value;
  }
}

function stringWire(text: string): Wire {
  const units = new Uint16Array(text.length);
  for (let index = 0; index < text.length; index++) units[index] = text.charCodeAt(index);
  return new Wire([WireKind.STRING, units]);
}

/** msgpackr writes keys as UTF-8 (losing lone surrogates), so such keys travel as STRING wires too. */
function keyToWire(key: string): unknown {
  return isWellFormed(key) ? key : stringWire(key);
}

function objectToWire(object: object): unknown {
  const prototype: unknown = getPrototypeOf(object);
  if (prototype === ObjectPrototype || prototype === null) {
    const record = object as Record<string, unknown>;
    if (prototype === null || hasAwkwardKey(record)) return entriesWire(record, prototype === null);
    let copy: Record<string, unknown> | undefined;
    for (const key in record) {
      const value = record[key];
      const wire = toWire(value);
      if (copy === undefined && wire !== value) copy = copyUpTo(record, key);
      if (copy !== undefined) copy[key] = wire;
    }
    return copy ?? object;
  }
  if (prototype === ArrayPrototype) {
    const array = object as unknown[];
    let copy: unknown[] | undefined;
    for (let index = 0; index < array.length; index++) {
      const value = array[index];
      const wire = toWire(value);
      if (copy === undefined && wire !== value) copy = array.slice(0, index);
      if (copy !== undefined) copy[index] = wire;
    }
    return copy ?? object;
  }
  if (prototype === MapPrototype) {
    const map = object as Map<unknown, unknown>;
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [key, value] of map) {
      const keyWire = toWire(key);
      const valueWire = toWire(value);
      if (keyWire !== key || valueWire !== value) changed = true;
      entries.push([keyWire, valueWire]);
    }
    return changed ? new Map(entries) : object;
  }
  if (prototype === SetPrototype) {
    const set = object as Set<unknown>;
    let changed = false;
    const members: unknown[] = [];
    for (const member of set) {
      const wire = toWire(member);
      if (wire !== member) changed = true;
      members.push(wire);
    }
    return changed ? new Set(members) : object;
  }
  if (prototype === BufferPrototype) {
    const buffer = object as Buffer;
    return new Wire([WireKind.BUFFER, new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)]);
  }
  if (object instanceof Error) return errorToWire(object);
  return object; // Date, RegExp, Pid, typed arrays, ArrayBuffer, DataView: msgpackr writes them as they are
}

function hasAwkwardKey(record: Record<string, unknown>): boolean {
  for (const key in record) if (isAwkwardKey(key)) return true;
  return false;
}

function copyUpTo(record: Record<string, unknown>, stopKey: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in record) {
    if (key === stopKey) break;
    copy[key] = record[key];
  }
  return copy;
}

function entriesWire(record: Record<string, unknown>, nullPrototype: boolean): Wire {
  const fields: unknown[] = [WireKind.OBJECT, nullPrototype];
  for (const key in record) fields.push(keyToWire(key), toWire(record[key]));
  return new Wire(fields);
}

function errorToWire(error: Error): Wire {
  let flags = isWeftError(error) ? ErrorFlag.WEFT : 0;
  const name: unknown = error.name;
  const message: unknown = error.message;
  const stack: unknown = error.stack;
  const code: unknown = (error as { code?: unknown }).code;
  const path: unknown = (error as { path?: unknown }).path;
  let cause: unknown;
  if ('cause' in error) {
    flags |= ErrorFlag.HAS_CAUSE;
    cause = toWire(error.cause);
  }
  if (code !== undefined) flags |= ErrorFlag.HAS_CODE;
  if (typeof path === 'string') flags |= ErrorFlag.HAS_PATH;
  if (typeof stack === 'string') flags |= ErrorFlag.HAS_STACK;
  return new Wire([
    WireKind.ERROR,
    flags,
    toWire(typeof name === 'string' ? name : 'Error'),
    toWire(typeof message === 'string' ? message : String(message)),
    typeof stack === 'string' ? toWire(stack) : undefined,
    code === undefined ? undefined : toWire(code),
    cause,
    typeof path === 'string' ? toWire(path) : undefined,
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Reading wires back.

function stringFromCodeUnits(units: unknown): string {
  if (!(units instanceof Uint16Array)) throw new Error(`a weft string holds a Uint16Array, got: ${describeValue(units)}`);
  let text = '';
  for (let start = 0; start < units.length; start += 8192) {
    text += String.fromCharCode(...units.subarray(start, start + 8192));
  }
  return text;
}

function objectFromEntries(fields: unknown[]): object {
  const object: Record<string, unknown> = fields[1] === true ? Object.create(null) : {};
  for (let index = 2; index < fields.length; index += 2) {
    const key = fields[index];
    if (typeof key !== 'string') throw new Error(`a weft object's keys are strings, got: ${describeValue(key)}`);
    // defineProperty, not assignment: a `__proto__` key must become an own property
    Object.defineProperty(object, key, { value: fields[index + 1], writable: true, enumerable: true, configurable: true });
  }
  return object;
}

function errorFromWire(fields: unknown[]): Error {
  const [, flags, name, message, stack, code, cause, path] = fields;
  if (typeof flags !== 'number' || typeof name !== 'string' || typeof message !== 'string') {
    throw new Error(`a weft error holds [kind, flags, name, message, ...], got: ${describeValue(fields)}`);
  }
  const hasCause = (flags & ErrorFlag.HAS_CAUSE) !== 0;
  const hasCode = (flags & ErrorFlag.HAS_CODE) !== 0;
  const hasPath = (flags & ErrorFlag.HAS_PATH) !== 0;
  // The stack is replaced below, so do not pay for capturing the decoder's own
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let error: Error;
  try {
    if ((flags & ErrorFlag.WEFT) !== 0) {
      error = rebuildWeftError(name, message, hasCode ? code : undefined, hasCause, cause, hasPath ? path : undefined);
    } else {
      const Builtin = Object.hasOwn(BUILTIN_ERRORS, name) ? BUILTIN_ERRORS[name] : undefined;
      error = new (Builtin ?? Error)(message, hasCause ? { cause } : undefined);
      if (Builtin === undefined) Object.defineProperty(error, 'name', { value: name, writable: true, configurable: true });
      if (hasCode) (error as { code?: unknown }).code = code;
      if (hasPath) (error as { path?: unknown }).path = path;
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if ((flags & ErrorFlag.HAS_STACK) === 0) delete error.stack;
  else if (typeof stack === 'string') error.stack = stack;
  else throw new Error(`a weft error's stack is a string, got: ${describeValue(stack)}`);
  return error;
}

function rebuildWeftError(name: string, message: string, code: unknown, hasCause: boolean, cause: unknown, path: unknown): WeftError {
  const detail = { cause: hasCause ? cause : undefined, path: typeof path === 'string' ? path : undefined };
  const known = typeof code === 'string' ? errorFromCode(code, message, detail) : undefined;
  const error = known ?? new WeftError(message, { cause: detail.cause, code: typeof code === 'string' ? code : undefined });
  // Some classes take no cause; an error sent with `cause: undefined` keeps the property too
  if (hasCause && !Object.hasOwn(error, 'cause')) {
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  }
  if (error.name !== name) Object.defineProperty(error, 'name', { value: name, writable: true, configurable: true });
  return error;
}

// ---------------------------------------------------------------------------------------------------
// The pair.

function createPackr(): Packr {
  // A fresh options object each time: msgpackr stores its shape table on the object it is given
  return new Packr({
    useRecords: true,
    sequential: true,
    moreTypes: true,
    maxOwnStructures: MAX_SHAPES,
    useToJSON: false,
    structuredClone: false,
    writeFunction: () => {
      throw new Error('a function reached msgpackr although the walk rejects functions');
    },
  });
}

/** msgpackr's buffer in REUSE_BUFFER_MODE: the frame is `[start, end)` of it. */
interface ReusedBuffer extends Buffer {
  start: number;
  end: number;
}

/**
 * Encodes the messages one thread sends to one other thread.
 *
 * ```ts
 * const encoder = new MessageEncoder();            // sender side, one per receiving thread
 * const decoder = new MessageDecoder();            // receiver side, one per sending thread
 * ring.push(KIND_MESSAGE, encoder.encode({ id: 17, op: 'add', args: [1, 2] }));
 * // ...on the receiving thread, for every frame, in order:
 * const message = decoder.decode(payload);         // { id: 17, op: 'add', args: [1, 2] }
 * ```
 *
 * Frames refer to shapes defined by earlier frames of the same encoder, so the decoder must see every
 * frame `encode` returned, in order, once. A frame is meaningless to any other decoder. An `encode`
 * that throws returns nothing and changes nothing the decoder depends on.
 */
export class MessageEncoder {
  /** The fast path for plain data (compact.ts); everything else goes through msgpackr. */
  private readonly compact = new CompactWriter();
  /** Set when `encodeInto` found the message is not plain data, so the `encode` that follows goes
   *  straight to msgpackr instead of walking the compact path a second time. */
  private skipCompactOnce = false;
  private packr = createPackr();
  /** Whether `packr` has encoded anything since it was made (see `startOver`). */
  private packed = false;
  private scratchBytes: Uint8Array = new Uint8Array(0);
  private scratchBegin = 0;
  /** The msgpackr buffer `wholeView` views; msgpackr moves to a new one every few KB. */
  private viewedBuffer: Uint8Array | undefined;
  private wholeView: Uint8Array = new Uint8Array(0);

  /**
   * Encodes `message` and returns a view of the frame, without copying it. The view is only valid
   * until the next `encode` or `encodeToScratch` on this encoder: copy it into the ring, do not keep
   * it. (msgpackr does not rewrite it today, but that is not a promise this class makes.) Throws
   * `EncodeError`, with `path`, for a value that cannot travel, and then nothing has changed.
   */
  encode(message: unknown): Uint8Array {
    const compact = this.compact;
    if (this.skipCompactOnce) this.skipCompactOnce = false;
    else if (compact.write(message)) return compact.bytes.subarray(0, compact.length);
    const buffer = this.pack(message);
    if (buffer !== this.viewedBuffer) {
      // A plain Uint8Array over msgpackr's Buffer: its subarray is cheaper to make than a Buffer's
      this.viewedBuffer = buffer;
      this.wholeView = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    }
    return this.wholeView.subarray(buffer.start, buffer.end);
  }

  /**
   * Encodes `message` straight into `target[start, limit)` (a ring's claimed room) and returns where
   * the frame ends; or -1 when it cannot be written there (it does not fit, or it needs msgpackr),
   * having changed nothing: then `encode` it and copy. Plain data (objects, arrays, strings,
   * numbers, booleans, null, undefined) is written in place; never throws for a bad value (the
   * fallback `encode` reports it).
   */
  encodeInto(message: unknown, target: Uint8Array, start: number, limit: number): number {
    const end = this.compact.writeInto(message, target, start, limit);
    if (end === NOT_COMPACT) this.skipCompactOnce = true;
    return end < 0 ? -1 : end;
  }

  /**
   * Like `encode` without allocating a view: returns the frame's length; the frame is
   * `scratch[scratchStart, scratchStart + length)`, valid until the next encode on this encoder.
   */
  encodeToScratch(message: unknown): number {
    const compact = this.compact;
    if (this.skipCompactOnce) this.skipCompactOnce = false;
    else if (compact.write(message)) {
      this.scratchBytes = compact.bytes;
      this.scratchBegin = 0;
      return compact.length;
    }
    const buffer = this.pack(message);
    this.scratchBytes = buffer;
    this.scratchBegin = buffer.start;
    return buffer.end - buffer.start;
  }

  /** The buffer holding the frame of the last `encodeToScratch`. */
  get scratch(): Uint8Array {
    return this.scratchBytes;
  }

  /** Where the frame of the last `encodeToScratch` starts in `scratch`. */
  get scratchStart(): number {
    return this.scratchBegin;
  }

  /**
   * Starts a new stream for a new decoder (a fresh MessageDecoder): what the old one learned is
   * not assumed. Cheaper than a new encoder, whose compact shape writers would be compiled again.
   */
  startOver(): void {
    this.compact.forgetShapes();
    this.skipCompactOnce = false;
    if (this.packed) {
      this.packr = createPackr();
      this.packed = false;
    }
  }

  private pack(message: unknown): ReusedBuffer {
    this.packed = true;
    // saved and restored in case a getter in an outer message encodes while that message is walked
    const outerWireNeeded = wireNeeded;
    wireNeeded = false;
    let needsWire: boolean;
    try {
      walkValue(message, 0);
      needsWire = wireNeeded;
    } catch (thrown) {
      throw encodeErrorFor(message, thrown);
    } finally {
      wireNeeded = outerWireNeeded;
    }
    let wire = message;
    if (needsWire) {
      try {
        wire = toWire(message);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new EncodeError(`cannot encode \`msg\`: reading it a second time threw "${reason}" (see \`cause\`), got: ${describeValue(message)}`, 'msg', { cause: error });
      }
    }
    try {
      return this.packr.pack(wire, REUSE_BUFFER_MODE) as ReusedBuffer;
    } catch (error) {
      // msgpackr may have registered shapes for bytes nobody will see: start over with a fresh
      // instance, which defines every shape again before using it, so the decoder stays in step
      this.packr = createPackr();
      const reason = error instanceof Error ? error.message : String(error);
      throw new EncodeError(`cannot encode \`msg\`: msgpackr threw "${reason}" (see \`cause\`) after the message was checked; the encoder's shapes were reset, got: ${describeValue(message)}`, 'msg', { cause: error });
    }
  }
}

/**
 * Decodes the frames of one `MessageEncoder`, in the order it produced them (see MessageEncoder).
 * Malformed bytes throw `DecodeError` with msgpackr's error as `cause`; after one, the pair is out of
 * step and should be torn down.
 */
export class MessageDecoder {
  private readonly compact = new CompactReader();
  private readonly unpackr = new Unpackr({
    useRecords: true,
    sequential: true,
    moreTypes: true,
    mapsAsObjects: false,
    int64AsType: 'bigint',
    copyBuffers: true,
    structuredClone: false,
  });
  /** Reused for every call: msgpackr reads `start` and `end` from it. */
  private readonly range = { start: 0, end: 0 };
  /** Where small frames are decoded from (see `decode`); grows up to SCRATCH_LIMIT bytes. */
  private scratch = new Uint8Array(256);

  /**
   * Decodes the frame in `bytes[start, end)` (all of `bytes` by default). `bytes` may view a
   * SharedArrayBuffer; nothing returned aliases it, so it may be reused as soon as this returns.
   */
  decode(bytes: Uint8Array, start = 0, end: number = bytes.length): unknown {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= bytes.length)) {
      throw new DecodeError(
        `cannot decode: a frame is a non-empty range [start, end) inside the ${bytes.length} bytes given, got: start ${describeValue(start)}, end ${describeValue(end)}`,
      );
    }
    if (bytes[start] === COMPACT_MARK) return this.decodeCompact(bytes, start, end);
    const length = end - start;
    let source = bytes;
    const range = this.range;
    if (length <= SCRATCH_LIMIT) {
      // Small frames are copied to offset 0 of one long-lived array, which is faster than reading
      // them where they are: msgpackr caches a DataView on the array it reads (adding a property
      // to a fresh view every frame costs more than decoding a tiny message), and it only takes its
      // fast path for short strings when the frame ends within the first 140 bytes of that array.
      let scratch = this.scratch;
      if (scratch.length < length) scratch = this.scratch = new Uint8Array(Math.min(SCRATCH_LIMIT, Math.max(length, scratch.length * 2)));
      if (length < 64) for (let index = 0; index < length; index++) scratch[index] = bytes[start + index];
      else scratch.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
      source = scratch;
      range.start = 0;
      range.end = length;
    } else {
      // read in place (msgpackr leaves its DataView on `bytes` as a property)
      range.start = start;
      range.end = end;
    }
    let message: unknown;
    try {
      message = this.unpackr.unpack(source, range);
    } catch (error) {
      throw new DecodeError(
        `cannot decode a ${end - start}-byte frame (${error instanceof Error ? error.message : String(error)}); frames must come from the paired MessageEncoder, in order, got: ${hexPreview(bytes, start, end)}`,
        { cause: error },
      );
    }
    // 0xc1 is "never used" in msgpack; msgpackr returns a marker object for it instead of throwing
    if (message === C1) throw new DecodeError(`cannot decode a frame holding only the unused byte 0xc1, got: ${hexPreview(bytes, start, end)}`);
    return message;
  }

  /** A frame from the encoder's fast path (compact.ts), read in place. */
  private decodeCompact(bytes: Uint8Array, start: number, end: number): unknown {
    try {
      return this.compact.read(bytes, start, end);
    } catch (error) {
      if (!(error instanceof CompactFormatError || error instanceof RangeError)) throw error;
      throw new DecodeError(
        `cannot decode a ${end - start}-byte compact frame (${error.message}); frames must come from the paired MessageEncoder, in order, got: ${hexPreview(bytes, start, end)}`,
        { cause: error },
      );
    }
  }
}

function hexPreview(bytes: Uint8Array, start: number, end: number): string {
  const shown = Array.from(bytes.subarray(start, Math.min(end, start + 16)), (byte) => byte.toString(16).padStart(2, '0'));
  return `\`${shown.join(' ')}${end - start > 16 ? ' …' : ''}\``;
}
