/**
 * The message codec: what travels exactly, what is refused (and where), and why a sequential pair
 * never falls out of step.
 *
 * `sameMessage` is the equality used throughout: stricter than `toStrictEqual` where the codec
 * promises more (-0, NaN, invalid Dates, prototypes, typed array classes, error classes and stacks)
 * and looser only where the codec documents a change (an array hole arrives as `undefined`).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_DEPTH, MAX_SHAPES, MessageDecoder, MessageEncoder } from '../src/shm/codec.js';
import {
  DecodeError,
  EncodeError,
  ErrorCodes,
  InvalidArgumentError,
  RingCorruptError,
  WeftError,
  isWeftError,
} from '../src/shm/errors.js';
import { Pid } from '../src/shm/pid.js';
import { BUILTIN_ERROR_NAMES, sameMessage } from './support/same-message.js';

/** As in test/helpers.ts: `WEFT_TEST_QUICK=1` shrinks counts, never assertions. */
const QUICK = process.env.WEFT_TEST_QUICK === '1';
const RUNS = QUICK ? 150 : 600;

function roundTrip(value: unknown, encoder = new MessageEncoder(), decoder = new MessageDecoder()): unknown {
  return decoder.decode(encoder.encode(value));
}

function expectRoundTrip(value: unknown): void {
  sameMessage(roundTrip(value), value);
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

/** Any UTF-16 code unit, so lone surrogates (and broken pairs) come up often. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: codeUnit }),
  fc.string({ unit: 'grapheme', minLength: 30, maxLength: 120 }),
);

const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 5e-324, Number.MAX_VALUE),
);

const bigint = fc.oneof(fc.bigInt(), fc.bigInt({ min: -(2n ** 700n), max: 2n ** 700n }), fc.constantFrom(2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n - 1n, 2n ** 64n));

/** A typed array of `Class` with `count` elements, viewed at an offset inside a bigger buffer. */
function offsetView<T extends ArrayBufferView>(make: (buffer: ArrayBuffer, offset: number, length: number) => T, elementSize: number) {
  return fc.tuple(fc.nat(3), fc.nat(6), fc.uint8Array({ maxLength: 64 })).map(([before, count, seed]) => {
    const buffer = new ArrayBuffer((before + count + 2) * elementSize);
    new Uint8Array(buffer).set(seed.subarray(0, buffer.byteLength));
    return make(buffer, before * elementSize, count);
  });
}

const binary = fc.oneof(
  fc.int8Array(),
  fc.uint8Array(),
  fc.uint8ClampedArray(),
  fc.int16Array(),
  fc.uint16Array(),
  fc.int32Array(),
  fc.uint32Array(),
  fc.float32Array(),
  fc.float64Array(),
  fc.bigInt64Array(),
  fc.bigUint64Array(),
  offsetView((buffer, offset, length) => new Float64Array(buffer, offset, length), 8),
  offsetView((buffer, offset, length) => new Int16Array(buffer, offset, length), 2),
  offsetView((buffer, offset, length) => new DataView(buffer, offset + 1, length), 1),
  fc.uint8Array().map((bytes) => bytes.buffer.slice(0)),
  fc.string().map((text) => Buffer.from(text)), // small Buffers come from a shared pool, at an offset
);

const leaf = fc.oneof(
  number,
  anyString,
  bigint,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date(),
  fc.constantFrom(/a+b/gi, /^\d{2,}$/u, new RegExp('x', 'y')),
  fc.tuple(fc.string({ unit: codeUnit, maxLength: 8 }), fc.nat(64), fc.nat()).map(([node, thread, serial]) => new Pid(node, thread, serial)),
  binary,
);

const key = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toJSON', 'hasOwnProperty', 'valueOf', '0', '17', 'weird key') },
  { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 3 }) },
);

/** Builds an object from entries with defineProperty, so `__proto__` becomes an own key. */
function buildObject(entries: [string, unknown][], nullPrototype: boolean): Record<string, unknown> {
  const object: Record<string, unknown> = nullPrototype ? Object.create(null) : {};
  for (const [name, value] of entries) Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
  return object;
}

class CustomError extends Error {
  override name = 'CustomError';
}

/** A weft error from a newer version: its code is unknown here. */
class FutureError extends WeftError {
  constructor(message: string) {
    super(message, { code: 'WEFT_ERR_FROM_THE_FUTURE' });
  }
}

