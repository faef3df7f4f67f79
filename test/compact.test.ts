/**
 * The codec's compact fast path (src/shm/compact.ts): exact round trips of plain data, the values
 * that leave it, the limits (depth, keys per shape, shape table, trie), `writeInto`'s contract, the
 * writer/reader pair staying in step (also after failed writes), and malformed frames.
 *
 * `sameMessage` (test/support/same-message.ts) is the equality used throughout.
 *
 * Tag bytes below come from the grammar in compact.ts's top comment (they are not exported):
 * 0x40 NULL, 0x41 UNDEFINED, 0x42 FALSE, 0x43 TRUE, 0x44 INT32, 0x45 FLOAT64, 0x46 STRING8,
 * 0x47 STRING16, 0x48 ARRAY, 0x49 SHAPE, 0x4a OBJECT, 0x4b MAP_OBJECT.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  COMPACT_MARK,
  COMPACT_MAX_COMPILED,
  COMPACT_MAX_DEPTH,
  COMPACT_MAX_SHAPES,
  COMPACT_MAX_SHAPE_KEYS,
  CompactFormatError,
  CompactReader,
  CompactWriter,
  NOT_COMPACT,
  NO_ROOM,
} from '../src/shm/compact.js';
import { MessageDecoder, MessageEncoder } from '../src/shm/codec.js';
import { DecodeError, EncodeError } from '../src/shm/errors.js';
import { Pid } from '../src/shm/pid.js';
import { sameMessage, show } from './support/same-message.js';

const INT32 = 0x44;
const FLOAT64 = 0x45;
const STRING8 = 0x46;
const STRING16 = 0x47;
const ARRAY = 0x48;
const SHAPE = 0x49;
const OBJECT = 0x4a;
const MAP_OBJECT = 0x4b;

/** True when `value` is inside the compact subset (so `write` must accept it). */
function isPlain(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth >= COMPACT_MAX_DEPTH) return false;
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype === Array.prototype) {
        const array = value as unknown[];
        for (let index = 0; index < array.length; index++) if (!isPlain(array[index], depth + 1)) return false;
        return true;
      }
      if (prototype !== Object.prototype) return false;
      for (const key of Object.keys(value)) {
        if (key === '__proto__' || !isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Builds a plain object from entries with defineProperty (so any key, even `__proto__`, is an own key). */
function buildObject(entries: readonly (readonly [string, unknown])[], nullPrototype = false): Record<string, unknown> {
  const object: Record<string, unknown> = nullPrototype ? Object.create(null) : {};
  for (const [name, value] of entries) Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
  return object;
}

/** A writer/reader pair: `send` writes (must take the compact path) and reads back at once. */
class Pair {
  readonly writer = new CompactWriter();
  readonly reader = new CompactReader();

  /** Writes `value`, asserts it took the compact path, returns a copy of the frame. */
  frame(value: unknown): Uint8Array {
    if (!this.writer.write(value)) throw new Error(`write returned false for ${show(value)}`);
    const frame = this.writer.bytes.slice(0, this.writer.length);
    expect(frame[0]).toBe(COMPACT_MARK);
    return frame;
  }

  read(frame: Uint8Array): unknown {
    return this.reader.read(frame, 0, frame.length);
  }

  /** Round trip through the pair, checked exactly; returns the frame. */
  send(value: unknown): Uint8Array {
    const frame = this.frame(value);
    sameMessage(this.read(frame), value);
    return frame;
  }
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries: plain data only, and plain data with msgpackr-only values mixed in

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const latin1Unit = fc.integer({ min: 0, max: 0xff }).map((unit) => String.fromCharCode(unit));

const plainString = fc.oneof(
  fc.string(),
  fc.string({ unit: latin1Unit }),
  fc.string({ unit: codeUnit }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: latin1Unit, minLength: 20, maxLength: 60 }),
  fc.constantFrom('', '\uD800', '\uDC00x', 'x\uD83D', 'é'.repeat(30), 'a'.repeat(24), 'ж', '😀', '\u2028\u2029'),
);

const plainNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.integer({ min: -100, max: 100 }),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 63, 64, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 0.5, 5e-324, Number.MAX_VALUE),
);

const plainLeaf = fc.oneof(plainNumber, plainString, fc.boolean(), fc.constant(null), fc.constant(undefined));

const plainKey = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom('id', 'op', 'args', 'a', 'b', 'constructor', '', '0', '17', 'toString', 'hasOwnProperty', 'ключ', '\uD800', '😀', 'weird key', '-1', '01') },
    { weight: 2, arbitrary: fc.string({ maxLength: 4 }) },
    { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 3 }) },
  )
  .filter((key) => key !== '__proto__');

const { value: plainValue } = fc.letrec<{ value: unknown; composite: unknown }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthIdentifier: 'plain' }, plainLeaf, plainLeaf, tie('composite')),
  composite: fc.oneof(
    { depthIdentifier: 'plain' },
    fc.array(fc.tuple(plainKey, tie('value')), { maxLength: 5 }).map((entries) => buildObject(entries)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.sparseArray(tie('value'), { maxLength: 6 }),
    // a few fixed record shapes, so later frames reuse shapes defined by earlier ones
    fc.record({ id: tie('value'), op: tie('value') }, { noNullPrototype: true }),
    fc.record({ id: tie('value'), op: tie('value'), args: fc.array(tie('value'), { maxLength: 3 }) }, { noNullPrototype: true }),
  ),
}));

/** Values only msgpackr carries. */
const richLeaf = fc.oneof(
  fc.bigInt(),
  fc.date(),
  fc.uint8Array({ maxLength: 8 }),
  fc.float64Array({ maxLength: 4 }),
  fc.tuple(fc.string({ maxLength: 4 }), fc.nat(64), fc.nat()).map(([node, thread, serial]) => new Pid(node, thread, serial)),
  fc.array(fc.tuple(plainKey, plainLeaf), { maxLength: 3 }).map((entries) => new Map(entries)),
  fc.array(plainLeaf, { maxLength: 3 }).map((members) => new Set(members)),
  fc.array(fc.tuple(plainKey, plainLeaf), { maxLength: 3 }).map((entries) => buildObject(entries, true)),
  plainLeaf.map((value) => buildObject([['__proto__', value]])),
  fc.string({ maxLength: 8 }).map((message) => new TypeError(message)),
);