const ERROR_KINDS = [...BUILTIN_ERROR_NAMES, 'CustomError', 'EncodeError', 'DecodeError', 'InvalidArgumentError', 'RingCorruptError', 'WeftError', 'FutureError'] as const;

function buildError(kind: (typeof ERROR_KINDS)[number], message: string, cause: { value: unknown } | null, code: { value: unknown } | null): Error {
  const options = cause === null ? undefined : { cause: cause.value };
  let error: Error;
  switch (kind) {
    case 'CustomError':
      error = new CustomError(message, options);
      break;
    case 'EncodeError':
      error = new EncodeError(message, `msg.${message.length}`, options);
      break;
    case 'DecodeError':
      error = new DecodeError(message, options);
      break;
    case 'InvalidArgumentError':
      error = new InvalidArgumentError(message);
      break;
    case 'RingCorruptError':
      error = new RingCorruptError(message);
      break;
    case 'WeftError':
      error = new WeftError(message, options);
      break;
    case 'FutureError':
      error = new FutureError(message);
      break;
    default:
      error = new (globalThis as unknown as Record<string, ErrorConstructor>)[kind](message, options);
  }
  // every kind may carry a cause, even those whose constructor takes none (or took `cause: undefined`)
  if (cause !== null && !Object.hasOwn(error, 'cause')) Object.defineProperty(error, 'cause', { value: cause.value, writable: true, configurable: true });
  if (code !== null && !isWeftError(error)) (error as { code?: unknown }).code = code.value;
  return error;
}

/** Any message the codec accepts, nested up to a few levels. */
const { value: anyMessage } = fc.letrec<{ value: unknown; composite: unknown }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthIdentifier: 'message' }, leaf, leaf, tie('composite')),
  composite: fc.oneof(
    { depthIdentifier: 'message' },
    fc.tuple(fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }), fc.boolean()).map(([entries, nullPrototype]) => buildObject(entries, nullPrototype)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.sparseArray(tie('value'), { maxLength: 5 }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((members) => new Set(members)),
    fc
      .record({
        kind: fc.constantFrom(...ERROR_KINDS),
        message: anyString,
        cause: fc.option(tie('value').map((value) => ({ value }))),
        code: fc.option(fc.oneof(fc.string(), fc.integer(), tie('value')).map((value) => ({ value }))),
      })
      .map(({ kind, message, cause, code }) => buildError(kind, message, cause, code)),
  ),
}));

/** Plain records of many different shapes, as an actor system's message types would be. */
const shapedMessage = fc
  .tuple(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }), fc.array(anyMessage, { minLength: 5, maxLength: 5 }))
  .map(([keys, values]) => Object.fromEntries(keys.map((name, index) => [name, values[index]])));

// ---------------------------------------------------------------------------------------------------
// Round trips