const { value: mixedValue } = fc.letrec<{ value: unknown; composite: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'mixed' },
    { weight: 3, arbitrary: plainLeaf },
    { weight: 2, arbitrary: richLeaf },
    { weight: 3, arbitrary: tie('composite') },
  ),
  composite: fc.oneof(
    { depthIdentifier: 'mixed' },
    fc.array(fc.tuple(plainKey, tie('value')), { maxLength: 4 }).map((entries) => buildObject(entries)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.record({ id: tie('value'), op: tie('value') }, { noNullPrototype: true }),
  ),
}));

// ---------------------------------------------------------------------------------------------------
// Round trips

describe('compact round trip, exact', () => {
  it('pins the documented format for a small record, and its reuse by id', () => {
    const pair = new Pair();
    const message = { id: 17, op: 'add', args: [1, 2] };
    const key = (name: string): number[] => [name.length, ...[...name].flatMap((c) => [c.charCodeAt(0), 0])];
    const values = [17, STRING8, 3, 0x61, 0x64, 0x64, ARRAY, 2, 1, 2];
    expect([...pair.send(message)]).toEqual([COMPACT_MARK, SHAPE, 0, 3, ...key('id'), ...key('op'), ...key('args'), ...values]);
    expect([...pair.send(message)]).toEqual([COMPACT_MARK, OBJECT, 0, ...values]);
  });

  it('every number class, each in the encoding its class calls for', () => {
    const cases: [number, number][] = [
      [0, 2],
      [1, 2],
      [63, 2],
      [64, 6],
      [-1, 6],
      [-63, 6],
      [2 ** 31 - 1, 6],
      [-(2 ** 31), 6],
      [2 ** 31, 10],
      [-(2 ** 31) - 1, 10],
      [2 ** 32, 10],
      [-0, 10],
      [NaN, 10],
      [Infinity, 10],
      [-Infinity, 10],
      [0.5, 10],
      [-1.25, 10],
      [0.1, 10],
      [1e300, 10],
      [5e-324, 10],
      [Number.MAX_VALUE, 10],
      [2 ** 53, 10],
      [-(2 ** 53), 10],
      [2 ** 53 + 2, 10],
    ];
    const pair = new Pair();
    for (const [n, size] of cases) {
      const frame = pair.send(n);
      expect(frame.length, `frame size of ${show(n)}`).toBe(size);
      if (size === 2) expect(frame[1]).toBe(n);
      if (size === 6) expect(frame[1]).toBe(INT32);
      if (size === 10) expect(frame[1]).toBe(FLOAT64);
    }
    // and as values in objects and arrays, where -0 and NaN must survive too
    const numbers = cases.map(([n]) => n);
    pair.send(numbers);
    pair.send(Object.fromEntries(numbers.map((n, index) => [`n${index}`, n])));
    pair.send({ zero: 0, negativeZero: -0, nan: NaN });
  });

  it('strings: empty, Latin-1 (0x80-0xff too), non-Latin-1, emoji, lone surrogates', () => {
    const pair = new Pair();
    const latin1 = Array.from({ length: 256 }, (_, code) => String.fromCharCode(code)).join('');
    const strings = [
      '',
      'a',
      'hello',
      latin1,
      'ÿ',
      '\u0080\u00ff',
      'a'.repeat(23),
      'a'.repeat(24), // the reader switches from a loop to String.fromCharCode.apply at 24
      'a'.repeat(25),
      'ж',
      'Ā', // 0x100, the first code unit outside Latin-1
      'é'.repeat(50) + 'ж', // Latin-1 for a while, then rewritten as UTF-16
      '日本語テキスト',
      '😀',
      '👩‍👩‍👧‍👦',
      '\uD800',
      '\uDFFF',
      '\uDC00\uD800', // a reversed pair
      'x\uD83D',
      '\uDE00x',
      '\u2028\u2029',
      '\0\0',
    ];
    for (const text of strings) {
      const frame = pair.send(text);
      const latin = [...text].every((c) => c.length === 1 && c.charCodeAt(0) <= 0xff);
      expect(frame[1], `tag of ${show(text)}`).toBe(latin ? STRING8 : STRING16);
    }
    pair.send(strings);
    pair.send({ strings, [latin1]: latin1 });
  });

  it('long strings of each kind (> 10,000 code units, and across the reader 4096-unit chunks)', () => {
    const pair = new Pair();
    const lengths = [4095, 4096, 4097, 8191, 8192, 8193, 12_289];
    for (const length of lengths) {
      pair.send('a'.repeat(length));
      pair.send('é'.repeat(length));
      pair.send('ж'.repeat(length));
      pair.send('\uD800'.repeat(length));
      pair.send('😀'.repeat(Math.ceil(length / 2)));
    }
    // a surrogate pair split across the 4096-unit chunk boundary
    pair.send('a'.repeat(4095) + '😀' + 'b'.repeat(5000));
    pair.send('é'.repeat(4095) + '😀' + 'ÿ'.repeat(5000));
    // every code unit once, in a string > 65,536 units
    pair.send(Array.from({ length: 0x10000 }, (_, unit) => String.fromCharCode(unit)).join(''));
    pair.send({ long: 'x'.repeat(20_000), wide: 'ж'.repeat(20_000), [`key${'k'.repeat(5000)}`]: 'é'.repeat(10_001) });
  });

  it('objects keep key order and odd keys: integer-like, empty, constructor, lone surrogates, non-Latin-1', () => {
    const pair = new Pair();
    const message = {
      b: 1,
      2: 'two',
      a: 2,
      1: 'one',
      '': 'empty',
      constructor: 'ctor',
      toString: 'ts',
      hasOwnProperty: 'hop',
      valueOf: 0,
      '\uD800': 'lone high',
      '\uDC00': 'lone low',
      ключ: 'cyrillic',
      '😀': 'emoji',
      'é': 'latin-1',
      '-1': 'negative',
      '01': 'leading zero',
      '1.5': 'fraction',
      '4294967295': 'not an array index',
      '4294967294': 'the largest array index',
      'weird key': true,
      '"quoted" \\ \n': null,
      '\u2028': undefined,
    };
    const decoded = pair.read(pair.frame(message));
    sameMessage(decoded, message);
    expect(Object.keys(decoded as object)).toEqual(Object.keys(message));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    // the same shape again, through the OBJECT path and its generated reader
    const again = pair.send({ ...message, b: 'again' });
    expect(again[1]).toBe(OBJECT);
    // insertion orders that differ are different shapes
    pair.send({ x: 1, y: 2 });
    pair.send({ y: 2, x: 1 });
    pair.send({});
    pair.send({});
  });

  it('nested arrays and objects, holes (arrive as undefined) and undefined values', () => {
    const pair = new Pair();
    // eslint-disable-next-line no-sparse-arrays
    const holes = [1, , 3, , , 'x', ,];
    const sparse: unknown[] = [];
    sparse[40] = 'end';
    pair.send(holes);
    pair.send(sparse);
    pair.send(new Array(5));
    pair.send([undefined, null, undefined]);
    pair.send({ a: undefined, b: null, c: [undefined], d: { e: undefined } });
    pair.send([[[[]]], [{}], { list: [[1, 2], [3, [4, [5]]]], nested: { deeper: { deepest: [{ x: 1 }, { x: 2 }] } } }]);
    pair.send({ list: Array.from({ length: 300 }, (_, index) => ({ index, even: index % 2 === 0, name: `item ${index}` })) });
    pair.send(Array.from({ length: 20_000 }, (_, index) => index)); // an array count of three varint bytes
    pair.send([true, false, null, undefined, 0, '', [], {}]);
  });

  it('top-level primitives', () => {
    const pair = new Pair();
    for (const value of [null, undefined, true, false, 0, '', 'x']) pair.send(value);
  });

  it('plain data streamed through one long-lived pair always takes the compact path and arrives exactly (property)', () => {
    const pair = new Pair();
    let frames = 0;
    fc.assert(
      fc.property(fc.array(plainValue, { minLength: 1, maxLength: 8 }), (values) => {
        for (const value of values) {
          expect(pair.writer.write(value)).toBe(true);
          sameMessage(pair.reader.read(pair.writer.bytes, 0, pair.writer.length), value);
          frames++;
        }
      }),
      { numRuns: 400 },
    );
    expect(frames).toBeGreaterThan(400);
  });

  it('frames written first and decoded later, in order, still arrive exactly (property)', () => {
    fc.assert(
      fc.property(fc.array(plainValue, { minLength: 1, maxLength: 12 }), (values) => {
        const pair = new Pair();
        const frames = values.map((value) => pair.frame(value));
        frames.forEach((frame, index) => sameMessage(pair.read(frame), values[index], `msg #${index}`));
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Leaving the compact path

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

class List extends Array<number> {}

/** One of every kind `write` must refuse, as the whole message. */
const NOT_COMPACT_VALUES: [string, () => unknown][] = [
  ['a Map', () => new Map([['a', 1]])],
  ['a Set', () => new Set([1])],
  ['a Date', () => new Date(0)],
  ['an invalid Date', () => new Date(NaN)],
  ['a BigInt', () => 1n],
  ['a Uint8Array', () => new Uint8Array([1, 2])],
  ['a Float64Array', () => new Float64Array([1.5])],
  ['a Buffer', () => Buffer.from('x')],
  ['an ArrayBuffer', () => new ArrayBuffer(4)],
  ['a DataView', () => new DataView(new ArrayBuffer(4))],
  ['a RegExp', () => /x/g],
  ['an Error', () => new Error('e')],
  ['a TypeError', () => new TypeError('t')],
  ['a Pid', () => new Pid('local', 1, 2)],
  ['a class instance', () => new Point(1, 2)],
  ['an Array subclass', () => List.from([1, 2])],
  ['a boxed primitive', () => Object(1) as unknown],
  ['a null-prototype object', () => buildObject([['a', 1]], true)],
  ['an empty null-prototype object', () => Object.create(null) as unknown],
  ['an own __proto__ key', () => buildObject([['__proto__', 1]])],
  ['an own __proto__ key from JSON.parse', () => JSON.parse('{"a":1,"__proto__":{"b":2}}') as unknown],
  ['an own __proto__ key after 32 others (inline object)', () => buildObject([...Array.from({ length: 40 }, (_, index) => [`k${index}`, index] as const), ['__proto__', 0]])],
  ['a symbol', () => Symbol('s')],
  ['a function', () => () => 1],
  ['a Promise', () => Promise.resolve(1)],
];

describe('values outside the subset: write returns false', () => {
  it.each(NOT_COMPACT_VALUES)('%s, as the message, inside an object, an array and an inline (33-key) object', (_, make) => {
    const writer = new CompactWriter();
    expect(writer.write(make())).toBe(false);
    expect(writer.write({ ok: 1, bad: make() })).toBe(false);
    expect(writer.write([1, [2, make()]])).toBe(false);
    const dictionary: Record<string, unknown> = {};
    for (let index = 0; index < 40; index++) dictionary[`k${index}`] = index;
    dictionary.bad = make();
    expect(writer.write(dictionary)).toBe(false);
  });

  it('the pair stays in step when writes define new shapes and then give up late', () => {
    const pair = new Pair();
    const throwing = {
      get early(): number {
        return 1;
      },
      get boom(): number {
        throw new Error('boom');
      },
    };
    pair.send({ warmUp: 1 }); // shape 0
    let first = true;
    for (const [name, make] of NOT_COMPACT_VALUES) {
      // defines [newShapeA, bad] and [newShapeB] (and more inside), then bails on the last value
      const bad = { newShapeA: { newShapeB: 1, list: [{ deep1: { deep2: 2 } }] }, bad: make() };
      expect(pair.writer.write(bad), name).toBe(false);
      // the next frame defines its first new shape with the next id of the *reader*
      const frame = pair.send({ newShapeB: 2, list: [{ deep1: { deep2: 3 } }] });
      // the first time, the shapes the bad message tried were rolled back: this frame defines id 1
      expect([...frame.subarray(0, 3)], name).toEqual(first ? [COMPACT_MARK, SHAPE, 1] : [COMPACT_MARK, OBJECT, 1]);
      first = false;
      pair.send({ newShapeA: { newShapeB: 3, list: [] }, bad: 'now fine' });
      pair.send({ newShapeA: { newShapeB: 4, list: [{ deep1: { deep2: 5 } }] }, bad: null });
    }
    // a getter that throws after a new shape's header was written
    expect(pair.writer.write({ fresh: { inner: 1 }, thrower: throwing })).toBe(false);
    pair.send({ fresh: { inner: 2 }, thrower: { early: 1, boom: 2 } });
    // too deep, after new shapes
    let deep: unknown = 1;
    for (let level = 0; level < COMPACT_MAX_DEPTH + 5; level++) deep = { [`level${level % 3}`]: deep };
    expect(pair.writer.write({ beforeDeep: { x: 1 }, deep })).toBe(false);
    pair.send({ beforeDeep: { x: 2 }, deep: 'shallow' });
    pair.send({ warmUp: 2 });
  });

  it('a rolled-back shape id is handed out again to the next new shape', () => {
    const pair = new Pair();
    pair.send({ a: 1 }); // id 0
    expect(pair.writer.write({ b: { c: 1 }, d: new Date() })).toBe(false); // tried ids 1 and 2
    const frame = pair.send({ e: 1 });
    expect([...frame.subarray(0, 3)]).toEqual([COMPACT_MARK, SHAPE, 1]);
    const next = pair.send({ b: { c: 2 }, d: 3 });
    expect([...next.subarray(0, 3)]).toEqual([COMPACT_MARK, SHAPE, 2]);
  });

  it('through MessageEncoder: refused values take msgpackr, in one stream with compact frames', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const travels = NOT_COMPACT_VALUES.filter(([name]) => !/symbol|function|class instance|Array subclass|boxed|Promise/.test(name));
    for (const [name, make] of travels) {
      const message = { newShapeA: { newShapeB: 1 }, bad: make() };
      const frame = encoder.encode(message);
      expect(frame[0], name).not.toBe(COMPACT_MARK);
      sameMessage(decoder.decode(frame.slice()), message, name);
      const plain = { newShapeA: { newShapeB: 2 }, bad: name };
      const compactFrame = encoder.encode(plain);
      expect(compactFrame[0], name).toBe(COMPACT_MARK);
      sameMessage(decoder.decode(compactFrame.slice()), plain, name);
    }
    for (const [name, make] of NOT_COMPACT_VALUES.filter(([name]) => !travels.some(([other]) => other === name))) {
      expect(() => encoder.encode({ newShapeC: { x: 1 }, bad: make() }), name).toThrow(EncodeError);
      sameMessage(decoder.decode(encoder.encode({ newShapeC: { x: 2 } }).slice()), { newShapeC: { x: 2 } });
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// writeInto

describe('writeInto', () => {
  const SENTINEL = 0xa5;

  function target(size: number): Uint8Array {
    return new Uint8Array(size).fill(SENTINEL);
  }

  function untouchedOutside(bytes: Uint8Array, start: number, limit: number): void {
    for (let index = 0; index < bytes.length; index++) {
      if (index >= start && index < limit) continue;
      if (bytes[index] !== SENTINEL) throw new Error(`byte ${index} outside [${start}, ${limit}) was written: ${bytes[index]}`);
    }
  }

  const messages: unknown[] = [
    { id: 17, op: 'add', args: [1, 2] },
    { id: 18, op: 'sub', args: [3, -4.5] },
    { text: 'é'.repeat(30), wide: 'ж'.repeat(10), list: [{ a: 1 }, { a: 2 }] },
    'plain string',
    [1, [2, [3, { nested: -0 }]]],
    { id: 19, op: 'mul', args: [] },
  ];

  it('ends where `write` ends on an identical pair, with the same bytes, at any start', () => {
    const inPlace = new CompactWriter();
    const reference = new CompactWriter();
    const reader = new CompactReader();
    for (const [index, message] of messages.entries()) {
      const start = 3 + index * 7;
      const bytes = target(start + 1000);
      expect(reference.write(message)).toBe(true);
      const end = inPlace.writeInto(message, bytes, start, start + 900);
      expect(end).toBe(start + reference.length);
      expect([...bytes.subarray(start, end)]).toEqual([...reference.bytes.subarray(0, reference.length)]);
      untouchedOutside(bytes, start, start + 900);
      sameMessage(reader.read(bytes, start, end), message);
    }
  });

  it('NO_ROOM for every limit short of the frame, for a new shape and for an existing one; nothing changes', () => {
    const inPlace = new CompactWriter();
    const reference = new CompactWriter();
    const reader = new CompactReader();
    for (const message of [...messages, ...messages]) {
      expect(reference.write(message)).toBe(true);
      const length = reference.length;
      const start = 11;
      for (let limit = start; limit < start + length; limit++) {
        const bytes = target(start + length + 20);
        expect(inPlace.writeInto(message, bytes, start, limit)).toBe(NO_ROOM);
        untouchedOutside(bytes, start, limit);
      }
      const bytes = target(start + 2 * length + 100);
      const end = inPlace.writeInto(message, bytes, start, bytes.length - 1);
      expect(end).toBe(start + length);
      expect([...bytes.subarray(start, end)]).toEqual([...reference.bytes.subarray(0, length)]);
      untouchedOutside(bytes, start, bytes.length - 1);
      sameMessage(reader.read(bytes, start, end), message);
    }
  });

  it('NO_ROOM after the first new shape of a frame was given an id; the next frames decode', () => {
    const pair = new Pair();
    const bytes = target(64);
    // room for the mark and the outer SHAPE header, not for the values
    const message = { outer: { inner: 'x'.repeat(40) } };
    expect(pair.writer.writeInto(message, bytes, 0, 20)).toBe(NO_ROOM);
    untouchedOutside(bytes, 0, 20);
    pair.send({ other: 1 }); // must define shape 0
    expect(pair.writer.writeInto(message, bytes, 0, 20)).toBe(NO_ROOM);
    const frame = pair.send(message);
    expect([...frame.subarray(0, 3)]).toEqual([COMPACT_MARK, SHAPE, 1]);
    pair.send(message);
  });

  it('NOT_COMPACT for a Date (alone, and after new shapes), leaving the pair in step', () => {
    const pair = new Pair();
    const bytes = target(256);
    expect(pair.writer.writeInto(new Date(), bytes, 5, 200)).toBe(NOT_COMPACT);
    expect(pair.writer.writeInto({ a: { b: 1 }, when: new Date() }, bytes, 5, 200)).toBe(NOT_COMPACT);
    untouchedOutside(bytes, 5, 200);
    const end = pair.writer.writeInto({ b: 1 }, bytes, 5, 200);
    expect([...bytes.subarray(5, 8)]).toEqual([COMPACT_MARK, SHAPE, 0]);
    sameMessage(pair.reader.read(bytes, 5, end), { b: 1 });
    pair.send({ a: { b: 2 }, when: 'later' });
  });

  it('writeInto and write interleave on one pair; every limit either fits exactly or is NO_ROOM (property)', () => {
    const inPlace = new Pair();
    const reference = new CompactWriter();
    let fitted = 0;
    let noRoom = 0;
    fc.assert(
      fc.property(plainValue, fc.integer({ min: -12, max: 40 }), fc.nat(9), fc.boolean(), (value, slack, start, viaWrite) => {
        expect(reference.write(value)).toBe(true);
        const length = reference.length;
        if (viaWrite) {
          sameMessage(inPlace.read(inPlace.frame(value)), value);
          return;
        }
        const limit = Math.max(start, start + length + slack);
        const bytes = target(start + 2 * length + 64);
        const end = inPlace.writer.writeInto(value, bytes, start, limit);
        untouchedOutside(bytes, start, limit);
        if (end === NO_ROOM) {
          // (also possible with slack >= 0: `ensure` asks for an upper bound, e.g. 2 bytes a code unit)
          noRoom++;
          const roomy = target(start + 3 * length + 64);
          const retry = inPlace.writer.writeInto(value, roomy, start, roomy.length);
          expect(retry).toBe(start + length);
          expect([...roomy.subarray(start, retry)]).toEqual([...reference.bytes.subarray(0, length)]);
          sameMessage(inPlace.reader.read(roomy, start, retry), value);
        } else {
          fitted++;
          expect(slack).toBeGreaterThanOrEqual(0);
          expect(end).toBe(start + length);
          expect([...bytes.subarray(start, end)]).toEqual([...reference.bytes.subarray(0, length)]);
          sameMessage(inPlace.reader.read(bytes, start, end), value);
        }
      }),
      { numRuns: 300 },
    );
    expect(fitted).toBeGreaterThan(20);
    expect(noRoom).toBeGreaterThan(20);
  });
});

// ---------------------------------------------------------------------------------------------------
// Limits

function nest(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < levels; level++) value = level % 2 === 0 ? { level: value } : [value];
  return value;
}

describe('limits', () => {
  it(`nesting: ${COMPACT_MAX_DEPTH} levels stay compact, ${COMPACT_MAX_DEPTH + 1} go to msgpackr (and still arrive)`, () => {
    expect(COMPACT_MAX_DEPTH).toBe(64);
    const pair = new Pair();
    pair.send(nest(COMPACT_MAX_DEPTH));
    expect(pair.writer.write(nest(COMPACT_MAX_DEPTH + 1))).toBe(false);
    expect(pair.writer.write(nest(200))).toBe(false);
    pair.send(nest(COMPACT_MAX_DEPTH));
    pair.send(nest(3));

    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    for (const levels of [COMPACT_MAX_DEPTH, COMPACT_MAX_DEPTH + 1, 300]) {
      const message = nest(levels);
      const frame = encoder.encode(message);
      expect(frame[0] === COMPACT_MARK, `${levels} levels`).toBe(levels <= COMPACT_MAX_DEPTH);
      sameMessage(decoder.decode(frame.slice()), message);
    }
  });

  it(`objects of ${COMPACT_MAX_SHAPE_KEYS} keys get a shape, of ${COMPACT_MAX_SHAPE_KEYS + 1} travel inline, both exactly`, () => {
    expect(COMPACT_MAX_SHAPE_KEYS).toBe(32);
    const pair = new Pair();
    const record = (count: number, salt: number): Record<string, unknown> => {
      const object: Record<string, unknown> = {};
      for (let index = count - 1; index >= 0; index--) object[index % 3 === 0 ? `${index}` : `key${index}`] = index % 4 === 0 ? -0 : `${salt}:${index}`;
      return object;
    };
    expect(pair.send(record(32, 1))[1]).toBe(SHAPE);
    expect(pair.send(record(32, 2))[1]).toBe(OBJECT);
    expect(pair.send(record(33, 3))[1]).toBe(MAP_OBJECT);
    expect(pair.send(record(33, 4))[1]).toBe(MAP_OBJECT);
    expect(pair.send(record(500, 5))[1]).toBe(MAP_OBJECT);
    // inline objects hold shaped ones and vice versa
    pair.send({ big: record(40, 6), small: record(3, 7), list: [record(33, 8), record(32, 9)] });
    // a new 33-key object defines no shape: the next new shape gets the next id
    const frame = pair.send({ afterInline: true });
    expect([...frame.subarray(0, 3)]).toEqual([COMPACT_MARK, SHAPE, 3]); // 0: record(32), 1: record(3), 2: the outer object above
  });

  it(`more than COMPACT_MAX_SHAPES (${COMPACT_MAX_SHAPES}) shapes in one stream: later new shapes travel inline, old ones by id`, () => {
    expect(COMPACT_MAX_SHAPES).toBe(4096);
    const pair = new Pair();
    const total = COMPACT_MAX_SHAPES + 300;
    for (let index = 0; index < total; index++) {
      const frame = pair.send({ [`shape${index}`]: index, tail: 'é' });
      expect(frame[1]).toBe(index < COMPACT_MAX_SHAPES ? SHAPE : MAP_OBJECT);
    }
    for (const index of [0, 1, 2000, COMPACT_MAX_SHAPES - 1, COMPACT_MAX_SHAPES, total - 1]) {
      const frame = pair.send({ [`shape${index}`]: -index, tail: 'ж' });
      expect(frame[1]).toBe(index < COMPACT_MAX_SHAPES ? OBJECT : MAP_OBJECT);
    }
    // and nested: a full table still round-trips objects inside inline ones
    pair.send({ shape0: { shape1: 1, tail: 2 }, tail: [{ [`shape${total + 5}`]: { shape2: 3, tail: 4 }, tail: null }] });
  });

  it('more than COMPACT_MAX_SHAPES new shapes inside a single message', () => {
    const pair = new Pair();
    const message = Array.from({ length: COMPACT_MAX_SHAPES + 500 }, (_, index) => ({ [`s${index}`]: index }));
    pair.send(message);
    pair.send(message); // the first 4096 by id now, the rest inline again
    pair.send({ s0: 'still shape 0' });
  });

  it('a full shape trie (4 × COMPACT_MAX_SHAPES nodes) sends new shapes inline, known shapes by id', () => {
    const pair = new Pair();
    const keysPerObject = 8;
    const objects = (COMPACT_MAX_SHAPES * 4) / keysPerObject;
    const make = (index: number, salt: number): Record<string, unknown> => {
      const object: Record<string, unknown> = {};
      for (let key = 0; key < keysPerObject; key++) object[`o${index}k${key}`] = salt + key;
      return object;
    };
    for (let index = 0; index < objects; index++) expect(pair.send(make(index, 0))[1]).toBe(SHAPE);
    // the trie is full; the shape table is not
    expect(pair.send(make(objects, 0))[1]).toBe(MAP_OBJECT);
    expect(pair.send({ brandNew: 1 })[1]).toBe(MAP_OBJECT);
    expect(pair.send(make(0, 100))[1]).toBe(OBJECT);
    expect(pair.send(make(objects - 1, 100))[1]).toBe(OBJECT);
    // a prefix of a known key list was never a shape, and needs no new node: it may still get an id
    const prefix = { o0k0: 1, o0k1: 2 };
    const frame = pair.send(prefix);
    expect([SHAPE, MAP_OBJECT]).toContain(frame[1]);
    expect(pair.send(prefix)[1]).toBe(frame[1] === SHAPE ? OBJECT : MAP_OBJECT);
    pair.send({ brandNew: 2 });
  });

  it('a getter that throws: write returns false, encode throws EncodeError with the getter error as cause', () => {
    const boom = new Error('boom');
    const message = {
      fine: { newShape: 1 },
      get broken(): never {
        throw boom;
      },
    };
    const pair = new Pair();
    expect(pair.writer.write(message)).toBe(false);
    expect(pair.writer.writeInto(message, new Uint8Array(100), 0, 100)).toBe(NOT_COMPACT);
    pair.send({ newShape: 2 });

    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    let thrown: unknown;
    try {
      encoder.encode({ outer: message });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EncodeError);
    expect((thrown as EncodeError).code).toBe('WEFT_ERR_ENCODE');
    expect((thrown as EncodeError).path).toBe('msg.outer.broken');
    expect((thrown as EncodeError).cause).toBe(boom);
    // encodeInto does not throw; the encode after it does
    expect(encoder.encodeInto({ outer: message }, new Uint8Array(100), 0, 100)).toBe(-1);
    expect(() => encoder.encode({ outer: message })).toThrow(EncodeError);
    sameMessage(decoder.decode(encoder.encode({ outer: { fine: { newShape: 3 } } }).slice()), { outer: { fine: { newShape: 3 } } });
  });

  it('a getter is read once per encode on the compact path', () => {
    let reads = 0;
    const message = {
      id: 1,
      get value(): number {
        reads++;
        return 7;
      },
      tail: ['x'],
    };
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const frame = encoder.encode(message);
    expect(frame[0]).toBe(COMPACT_MARK);
    expect(reads).toBe(1);
    sameMessage(decoder.decode(frame.slice()), { id: 1, value: 7, tail: ['x'] });
    encoder.encode(message); // by shape id now
    expect(reads).toBe(2);
    const writer = new CompactWriter();
    writer.write({ nested: [message] });
    expect(reads).toBe(3);
    expect(writer.writeInto(message, new Uint8Array(64), 0, 64)).toBeGreaterThan(0);
    expect(reads).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------------
// Through MessageEncoder / MessageDecoder

describe('through MessageEncoder and MessageDecoder', () => {
  it('a mixed stream of compact and msgpackr messages stays in step; plain data always goes compact (property)', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    let compactFrames = 0;
    let msgpackrFrames = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof(plainValue, mixedValue, mixedValue), { minLength: 1, maxLength: 10 }), fc.boolean(), (messages, later) => {
        const frames: Uint8Array[] = [];
        for (const [index, message] of messages.entries()) {
          const frame = encoder.encode(message);
          expect(frame[0] === COMPACT_MARK, `msg #${index} compact`).toBe(isPlain(message));
          if (frame[0] === COMPACT_MARK) compactFrames++;
          else msgpackrFrames++;
          if (later) frames.push(frame.slice());
          else sameMessage(decoder.decode(frame.slice()), message, `msg #${index}`);
        }
        frames.forEach((frame, index) => sameMessage(decoder.decode(frame), messages[index], `msg #${index}`));
      }),
      { numRuns: 300 },
    );
    expect(compactFrames).toBeGreaterThan(150);
    expect(msgpackrFrames).toBeGreaterThan(150);
  });

  it('encodeInto, encodeToScratch and encode interleave in one stream', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const room = new Uint8Array(256);
    const messages: unknown[] = [
      { id: 1, op: 'add', args: [1, 2] },
      { id: 2, op: 'when', args: [new Date(5)] },
      { id: 3, op: 'big', args: ['x'.repeat(1000)] },
      { id: 4, op: 'map', args: [new Map([[1, 2]])] },
      { id: 5, op: 'add', args: [3, 4] },
    ];
    for (const [index, message] of messages.entries()) {
      const end = encoder.encodeInto(message, room, 9, room.length);
      if (end >= 0) {
        expect(room[9]).toBe(COMPACT_MARK);
        sameMessage(decoder.decode(room, 9, end), message);
      } else if (index % 2 === 0) {
        sameMessage(decoder.decode(encoder.encode(message).slice()), message);
      } else {
        const length = encoder.encodeToScratch(message);
        const frame = encoder.scratch.slice(encoder.scratchStart, encoder.scratchStart + length);
        sameMessage(decoder.decode(frame), message);
      }
    }
  });

  it('encodeToScratch writes the same compact frame as encode', () => {
    const viaEncode = new MessageEncoder();
    const viaScratch = new MessageEncoder();
    for (const message of [{ a: 1 }, { a: 2 }, { b: ['é', 'ж'] }, [1, 2, 3]]) {
      const frame = viaEncode.encode(message).slice();
      const length = viaScratch.encodeToScratch(message);
      expect([...viaScratch.scratch.subarray(viaScratch.scratchStart, viaScratch.scratchStart + length)]).toEqual([...frame]);
    }
  });

  it('encodeInto a SharedArrayBuffer at an odd offset, then decode(sab, start, end); nothing decoded aliases it', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const shared = new Uint8Array(new SharedArrayBuffer(4096)).fill(0xc1);
    const message = {
      short: 'héllo',
      latin: 'é'.repeat(100), // read with String.fromCharCode.apply over a shared view
      wide: 'ж'.repeat(50) + '\uD800',
      numbers: [0, -1, 2 ** 31, -0, NaN, 1.5],
      list: Array.from({ length: 10 }, (_, index) => ({ index, name: `item ${index}` })),
      nothing: [undefined, null],
    };
    const start = 13;
    const end = encoder.encodeInto(message, shared, start, 2000);
    expect(end).toBeGreaterThan(start);
    expect(shared[start]).toBe(COMPACT_MARK);
    const decoded = decoder.decode(shared, start, end);
    sameMessage(decoded, message);
    // again at another odd offset, now by shape id
    const start2 = end + 7;
    const end2 = encoder.encodeInto(message, shared, start2, shared.length);
    const decoded2 = decoder.decode(shared, start2, end2);
    sameMessage(decoded2, message);
    shared.fill(0); // the ring reuses the frame's bytes
    sameMessage(decoded, message);
    sameMessage(decoded2, message);
  });

  it('decode results never alias the input, and do not share objects across frames', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const message = { list: [1, 2, { deep: 'é'.repeat(30) }], text: 'ж'.repeat(30) };
    const frame = encoder.encode(message).slice();
    const decoded = decoder.decode(frame);
    frame.fill(0x43);
    sameMessage(decoded, message);
    const bytes = encoder.encode(message).slice();
    const again = decoder.decode(bytes) as typeof message;
    expect(again).not.toBe(decoded);
    expect(again.list).not.toBe((decoded as typeof message).list);
    again.list.push(4);
    sameMessage(decoded, message);
  });

  it('encodeInto: -1 when there is no room or the message needs msgpackr, then encode works', () => {
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const small = new Uint8Array(8);
    expect(encoder.encodeInto({ text: 'x'.repeat(50) }, small, 0, 8)).toBe(-1);
    sameMessage(decoder.decode(encoder.encode({ text: 'x'.repeat(50) }).slice()), { text: 'x'.repeat(50) });
    expect(encoder.encodeInto({ when: new Date(1) }, new Uint8Array(100), 0, 100)).toBe(-1);
    const frame = encoder.encode({ when: new Date(1) });
    expect(frame[0]).not.toBe(COMPACT_MARK);
    sameMessage(decoder.decode(frame.slice()), { when: new Date(1) });
    sameMessage(decoder.decode(encoder.encode({ text: 'y' }).slice()), { text: 'y' });
  });
});

// ---------------------------------------------------------------------------------------------------
// Malformed compact frames

function decodeFailure(bytes: Uint8Array | number[], decoder = new MessageDecoder()): DecodeError {
  const frame = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let thrown: unknown;
  try {
    decoder.decode(frame);
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error(`decode of [${[...frame].map((b) => b.toString(16))}] did not throw`);
  if (!(thrown instanceof DecodeError)) throw new Error(`decode of [${[...frame].map((b) => b.toString(16))}] threw ${String(thrown)}, not a DecodeError`);
  expect(thrown.code).toBe('WEFT_ERR_DECODE');
  return thrown;
}

/** A key as the format writes it: varint(length) then UTF-16LE code units (length < 128 here). */
function keyBytes(name: string): number[] {
  return [name.length, ...[...name].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])];
}

describe('malformed compact frames: DecodeError, never another type', () => {
  it('every truncation of a valid frame holding shapes, strings, numbers, arrays and an inline object', () => {
    const dictionary: Record<string, number> = {};
    for (let index = 0; index < 40; index++) dictionary[`d${index}`] = index * 1000;
    const message = {
      id: 17,
      big: -(2 ** 20),
      float: 1.5,
      text: 'é'.repeat(30),
      wide: 'ж\uD800',
      list: [{ inner: true }, { inner: false }, null, undefined],
      dictionary,
    };
    const frame = new MessageEncoder().encode(message).slice();
    expect(frame[0]).toBe(COMPACT_MARK);
    expect(frame[1]).toBe(SHAPE);
    sameMessage(new MessageDecoder().decode(frame), message);
    for (let length = 1; length < frame.length; length++) {
      const error = decodeFailure(frame.subarray(0, length));
      expect(error.cause).toBeInstanceOf(CompactFormatError);
    }
    // truncations on one decoder, which saw shapes defined by the failed frames before
    const decoder = new MessageDecoder();
    for (let length = 1; length < frame.length; length++) decodeFailure(frame.subarray(0, length), decoder);
  });

  it('trailing bytes after the value', () => {
    decodeFailure([COMPACT_MARK, 0x01, 0x02]);
    decodeFailure([COMPACT_MARK, 0x40, 0x40]);
    const frame = new MessageEncoder().encode({ a: [1, 2] });
    decodeFailure([...frame, 0x00]);
  });

  it('a frame holding only the mark', () => {
    decodeFailure([COMPACT_MARK]);
  });

  it('unknown tags', () => {
    for (const tag of [0x4c, 0x4f, 0x80, 0xc1, 0xff]) decodeFailure([COMPACT_MARK, tag]);
    decodeFailure([COMPACT_MARK, ARRAY, 1, 0x99]);
  });

  it('OBJECT referencing a shape id never defined', () => {
    decodeFailure([COMPACT_MARK, OBJECT, 0]);
    decodeFailure([COMPACT_MARK, OBJECT, 0x80, 0x01]);
    const decoder = new MessageDecoder();
    decoder.decode(new Uint8Array([COMPACT_MARK, SHAPE, 0, 1, ...keyBytes('a'), 5]));
    expect(decoder.decode(new Uint8Array([COMPACT_MARK, OBJECT, 0, 6]))).toEqual({ a: 6 });
    decodeFailure([COMPACT_MARK, OBJECT, 1], decoder);
  });

  it('SHAPE with an out-of-order id', () => {
    decodeFailure([COMPACT_MARK, SHAPE, 1, 0]);
    const decoder = new MessageDecoder();
    decoder.decode(new Uint8Array([COMPACT_MARK, SHAPE, 0, 0]));
    decodeFailure([COMPACT_MARK, SHAPE, 0, 0], decoder); // 0 again: expected 1
    decodeFailure([COMPACT_MARK, SHAPE, 2, 0], decoder);
  });

  it('a varint longer than 5 bytes', () => {
    decodeFailure([COMPACT_MARK, ARRAY, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    decodeFailure([COMPACT_MARK, STRING8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    decodeFailure([COMPACT_MARK, OBJECT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]);
  });

  it('counts larger than the bytes left: ARRAY, strings, shape keys, inline objects', () => {
    decodeFailure([COMPACT_MARK, ARRAY, 5, 1, 2]);
    decodeFailure([COMPACT_MARK, ARRAY, 0xff, 0xff, 0xff, 0xff, 0x0f]); // 2^32 - 1 items
    decodeFailure([COMPACT_MARK, ARRAY, 0xff, 0xff, 0xff, 0xff, 0x7f]); // 2^35 - 1 items
    decodeFailure([COMPACT_MARK, STRING8, 4, 0x61, 0x62]);
    decodeFailure([COMPACT_MARK, STRING8, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    decodeFailure([COMPACT_MARK, STRING16, 2, 0x61, 0x00, 0x62]);
    decodeFailure([COMPACT_MARK, STRING16, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    decodeFailure([COMPACT_MARK, SHAPE, 0, 3, ...keyBytes('a')]);
    decodeFailure([COMPACT_MARK, SHAPE, 0, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    decodeFailure([COMPACT_MARK, MAP_OBJECT, 2, ...keyBytes('a'), 1]);
    decodeFailure([COMPACT_MARK, MAP_OBJECT, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    decodeFailure([COMPACT_MARK, INT32, 1, 2, 3]);
    decodeFailure([COMPACT_MARK, FLOAT64, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('nesting deep enough to overflow the reader stack', () => {
    const depth = 200_000;
    const bytes = new Uint8Array(2 + 2 * depth);
    bytes[0] = COMPACT_MARK;
    for (let index = 0; index < depth; index++) {
      bytes[1 + 2 * index] = ARRAY;
      bytes[2 + 2 * index] = 1;
    }
    bytes[bytes.length - 1] = 0; // the innermost item
    decodeFailure(bytes.subarray(0, bytes.length)); // either too deep or a trailing-byte error
  });

  it('random bytes after the mark either decode or throw DecodeError (property)', () => {
    const byte = fc.oneof(fc.integer({ min: 0x40, max: 0x4c }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { minLength: 0, maxLength: 40 }), (tail) => {
        try {
          new MessageDecoder().decode(new Uint8Array([COMPACT_MARK, ...tail]));
        } catch (error) {
          if (!(error instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${String(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // Found by this suite: a corrupt SHAPE with `__proto__` keys once reached `new Function` and came out
  // as a raw SyntaxError. The reader now refuses `__proto__` keys as a format error.
  it('a SHAPE listing `__proto__` twice is a DecodeError, not a raw SyntaxError', () => {
    decodeFailure([COMPACT_MARK, SHAPE, 0, 2, ...keyBytes('__proto__'), ...keyBytes('__proto__'), 0x40, 0x40]);
  });

  it('a single `__proto__` key, in a SHAPE or inline, is a DecodeError rather than a changed prototype', () => {
    decodeFailure([COMPACT_MARK, SHAPE, 0, 1, ...keyBytes('__proto__'), 0x40]);
    decodeFailure([COMPACT_MARK, MAP_OBJECT, 1, ...keyBytes('__proto__'), 0x40]);
  });
});

describe('a reader compiles within bounds, whatever the input', () => {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return out;
  };
  const key = (name: string): number[] => [...varint(name.length), ...[...name].flatMap((c) => [c.charCodeAt(0), 0])];
  /** One frame: an array of `shapes` distinct one-key shapes, each then used `uses - 1` times more. */
  const frame = (shapes: number, uses: number): Uint8Array => {
    const bytes: number[] = [COMPACT_MARK, ARRAY, ...varint(shapes * uses)];
    for (let id = 0; id < shapes; id++) {
      bytes.push(SHAPE, ...varint(id), 1, ...key(`k${id}`), id % 64);
      for (let u = 1; u < uses; u++) bytes.push(OBJECT, ...varint(id), u % 64);
    }
    return Uint8Array.from(bytes);
  };

  it('reads 4,096 hot shapes exactly, compiling at most COMPACT_MAX_COMPILED of them', () => {
    const reader = new CompactReader();
    const bytes = frame(COMPACT_MAX_SHAPES, 20);
    const value = reader.read(bytes, 0, bytes.length) as Record<string, number>[];
    expect(value.length).toBe(COMPACT_MAX_SHAPES * 20);
    expect(value[0]).toEqual({ k0: 0 });
    expect(value[20 * 4095 + 19]).toEqual({ k4095: 19 });
    expect(value[20 * 300 + 17]).toEqual({ k300: 17 }); // past the cap: the generic path
    expect(reader.compiledShapes).toBe(COMPACT_MAX_COMPILED);
  });

  it('shapes used once are never compiled; a shape past COMPACT_MAX_SHAPES is a format error, not a compile', () => {
    const reader = new CompactReader();
    const once = frame(1000, 1);
    expect((reader.read(once, 0, once.length) as unknown[]).length).toBe(1000);
    expect(reader.compiledShapes).toBe(0);
    const flood = frame(50_000, 1);
    expect(() => new CompactReader().read(flood, 0, flood.length)).toThrow(CompactFormatError);
  });
});