describe('round trip', () => {
  it('returns every accepted message exactly (property, one long-lived pair)', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    fc.assert(
      fc.property(anyMessage, (message) => {
        sameMessage(decoder.decode(encoder.encode(message)), message);
      }),
      { numRuns: RUNS },
    );
  });

  it('returns every accepted message exactly (property, a fresh pair each time)', () => {
    fc.assert(
      fc.property(anyMessage, (message) => {
        sameMessage(roundTrip(message), message);
      }),
      { numRuns: RUNS },
    );
  });

  it('numbers, including -0, NaN, ±Infinity, the integer boundaries and subnormals', () => {
    for (const value of [0, -0, NaN, Infinity, -Infinity, 1, -1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 0.1, -1.5, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Math.PI]) {
      expectRoundTrip(value);
      expectRoundTrip({ value, inArray: [value] });
    }
    expect(Object.is((roundTrip({ zero: -0 }) as { zero: number }).zero, -0)).toBe(true);
  });

  it('strings of every length class, any Unicode, and lone surrogates (which msgpackr alone turns into U+FFFD)', () => {
    for (const length of [0, 1, 15, 31, 32, 63, 64, 65, 139, 140, 255, 256, 65535, 65536]) {
      expectRoundTrip('a'.repeat(length));
      expectRoundTrip('é'.repeat(length));
    }
    for (const text of ['😀', 'a\uD800', '\uDC00b', '\uDC00\uD800', 'x'.repeat(100) + '\uD83D', '\uD800'.repeat(70000), '日本語テキスト'.repeat(20)]) {
      expectRoundTrip(text);
      expectRoundTrip({ text, [text]: text });
    }
  });

  it('bigints of any size and sign', () => {
    for (const value of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n), 3n ** 500n, -(3n ** 500n), 2n ** 4096n, -(2n ** 4096n) + 1n]) {
      expectRoundTrip(value);
    }
  });

  it('booleans, null and undefined, also as property values and array elements', () => {
    expectRoundTrip([true, false, null, undefined]);
    expectRoundTrip({ yes: true, no: false, none: null, missing: undefined });
    expect(Object.keys(roundTrip({ missing: undefined }) as object)).toEqual(['missing']);
  });

  it('plain objects, with any keys in their order, including `__proto__` and `constructor` as own keys', () => {
    expectRoundTrip({});
    expectRoundTrip({ id: 17, op: 'add', args: [1, 2] });
    expectRoundTrip({ 'weird key': 1, '': 2, '10': 3, '2': 4, z: 5, 'ü': 6, '\uD800': 7 });
    expectRoundTrip(JSON.parse('{"__proto__": {"polluted": true}, "constructor": "not a function", "toJSON": 1, "hasOwnProperty": 2}'));
    const decoded = roundTrip(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('objects with a null prototype keep it', () => {
    const dictionary = buildObject([['a', 1], ['__proto__', 2], ['b', { nested: Object.create(null) }]], true);
    const decoded = roundTrip(dictionary) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    sameMessage(decoded, dictionary);
  });

  it('skips symbol-keyed and non-enumerable properties', () => {
    const message: Record<string | symbol, unknown> = { kept: 1, [Symbol('skipped')]: () => 'never sent' };
    Object.defineProperty(message, 'hidden', { value: () => 'never sent', enumerable: false });
    expect(roundTrip(message)).toStrictEqual({ kept: 1 });
  });

  it('arrays, where a hole arrives as undefined', () => {
    expectRoundTrip([]);
    expectRoundTrip([1, 'two', [3, [4]], { five: 5 }]);
    expectRoundTrip(Array.from({ length: 70000 }, (_, index) => index));
    const decoded = roundTrip([1, , 3]) as unknown[];
    expect(decoded).toHaveLength(3);
    expect(1 in decoded).toBe(true);
    expect(decoded[1]).toBeUndefined();
  });

  it('Map with keys of any kind, in order', () => {
    expectRoundTrip(new Map());
    expectRoundTrip(new Map<unknown, unknown>([[1, 'one'], ['1', 'string one'], [{ object: true }, [1]], [[1, 2], new Set([3])], [null, undefined], [2n ** 70n, -0], [new Date(0), new Pid('n', 1, 2)]]));
  });

  it('Set, in order', () => {
    expectRoundTrip(new Set());
    expectRoundTrip(new Set<unknown>([1, '1', { one: 1 }, [1], null, undefined, '\uD800', 10n]));
  });

  it('Date, including an invalid Date, the extremes, and times before 1970', () => {
    for (const time of [0, 1, -1, 1500, -1500, 1_700_000_000_123, 2 ** 32 * 1000, 8.64e15, -8.64e15, NaN]) {
      expectRoundTrip(new Date(time));
    }
  });

  it('RegExp, with its flags', () => {
    expectRoundTrip(/a+b/gimsuy);
    expectRoundTrip(new RegExp('^\\d+$', 'u'));
  });

  it.each([
    ['Int8Array', new Int8Array([-128, 0, 127])],
    ['Uint8Array', new Uint8Array([0, 1, 255])],
    ['Uint8ClampedArray', new Uint8ClampedArray([0, 128, 255])],
    ['Int16Array', new Int16Array([-32768, 0, 32767])],
    ['Uint16Array', new Uint16Array([0, 1, 65535])],
    ['Int32Array', new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ['Uint32Array', new Uint32Array([0, 1, 2 ** 32 - 1])],
    ['Float32Array', new Float32Array([-0, NaN, Infinity, 1.5])],
    ['Float64Array', new Float64Array([-0, NaN, -Infinity, Math.PI])],
    ['BigInt64Array', new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
    ['BigUint64Array', new BigUint64Array([0n, 2n ** 64n - 1n])],
  ])('%s, with its class and contents, also as a view at an offset', (_, array) => {
    expectRoundTrip(array);
    expectRoundTrip(new (array.constructor as new (length: number) => typeof array)(0));
    const view = array.subarray(1);
    const decoded = roundTrip({ view }) as { view: typeof array };
    sameMessage(decoded.view, view);
    expect(decoded.view.byteOffset).toBe(0);
    expect(decoded.view.buffer.byteLength).toBe(view.byteLength);
  });

  it('Buffer comes back as a Buffer, even one from the shared pool at an offset', () => {
    const pooled = Buffer.from('pooled bytes');
    expect(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length).toBe(true);
    const decoded = roundTrip({ pooled, empty: Buffer.alloc(0) }) as { pooled: Buffer; empty: Buffer };
    expect(Buffer.isBuffer(decoded.pooled)).toBe(true);
    expect(decoded.pooled.toString()).toBe('pooled bytes');
    expect(decoded.pooled.buffer.byteLength).toBe(pooled.length);
    expect(Buffer.isBuffer(decoded.empty)).toBe(true);
  });

  it('ArrayBuffer and DataView (a view at an offset arrives at offset 0)', () => {
    const buffer = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer;
    expectRoundTrip(buffer);
    expectRoundTrip(new ArrayBuffer(0));
    const view = new DataView(buffer, 3, 4);
    const decoded = roundTrip(view) as DataView;
    sameMessage(decoded, view);
    expect(decoded.byteOffset).toBe(0);
  });

  it('Pid comes back as a Pid, also inside other values', () => {
    const pid = new Pid('local', 3, 2 ** 30 - 1);
    const decoded = roundTrip(pid);
    expect(decoded).toBeInstanceOf(Pid);
    expect(decoded).toStrictEqual(pid);
    expectRoundTrip({ from: pid, to: [new Pid('node@host', 0, 0)], byPid: new Map([[pid, 'me']]), odd: new Pid('\uD800', 1, 1) });
  });

  it('sends shared (not cyclic) references as copies', () => {
    const shared = { x: 1 };
    const decoded = roundTrip({ a: shared, b: shared, list: [shared, shared] }) as { a: object; b: object };
    expect(decoded).toStrictEqual({ a: { x: 1 }, b: { x: 1 }, list: [{ x: 1 }, { x: 1 }] });
    expect(decoded.a).not.toBe(decoded.b);
  });

  it(`nests up to MAX_DEPTH (${MAX_DEPTH}) levels`, () => {
    let nested: unknown = 'bottom';
    for (let level = 0; level < MAX_DEPTH; level++) nested = level % 2 === 0 ? [nested] : { down: nested };
    expectRoundTrip(nested);
  });
});

describe('errors', () => {
  it('builtin errors come back as their class, with the sender stack, code and cause chain', () => {
    for (const Class of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const error = new Class('outer', { cause: new Class('inner', { cause: { detail: [1, 2] } }) });
      (error as Error & { code?: string }).code = 'E_SOMETHING';
      const decoded = roundTrip(error) as Error;
      expect(decoded).toBeInstanceOf(Class);
      expect(decoded.stack).toBe(error.stack);
      sameMessage(decoded, error);
    }
  });

  it('weft errors are rebuilt by code, keeping path, cause and stack', () => {
    const error = new EncodeError('cannot encode `msg.f`, got: a function', 'msg.f', { cause: new InvalidArgumentError('inner, got: 0') });
    const decoded = roundTrip({ error }) as { error: EncodeError };
    expect(decoded.error).toBeInstanceOf(EncodeError);
    expect(decoded.error.code).toBe(ErrorCodes.ENCODE);
    expect(decoded.error.path).toBe('msg.f');
    expect(decoded.error.cause).toBeInstanceOf(InvalidArgumentError);
    expect(isWeftError(decoded.error)).toBe(true);
    sameMessage(decoded, { error });
    for (const weft of [new DecodeError('bad bytes'), new RingCorruptError('bad ring'), new WeftError('plain')]) expectRoundTrip(weft);
  });

  it('a weft error with a code this version does not know is a WeftError keeping code and name', () => {
    const decoded = roundTrip(new FutureError('from a newer node')) as WeftError;
    expect(Object.getPrototypeOf(decoded)).toBe(WeftError.prototype);
    expect(decoded.code).toBe('WEFT_ERR_FROM_THE_FUTURE');
    expect(decoded.name).toBe('FutureError');
  });

  it('any other error is an Error with the original name and code', () => {
    const error = new CustomError('custom');
    (error as CustomError & { code?: number }).code = 42;
    const decoded = roundTrip(error) as Error & { code?: unknown };
    expect(Object.getPrototypeOf(decoded)).toBe(Error.prototype);
    expect(decoded.name).toBe('CustomError');
    expect(decoded.code).toBe(42);
    expect(decoded.stack).toBe(error.stack);
    const aggregate = roundTrip(new AggregateError([new Error('a')], 'many')) as Error;
    expect([aggregate.constructor, aggregate.name, aggregate.message]).toEqual([Error, 'AggregateError', 'many']);
  });

  it('keeps `cause: undefined` apart from no cause, and a missing stack missing', () => {
    const withUndefined = roundTrip(new Error('x', { cause: undefined })) as Error;
    expect('cause' in withUndefined).toBe(true);
    expect('cause' in (roundTrip(new Error('x')) as Error)).toBe(false);
    const stackless = new TypeError('no stack');
    delete stackless.stack;
    expect((roundTrip(stackless) as Error).stack).toBeUndefined();
  });

  it('carries a cause of any kind, and errors nested anywhere', () => {
    expectRoundTrip(new Error('x', { cause: new Map([[1, new RangeError('deep', { cause: -0 })]]) }));
    expectRoundTrip({ results: [new TypeError('a'), { nested: new URIError('b') }], byId: new Map([[1, new Error('c')]]) });
  });
});

// ---------------------------------------------------------------------------------------------------
// What cannot travel

function encodeFailure(message: unknown): EncodeError {
  try {
    new MessageEncoder().encode(message);
  } catch (error) {
    expect(error).toBeInstanceOf(EncodeError);
    return error as EncodeError;
  }
  throw new Error('encode did not throw');
}

function expectRefused(message: unknown, path: string, got: string | RegExp): EncodeError {
  const error = encodeFailure(message);
  expect(error.code).toBe('WEFT_ERR_ENCODE');
  expect(error.path).toBe(path);
  expect(error.message).toContain(`\`${path}\``);
  expect(error.message).toMatch(/, got: [^\n]+$/);
  if (typeof got === 'string') expect(error.message.endsWith(`got: ${got}`)).toBe(true);
  else expect(error.message).toMatch(got);
  return error;
}

describe('refusals: EncodeError with the path of the bad value', () => {
  class Foo {
    value = 1;
  }

  it('a function', () => {
    expectRefused({ items: [0, 1, 2, { handler() {} }] }, 'msg.items[3].handler', 'a function `handler`');
  });

  it('a function as the whole message', () => {
    expectRefused(() => 1, 'msg', 'a function');
  });

  it('a symbol as a value', () => {
    expectRefused({ kind: Symbol('x') }, 'msg.kind', '`Symbol(x)` (symbol)');
  });

  it('an instance of a class', () => {
    expectRefused({ 'weird key': new Foo() }, 'msg["weird key"]', 'an instance of `Foo`');
  });

  it('a Promise, a WeakMap, a boxed primitive', () => {
    expectRefused([Promise.resolve(1)], 'msg[0]', 'an instance of `Promise`');
    expectRefused({ cache: new WeakMap() }, 'msg.cache', 'an instance of `WeakMap`');
    expectRefused({ boxed: Object(1) }, 'msg.boxed', 'an instance of `Number`');
  });

  it('subclasses of supported built-ins', () => {
    class MyMap extends Map {}
    class MyArray extends Array {}
    class MyDate extends Date {}
    expectRefused({ m: new MyMap() }, 'msg.m', 'an instance of `MyMap`');
    expectRefused({ a: MyArray.from([1]) }, 'msg.a', 'an instance of `MyArray`');
    expectRefused({ d: new MyDate() }, 'msg.d', 'an instance of `MyDate`');
  });

  it('a SharedArrayBuffer, and a typed array over one', () => {
    const shared = new SharedArrayBuffer(8);
    expectRefused({ counters: shared }, 'msg.counters', 'an instance of `SharedArrayBuffer`');
    expectRefused({ view: new Int32Array(shared) }, 'msg.view', 'an instance of `Int32Array`');
  });

  it('inside a Map: a bad value under a primitive key, under an object key, and a bad key', () => {
    expectRefused({ jobs: new Map([['job-1', () => 1]]) }, 'msg.jobs<"job-1">', 'a function');
    expectRefused(new Map([[17, { f: Symbol.iterator }]]), 'msg<17>.f', '`Symbol(Symbol.iterator)` (symbol)');
    expectRefused(new Map<unknown, unknown>([[1, 1], [{ id: 1 }, new Foo()]]), 'msg<#1>', 'an instance of `Foo`');
    expectRefused(new Map<unknown, unknown>([[1, 1], [{ id: 1, bad: new Foo() }, 2]]), 'msg<key #1>.bad', 'an instance of `Foo`');
  });

  it('inside a Set', () => {
    expectRefused({ members: new Set([1, 2, Symbol('three')]) }, 'msg.members[#2]', '`Symbol(three)` (symbol)');
  });

  it('inside an error: its cause and its code', () => {
    expectRefused({ error: new Error('x', { cause: { retry: () => 1 } }) }, 'msg.error.cause.retry', 'a function `retry`');
    const error = new Error('y') as Error & { code?: unknown };
    error.code = new Foo();
    expectRefused([error], 'msg[0].code', 'an instance of `Foo`');
  });

  it('a cycle, named where it closes', () => {
    const root: Record<string, unknown> = { a: { b: {} } };
    (root.a as { b: Record<string, unknown> }).b.back = root.a;
    const error = expectRefused(root, 'msg.a.b.back', 'an object');
    expect(error.message).toContain('refers back to `msg.a`');
    const self: Record<string, unknown> = {};
    self.self = self;
    expectRefused(self, 'msg.self', 'an object');
    const array: unknown[] = [1];
    array.push(array);
    expectRefused(array, 'msg[1]', 'an instance of `Array`');
    const map = new Map<string, unknown>();
    map.set('me', map);
    expectRefused(map, 'msg<"me">', 'an instance of `Map`');
    const set = new Set<unknown>();
    set.add(set);
    expectRefused({ set }, 'msg.set[#0]', 'an instance of `Set`');
    const error2 = new Error('loop');
    error2.cause = error2;
    expectRefused(error2, 'msg.cause', 'an instance of `Error`');
  });

  it(`nesting deeper than MAX_DEPTH (${MAX_DEPTH})`, () => {
    let nested: unknown = 1;
    for (let level = 0; level <= MAX_DEPTH; level++) nested = [nested];
    const error = expectRefused({ nested }, `msg.nested${'[0]'.repeat(MAX_DEPTH - 1)}`, 'an instance of `Array`');
    expect(error.message).toContain(`at most ${MAX_DEPTH} levels`);
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = { deep };
    expect(encodeFailure(deep).path.startsWith('msg.deep.deep')).toBe(true);
  });

  it('a getter that throws', () => {
    const boom = new Error('boom');
    const message = {
      get broken(): never {
        throw boom;
      },
    };
    const error = expectRefused({ outer: message }, 'msg.outer.broken', /got: an instance of `Error`$/);
    expect(error.cause).toBe(boom);
  });

  it('a symbol as a Map key', () => {
    expectRefused(new Map([[Symbol.for('k'), 1]]), 'msg<key #0>', '`Symbol(k)` (symbol)');
  });
});

// ---------------------------------------------------------------------------------------------------
// The sequential pair

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('sequential pair stays in step', () => {
  it('across many different shapes in one stream (property: encode all, then decode all in order)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(shapedMessage, anyMessage), { minLength: 1, maxLength: 40 }), (messages) => {
        const encoder = new MessageEncoder();
        const decoder = new MessageDecoder();
        const frames = messages.map((message) => encoder.encode(message).slice()); // a view is only valid until the next encode
        frames.forEach((frame, index) => sameMessage(decoder.decode(frame), messages[index], `msg#${index}`));
      }),
      { numRuns: QUICK ? 60 : 250 },
    );
  });

  it('across 10,000 distinct shapes, with ids reused after MAX_SHAPES and frames long enough for the native string reader', () => {
    const next = random(42);
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const shapeCount = 10_000;
    const shape = (id: number, depth: number): Record<string, unknown> => {
      const object: Record<string, unknown> = {};
      for (let field = 0; field <= id % 5; field++) {
        object[`k${id}_${field}`] = depth < 2 && next() < 0.3 ? shape(Math.floor(next() * shapeCount), depth + 1) : field;
      }
      if (next() < 0.2) object.list = [{ x: id }, 'é'.repeat(Math.floor(next() * 80))];
      return object;
    };
    let used = 0;
    for (let index = 0; index < 3 * shapeCount; index++) {
      // walk through every shape once in order, and meanwhile revisit random earlier ones
      const id = index % 3 === 0 ? used++ % shapeCount : Math.floor(next() * Math.max(1, used));
      const message = { seq: index, body: shape(id, 0) };
      sameMessage(decoder.decode(encoder.encode(message)), message, `message ${index}`);
    }
  });

  it(`across more shapes than MAX_SHAPES (${MAX_SHAPES}) in a single message, and after it`, () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const many = Array.from({ length: 3 * MAX_SHAPES }, (_, index) => ({ [`only_${index}`]: index, nested: { [`inner_${index % 1500}`]: 'x'.repeat(index % 70) } }));
    sameMessage(decoder.decode(encoder.encode(many)), many);
    for (const index of [0, 1, MAX_SHAPES, 2 * MAX_SHAPES + 5, 3 * MAX_SHAPES - 1]) {
      sameMessage(decoder.decode(encoder.encode(many[index])), many[index]);
    }
  });

  it('when encodes fail: refused by the walk, and failing inside msgpackr (which replaces the encoder state)', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const check = (message: unknown) => sameMessage(decoder.decode(encoder.encode(message)), message);
    check({ a: 1, nested: { b: 2 } });
    // refused before msgpackr sees it, though it holds shapes never seen before
    expect(() => encoder.encode({ brandNew: { alsoNew: 1, fn: () => 1 } })).toThrow(EncodeError);
    check({ brandNew: { alsoNew: 1 } });
    // accepted by the walk, then failing half-way through msgpackr, after it registered new shapes
    // (the Date comes first so the compact fast path hands the message to msgpackr before it reads
    // the getter: then the walk reads it once and msgpackr a second time)
    let reads = 0;
    const flaky = {
      fresh: { neverSeen: 1 },
      get late() {
        if (++reads === 2) throw new Error('second read fails');
        return 'ok';
      },
    };
    const error = (() => {
      try {
        encoder.encode({ when: new Date(0), outer: { another: 1 }, flaky });
      } catch (thrown) {
        return thrown as EncodeError;
      }
      throw new Error('encode did not throw');
    })();
    expect(error).toBeInstanceOf(EncodeError);
    expect(error.path).toBe('msg');
    expect((error.cause as Error).message).toBe('second read fails');
    check({ when: new Date(0), outer: { another: 1 }, flaky: { fresh: { neverSeen: 1 }, late: 'ok' } });
    check({ fresh: { neverSeen: 2 } });
    check({ a: 1, nested: { b: 2 } });
  });

  it('with several pairs interleaved in one thread', () => {
    const pairs = Array.from({ length: 3 }, () => ({ encoder: new MessageEncoder(), decoder: new MessageDecoder() }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), shapedMessage), { maxLength: 30 }), (sends) => {
        const inFlight = sends.map(([pair, message]) => ({ pair, message, frame: pairs[pair].encoder.encode(message).slice() }));
        for (const { pair, message, frame } of inFlight) sameMessage(pairs[pair].decoder.decode(frame), message);
      }),
      { numRuns: QUICK ? 50 : 200 },
    );
  });

  it('encodeToScratch writes the same frame as encode', () => {
    const plain = new MessageEncoder();
    const scratch = new MessageEncoder();
    for (const message of [{ id: 1 }, { id: 2 }, 'text', [new Pid('n', 1, 1)]]) {
      const frame = plain.encode(message).slice();
      const length = scratch.encodeToScratch(message);
      expect(Uint8Array.from(scratch.scratch.subarray(scratch.scratchStart, scratch.scratchStart + length))).toEqual(frame);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Reading frames in shared memory

describe('decoding from a SharedArrayBuffer', () => {
  const message = {
    short: 'héllo',
    exactly64: 'a'.repeat(64),
    long: 'é'.repeat(65),
    longer: 'text '.repeat(300),
    surrogate: 'x'.repeat(80) + '\uDC00',
    floats: new Float64Array([1.5, -0, NaN]),
    bytes: new Uint8Array([1, 2, 3]),
    buffer: Buffer.from('node buffer'),
    raw: new Uint16Array([7, 8]).buffer,
    view: new DataView(new Uint8Array([9, 9, 9, 9]).buffer, 1, 2),
    big: 2n ** 100n,
    list: Array.from({ length: 20 }, (_, index) => ({ index, name: `item ${index} ${'z'.repeat(index * 4)}` })),
  };

  /** Copies `frame` into a SharedArrayBuffer at an odd offset, with other bytes around it. */
  function inSharedMemory(frame: Uint8Array, offset = 13): Uint8Array {
    const shared = new SharedArrayBuffer(frame.length + offset + 29);
    const all = new Uint8Array(shared);
    all.fill(0xc1); // bytes that would fail loudly if read
    all.set(frame, offset);
    return new Uint8Array(shared, offset, frame.length);
  }

  it.each([
    ['a small frame (copied to the decoder scratch first)', 1],
    ['a frame over 64 KiB (read where it is)', 400],
  ])('%s decodes from a view into shared memory, and nothing decoded aliases it', (_, repeat) => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const sent = { ...message, padding: Array.from({ length: repeat }, (_, index) => `${index}`.padEnd(200, 'p')) };
    const view = inSharedMemory(encoder.encode(sent));
    expect(view.buffer).toBeInstanceOf(SharedArrayBuffer);
    if (repeat > 1) expect(view.length).toBeGreaterThan(64 * 1024);
    const decoded = decoder.decode(view) as typeof sent;
    sameMessage(decoded, sent);
    for (const part of [decoded.floats, decoded.bytes, decoded.buffer, decoded.view]) expect(part.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(decoded.raw).not.toBeInstanceOf(SharedArrayBuffer);
    view.fill(0); // the caller reuses the frame's bytes
    sameMessage(decoded, sent);
  });

  it("nothing decoded aliases the decoder's own copy of a small frame either", () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const first = { bytes: new Uint8Array([1, 2, 3]), buffer: Buffer.from([4, 5]), floats: new Float32Array([6]), raw: new Uint8Array([7]).buffer };
    const decoded = decoder.decode(inSharedMemory(encoder.encode(first))) as typeof first;
    const second = { bytes: new Uint8Array([9, 9, 9]), buffer: Buffer.from([9, 9]), floats: new Float32Array([9]), raw: new Uint8Array([9]).buffer };
    decoder.decode(inSharedMemory(encoder.encode(second))); // overwrites the decoder's copy of the first frame
    sameMessage(decoded, first);
  });

  it('decodes a frame given as a range of a larger shared array', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const first = encoder.encode(message).slice();
    const second = encoder.encode({ ...message, short: 'second' }).slice();
    const shared = new Uint8Array(new SharedArrayBuffer(first.length + second.length + 100));
    shared.set(first, 10);
    shared.set(second, 50 + first.length);
    sameMessage(decoder.decode(shared, 10, 10 + first.length), message);
    sameMessage(decoder.decode(shared, 50 + first.length, 50 + first.length + second.length), { ...message, short: 'second' });
  });
});

// ---------------------------------------------------------------------------------------------------
// Malformed bytes

function decodeFailure(bytes: Uint8Array, decoder = new MessageDecoder(), start?: number, end?: number): DecodeError {
  try {
    decoder.decode(bytes, start, end);
  } catch (error) {
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).code).toBe('WEFT_ERR_DECODE');
    expect((error as DecodeError).message).toMatch(/got: [^\n]+$/);
    return error as DecodeError;
  }
  throw new Error(`decode of [${[...bytes]}] did not throw`);
}

describe('malformed bytes: DecodeError, never another type', () => {
  it('an empty frame, and a bad range', () => {
    decodeFailure(new Uint8Array(0));
    decodeFailure(new Uint8Array([0x90]), undefined, 1, 1);
    decodeFailure(new Uint8Array([0x90]), undefined, 0, 2);
    decodeFailure(new Uint8Array([0x90]), undefined, -1, 1);
  });

  it('every truncation of a valid frame, with msgpackr error as cause', () => {
    const frame = new MessageEncoder().encode({ id: 17, text: 'é'.repeat(70), list: [1n, new Pid('n', 1, 2), new Error('e')], bytes: new Float64Array(3) }).slice();
    for (let length = 1; length < frame.length; length++) {
      const error = decodeFailure(frame.subarray(0, length));
      expect(error.cause).toBeDefined();
    }
  });

  it('trailing bytes after a value, and the unused byte 0xc1', () => {
    decodeFailure(new Uint8Array([0x01, 0x02]));
    decodeFailure(new Uint8Array([0xc1]));
  });

  it('weft extensions holding the wrong things', () => {
    decodeFailure(new Uint8Array([0xd4, 0x57, 0x00, 0x91, 0x63])); // a wire of kind 99
    decodeFailure(new Uint8Array([0xd4, 0x57, 0x00, 0xc0])); // a wire that is not an array
    decodeFailure(new Uint8Array([0xd4, 0x57, 0x00, 0x92, 0x01, 0x05])); // a STRING wire without code units
    decodeFailure(new Uint8Array([0xd4, 0x50, 0x00, 0x93, 0x01, 0x02, 0x03])); // a pid whose node is a number
    decodeFailure(new Uint8Array([0xc7, 0x01, 0x57, 0x00])); // a weft extension in the wrong framing
  });

  it('random bytes either decode or throw DecodeError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        try {
          new MessageDecoder().decode(bytes);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${String(error)}`);
        }
      }),
      { numRuns: QUICK ? 500 : 3000 },
    );
  });
});
