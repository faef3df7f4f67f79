/**
 * The Endpoint: one thread's end of a ring set (src/shm/endpoint.ts).
 *
 * The first half runs on one thread: two or three Endpoints over one RingSet, each standing for a
 * different thread, so every interleaving is chosen by the test (validation, corking, drain's own
 * cork, sendMessage's in-place and copy paths, overflow and its wake-up, fairness). The second half
 * uses real worker_threads (test/fixtures/endpoint-peer.ts, run compiled from dist/) for what only
 * real threads show: park and wake through the bell, interrupt, "no syscall under load", keepAlive.
 */
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageDecoder, MessageEncoder } from '../src/shm/codec.js';
import { Endpoint, type MessageHandler } from '../src/shm/endpoint.js';
import { EncodeError, ErrorCodes, InvalidArgumentError, RingCorruptError } from '../src/shm/errors.js';
import { RingSet, bellIndex, taskIndex } from '../src/shm/ring-set.js';
import { checkFrame, fillFrame } from './fixtures/frames.js';
import { KIND_DATA, KIND_PING, KIND_PONG, STOP, type EndpointPeerReport, type EndpointPeerTask } from './fixtures/endpoint-peer.js';
import { fixtureUrl } from './helpers.js';

/** Bell values (endpoint.ts keeps them private; the protocol table at its top names them). */
const AWAKE = 0;
const PARKED = 1;

const SEED = 0x5eed;

// ---------------------------------------------------------------------------------------------------
// Helpers

function payload(seq: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  fillFrame(SEED, seq, bytes);
  return bytes;
}

interface Received {
  from: number;
  kind: number;
  bytes: Uint8Array;
}

/** A drain handler that copies every message it is handed. */
function collector(): { got: Received[]; handler: MessageHandler } {
  const got: Received[] = [];
  const handler: MessageHandler = (from, kind, bytes, start, end) => {
    got.push({ from, kind, bytes: bytes.slice(start, end) });
  };
  return { got, handler };
}

/** A drain handler that decodes every message with `decoder` (a DecodeError is recorded, not thrown). */
function decoding(decoder: MessageDecoder): { got: Array<{ kind: number; message: unknown }>; handler: MessageHandler } {
  const got: Array<{ kind: number; message: unknown }> = [];
  const handler: MessageHandler = (_from, kind, bytes, start, end) => {
    let message: unknown;
    try {
      message = decoder.decode(bytes, start, end);
    } catch (error) {
      message = `${(error as Error).name}: ${(error as Error).message}`;
    }
    got.push({ kind, message });
  };
  return { got, handler };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, got none');
}

function expectInvalid(fn: () => unknown, got: string): void {
  const error = caught(fn);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).code).toBe(ErrorCodes.INVALID_ARGUMENT);
  expect((error as Error).message).toContain(`got: ${got}`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every millisecond; rejects after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(1);
  }
}

function bell(set: RingSet, thread: number): number {
  return Atomics.load(set.words, bellIndex(thread));
}

// ---------------------------------------------------------------------------------------------------
// Single thread

describe('validation', () => {
  const set = RingSet.create({ threads: 2, ringCapacity: 256 });

  it('rejects a `self` outside the set, echoing it', () => {
    expectInvalid(() => new Endpoint(set, 2), '`2` (number)');
    expectInvalid(() => new Endpoint(set, -1), '`-1` (number)');
    expectInvalid(() => new Endpoint(set, 0.5), '`0.5` (number)');
  });

  it('rejects a negative or non-finite `spinMicros`, echoing it', () => {
    expectInvalid(() => new Endpoint(set, 0, { spinMicros: -1 }), '`-1` (number)');
    expectInvalid(() => new Endpoint(set, 0, { spinMicros: Number.NaN }), '`NaN` (number)');
    expectInvalid(() => new Endpoint(set, 0, { spinMicros: Number.POSITIVE_INFINITY }), '`Infinity` (number)');
    expect(new Endpoint(set, 0, { spinMicros: 0 }).spinMicros).toBe(0);
  });

  it('rejects a `cores` that is not a positive integer or Infinity, echoing it', () => {
    expectInvalid(() => new Endpoint(set, 0, { cores: 0 }), '`0` (number)');
    expectInvalid(() => new Endpoint(set, 0, { cores: 1.5 }), '`1.5` (number)');
    expectInvalid(() => new Endpoint(set, 0, { cores: Number.NaN }), '`NaN` (number)');
    expect(() => new Endpoint(set, 0, { cores: 2 })).not.toThrow();
    expect(() => new Endpoint(set, 0, { cores: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('rejects sending to itself or to a thread outside the set, and sends nothing', () => {
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    const encoder = new MessageEncoder();
    expectInvalid(() => a.send(0, 1, new Uint8Array(4)), '`0` (number)');
    expectInvalid(() => a.send(2, 1, new Uint8Array(4)), '`2` (number)');
    expectInvalid(() => a.send(-1, 1, new Uint8Array(4)), '`-1` (number)');
    expectInvalid(() => a.sendMessage(0, 1, { x: 1 }, encoder), '`0` (number)');
    expectInvalid(() => a.sendMessage(7, 1, { x: 1 }, encoder), '`7` (number)');
    expect(a.stats.messagesSent).toBe(0);
    expect(b.hasWork()).toBe(false);
  });

  it('send refuses a kind outside 0..255 and sends nothing', () => {
    const own = RingSet.create({ threads: 2, ringCapacity: 256 });
    const a = new Endpoint(own, 0);
    const b = new Endpoint(own, 1);
    expect(() => a.send(1, 256, new Uint8Array(4))).toThrow();
    expect(() => a.send(1, -1, new Uint8Array(4))).toThrow();
    expect(b.hasWork()).toBe(false);
  });

  it('RingSet.create rejects a thread count outside 1..1024 or not an integer, echoing it', () => {
    expectInvalid(() => RingSet.create({ threads: 0 }), '`0` (number)');
    expect(RingSet.create({ threads: 1 }).threads).toBe(1); // main alone, no ring: inline mode
    expectInvalid(() => RingSet.create({ threads: 1025, ringCapacity: 256 }), '`1025` (number)');
    expectInvalid(() => RingSet.create({ threads: 2.5 }), '`2.5` (number)');
    expectInvalid(() => RingSet.create({ threads: Number.NaN }), '`NaN` (number)');
  });

  it('RingSet.create rejects a ring capacity that is not a power of two in range, echoing it', () => {
    expectInvalid(() => RingSet.create({ threads: 2, ringCapacity: 1000 }), '`1000` (number)');
    expectInvalid(() => RingSet.create({ threads: 2, ringCapacity: 3 * 1024 }), '`3072` (number)');
    expectInvalid(() => RingSet.create({ threads: 2, ringCapacity: 128 }), '`128` (number)');
    expect(RingSet.create({ threads: 2, ringCapacity: 256 }).ringCapacity).toBe(256);
  });

  it('RingSet.attach rejects a buffer that is not a ring set with RingCorruptError', () => {
    const expectCorrupt = (buffer: SharedArrayBuffer): void => {
      const error = caught(() => RingSet.attach(buffer));
      expect(error).toBeInstanceOf(RingCorruptError);
      expect((error as RingCorruptError).code).toBe(ErrorCodes.RING_CORRUPT);
      expect((error as Error).message).toContain('got:');
    };
    expectCorrupt(new SharedArrayBuffer(0));
    expectCorrupt(new SharedArrayBuffer(64)); // all zero: no magic
    const noise = new SharedArrayBuffer(4096);
    new Uint8Array(noise).forEach((_, i, all) => (all[i] = (i * 151 + 7) & 0xff));
    expectCorrupt(noise);
    // A real set's header on a buffer of the wrong length.
    const real = RingSet.create({ threads: 2, ringCapacity: 256 });
    const longer = new SharedArrayBuffer(real.buffer.byteLength + 64);
    new Uint8Array(longer).set(new Uint8Array(real.buffer));
    expectCorrupt(longer);
    // And the real thing attaches.
    const attached = RingSet.attach(real.buffer);
    expect([attached.threads, attached.ringCapacity]).toEqual([2, 256]);
  });

  it('RingSet.attach of a buffer whose length is not a multiple of 4 is a RingCorruptError (not a RangeError)', () => {
    // ring-set.ts attach(): `new Int32Array(buffer)` runs before any check, and throws a RangeError.
    const error = caught(() => RingSet.attach(new SharedArrayBuffer(10)));
    expect(error).toBeInstanceOf(RingCorruptError);
  });

  it('RingSet.attach refuses a header that create() never writes (0 threads, or a capacity not a power of two)', () => {
    // The right magic and version, then a thread count or capacity that create() refuses, on a
    // buffer of exactly the length those imply: attach checks only magic, version and length.
    const forge = (threads: number, ringCapacity: number): SharedArrayBuffer => {
      const real = RingSet.create({ threads: 2, ringCapacity: 256 });
      const buffer = new SharedArrayBuffer(RingSet.byteLength(threads, ringCapacity));
      new Uint8Array(buffer).set(new Uint8Array(real.buffer, 0, 16));
      const words = new Int32Array(buffer);
      words[2] = threads; // THREADS (ring-set.ts meta words: MAGIC, VERSION, THREADS, RING_CAPACITY)
      words[3] = ringCapacity;
      return buffer;
    };
    expect(caught(() => RingSet.attach(forge(0, 256)))).toBeInstanceOf(RingCorruptError);
    expect(caught(() => RingSet.attach(forge(2, 100)))).toBeInstanceOf(RingCorruptError);
  });
});

describe('corking', () => {
  it('holds frames back until uncork, then the peer gets them all, in order', () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    const { got, handler } = collector();
    a.cork();
    for (let seq = 0; seq < 5; seq++) a.send(1, seq, payload(seq, 10 + seq));
    expect(b.hasWork()).toBe(false);
    expect(b.drain(handler)).toBe(0);
    a.uncork();
    expect(b.hasWork()).toBe(true);
    expect(b.drain(handler)).toBe(5);
    expect(got.map((m) => [m.from, m.kind, m.bytes.length])).toEqual([0, 1, 2, 3, 4].map((seq) => [0, seq, 10 + seq]));
    got.forEach((m, seq) => expect(checkFrame(SEED, seq, m.bytes)).toBe(-1));
    // Uncorked again: the next send is visible at once.
    a.send(1, 9, payload(9, 3));
    expect(b.hasWork()).toBe(true);
    expect(a.stats.messagesSent).toBe(6);
    expect(b.stats.messagesReceived).toBe(5);
  });

  it('publishes once a quarter of the ring is unpublished, without uncork', () => {
    const capacity = 4096; // a quarter is 1024 bytes: 100-byte payloads take 112-byte frames
    const set = RingSet.create({ threads: 2, ringCapacity: capacity });
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    const { got, handler } = collector();
    a.cork();
    for (let seq = 0; seq < 9; seq++) a.send(1, 1, payload(seq, 100)); // 1008 bytes: under a quarter
    expect(b.hasWork()).toBe(false);
    a.send(1, 1, payload(9, 100)); // 1120 bytes: over a quarter, so TAIL goes out
    expect(b.hasWork()).toBe(true);
    expect(b.drain(handler)).toBe(10);
    // Still corked: the count starts again from what was published.
    a.send(1, 1, payload(10, 100));
    expect(b.hasWork()).toBe(false);
    a.uncork();
    expect(b.drain(handler)).toBe(1);
    got.forEach((m, seq) => expect(checkFrame(SEED, seq, m.bytes)).toBe(-1));
    expect(got).toHaveLength(11);
  });

  it('the quarter rule also holds for sendMessage (encoded in place)', () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    const encoder = new MessageEncoder();
    const { got, handler } = decoding(new MessageDecoder());
    a.cork();
    let sent = 0;
    while (!b.hasWork()) {
      a.sendMessage(1, 2, { seq: sent, text: 'x'.repeat(90) }, encoder);
      sent++;
      expect(sent, 'corked sendMessage never published').toBeLessThan(40);
    }
    // About 1024 / ~112 bytes: far more than one, far fewer than the ring holds.
    expect(sent).toBeGreaterThan(5);
    expect(sent).toBeLessThan(15);
    expect(b.drain(handler)).toBe(sent);
    expect(got.map((m) => (m.message as { seq: number }).seq)).toEqual([...Array(sent).keys()]);
  });

  it('wait() on a corked endpoint publishes first, then parks until the peer answers', async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const a = new Endpoint(set, 0, { spinMicros: 0 });
    const b = new Endpoint(set, 1);
    const { got, handler } = collector();
    a.cork();
    a.send(1, 7, payload(0, 24));
    a.send(1, 8, payload(1, 0));
    expect(b.hasWork()).toBe(false);
    const waiting = a.wait(); // runs synchronously up to its park
    expect(a.stats.parks).toBe(1);
    expect(bell(set, 0)).toBe(PARKED);
    expect(b.hasWork()).toBe(true);
    expect(b.drain(handler)).toBe(2);
    expect(got.map((m) => [m.kind, m.bytes.length])).toEqual([
      [7, 24],
      [8, 0],
    ]);
    b.send(0, 9, payload(2, 5)); // rings a's bell
    expect(b.stats.notifies).toBe(1);
    await withTimeout(waiting, 5_000, 'a parked wait() woken by a send');
    expect(bell(set, 0)).toBe(AWAKE);
    // wait() left it uncorked.
    a.send(1, 10, payload(3, 1));
    expect(b.hasWork()).toBe(true);
  });
});

describe('drain corks around its handlers', () => {
  it('replies sent from handlers become visible only when drain returns, with one wake-up', async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const a = new Endpoint(set, 0, { spinMicros: 0 });
    const b = new Endpoint(set, 1);
    for (let seq = 0; seq < 3; seq++) a.send(1, seq, payload(seq, 20 + seq));
    const waiting = a.wait(); // a parks: nothing for it yet
    expect(a.stats.parks).toBe(1);
    const seenByA: boolean[] = [];
    const bellDuring: number[] = [];
    const handled = b.drain((from, kind, bytes, start, end) => {
      b.send(from, kind, bytes, start, end); // echo
      seenByA.push(a.hasWork());
      bellDuring.push(bell(set, 0));
    });
    expect(handled).toBe(3);
    expect(seenByA).toEqual([false, false, false]);
    expect(bellDuring).toEqual([PARKED, PARKED, PARKED]);
    // One publish at the end of the batch, one notify for the three replies.
    expect(b.stats.notifies).toBe(1);
    await withTimeout(waiting, 5_000, 'a woken by the echoes');
    expect(a.hasWork()).toBe(true);
    const { got, handler } = collector();
    expect(a.drain(handler)).toBe(3);
    expect(got.map((m) => [m.from, m.kind, m.bytes.length])).toEqual([
      [1, 0, 20],
      [1, 1, 21],
      [1, 2, 22],
    ]);
    got.forEach((m, seq) => expect(checkFrame(SEED, seq, m.bytes)).toBe(-1));
  });

  it('a drain inside an explicit cork leaves the cork to its owner', () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    a.send(1, 1, payload(0, 8));
    b.cork();
    b.drain((from, kind, bytes, start, end) => b.send(from, kind, bytes, start, end));
    expect(a.hasWork()).toBe(false);
    b.uncork();
    expect(a.hasWork()).toBe(true);
  });
});

describe('sendMessage', () => {
  function pairOf(ringCapacity: number) {
    const set = RingSet.create({ threads: 2, ringCapacity });
    return { set, a: new Endpoint(set, 0), b: new Endpoint(set, 1), encoder: new MessageEncoder(), decoder: new MessageDecoder() };
  }

  /** Drains b and flushes a until `count` messages have arrived (or no progress is possible). */
  function deliver(a: Endpoint, b: Endpoint, handler: MessageHandler, arrived: () => number, count: number): void {
    for (let rounds = 0; arrived() < count; rounds++) {
      expect(rounds, 'no progress delivering').toBeLessThan(100_000);
      b.drain(handler, 7);
      a.flush();
    }
  }

  it('round-trips plain messages, encoded in place', () => {
    const { a, b, encoder, decoder } = pairOf(4096);
    const messages: unknown[] = [
      { id: 17, op: 'add', args: [1, 2] },
      { id: 18, op: 'add', args: [3, 4] }, // same shape: refers to the one defined above
      'just a string',
      42,
      [null, undefined, true, false, -0, 1.5, 'é☃'],
      { nested: { deep: { list: [{ a: 1 }, { a: 2 }] } }, text: '\ud800 lone surrogate' },
    ];
    messages.forEach((message, i) => a.sendMessage(1, i, message, encoder));
    const { got, handler } = decoding(decoder);
    expect(b.drain(handler)).toBe(messages.length);
    expect(got).toEqual(messages.map((message, kind) => ({ kind, message })));
    expect(Object.is((got[4].message as unknown[])[4], -0)).toBe(true);
    expect(a.stats.messagesSent).toBe(messages.length);
    expect(a.pendingOut).toBe(0);
  });

  it('sends messages that are not plain data (Date, Map, Set, bigint, typed arrays, errors)', () => {
    const { a, b, encoder, decoder } = pairOf(4096);
    const messages: unknown[] = [
      new Date(1_700_000_000_000),
      new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      { when: new Date(0), tags: new Set(['x', 'y']) },
      2n ** 70n,
      new Float64Array([1.5, -2]),
      { plain: true }, // and plain again after all that
    ];
    messages.forEach((message, i) => a.sendMessage(1, i, message, encoder));
    a.sendMessage(1, 99, new RangeError('out of range'), encoder);
    const { got, handler } = decoding(decoder);
    expect(b.drain(handler)).toBe(messages.length + 1);
    expect(got.slice(0, messages.length)).toEqual(messages.map((message, kind) => ({ kind, message })));
    const error = got[messages.length];
    expect(error.kind).toBe(99);
    expect(error.message).toBeInstanceOf(RangeError);
    expect((error.message as Error).message).toBe('out of range');
  });

  it('a message that cannot travel throws EncodeError naming its path, sends nothing, and the pair stays in step', () => {
    const { a, b, encoder, decoder } = pairOf(4096);
    const { got, handler } = decoding(decoder);
    a.sendMessage(1, 1, { id: 1, nested: { ok: true } }, encoder);
    expect(b.drain(handler)).toBe(1);
    const bad = caught(() => a.sendMessage(1, 2, { id: 2, nested: { handler: () => 0 } }, encoder));
    expect(bad).toBeInstanceOf(EncodeError);
    expect((bad as EncodeError).path).toBe('msg.nested.handler');
    const badMap = caught(() => a.sendMessage(1, 3, new Map([['job-1', Symbol('s')]]), encoder));
    expect(badMap).toBeInstanceOf(EncodeError);
    expect((badMap as EncodeError).path).toBe('msg<"job-1">');
    const badDeep = caught(() => a.sendMessage(1, 4, { list: [1, 2, { when: new Date(0), f: Math.max }] }, encoder));
    expect((badDeep as EncodeError).path).toBe('msg.list[2].f');
    // Nothing arrived.
    expect(b.hasWork()).toBe(false);
    expect(b.drain(handler)).toBe(0);
    expect(a.stats.messagesSent).toBe(1);
    // Later messages, new shapes and old, still decode.
    a.sendMessage(1, 5, { id: 3, nested: { ok: false } }, encoder);
    a.sendMessage(1, 6, { id: 4, nested: { handler: 'now a string' } }, encoder);
    a.sendMessage(1, 7, new Map([['job-1', 'done']]), encoder);
    expect(b.drain(handler)).toBe(3);
    expect(got).toEqual([
      { kind: 1, message: { id: 1, nested: { ok: true } } },
      { kind: 5, message: { id: 3, nested: { ok: false } } },
      { kind: 6, message: { id: 4, nested: { handler: 'now a string' } } },
      { kind: 7, message: new Map([['job-1', 'done']]) },
    ]);
  });

  it('a bad message while the ring is backed up sends nothing either', () => {
    const { a, b, encoder, decoder } = pairOf(256);
    for (let seq = 0; seq < 20; seq++) a.sendMessage(1, 1, { seq, pad: 'p'.repeat(20) }, encoder);
    const pending = a.pendingOut;
    expect(pending).toBeGreaterThan(0);
    const bad = caught(() => a.sendMessage(1, 1, { seq: 20, pad: () => 0 }, encoder));
    expect((bad as EncodeError).path).toBe('msg.pad');
    expect(a.pendingOut).toBe(pending);
    a.sendMessage(1, 1, { seq: 20, pad: 'last' }, encoder);
    const { got, handler } = decoding(decoder);
    deliver(a, b, handler, () => got.length, 21);
    expect(got.map((m) => (m.message as { seq: number }).seq)).toEqual([...Array(21).keys()]);
    expect(got[20].message).toEqual({ seq: 20, pad: 'last' });
  });

  it('a message larger than the claim room and the frame limit arrives whole, with later messages in order', () => {
    const { a, b, encoder, decoder } = pairOf(4096); // frames carry at most 1016 bytes
    const big = 'big:' + Array.from({ length: 100_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const medium = { text: 'm'.repeat(2500) }; // more than a frame, less than the ring
    a.sendMessage(1, 1, { before: true }, encoder);
    a.sendMessage(1, 2, big, encoder);
    a.sendMessage(1, 3, { after: 1 }, encoder);
    a.sendMessage(1, 4, medium, encoder);
    a.sendMessage(1, 5, { after: 2 }, encoder);
    expect(a.pendingOut).toBeGreaterThan(0); // 100 KB through a 4 KiB ring: most of it waits
    expect(a.stats.overflowed).toBeGreaterThan(0);
    const { got, handler } = decoding(decoder);
    deliver(a, b, handler, () => got.length, 5);
    expect(got).toEqual([
      { kind: 1, message: { before: true } },
      { kind: 2, message: big },
      { kind: 3, message: { after: 1 } },
      { kind: 4, message: medium },
      { kind: 5, message: { after: 2 } },
    ]);
    expect(a.pendingOut).toBe(0);
    expect(b.stats.messagesReceived).toBe(5);
    expect(b.hasWork()).toBe(false);
  });

  it('sendMessage with a kind outside 0..255 throws like send, and the stream stays intact', () => {
    // send() asserts the kind; sendMessage's in-place path (ring.claim + ring.commit) does not, and
    // commit() writes kind 256 = FLAG_MORE into the frame header: the receiver takes the frame for
    // the first chunk of a split message and glues it to the next message.
    const { a, b, encoder, decoder } = pairOf(4096);
    let threw = false;
    try {
      a.sendMessage(1, 256, { x: 1 }, encoder);
    } catch {
      threw = true;
    }
    a.sendMessage(1, 1, { y: 2 }, encoder);
    const { got, handler } = decoding(decoder);
    b.drain(handler);
    expect({ threw, got }).toEqual({ threw: true, got: [{ kind: 1, message: { y: 2 } }] });
  });

  type Op = { send: unknown } | { bad: true } | { drain: number } | { flush: true };

  const messageArb: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ n: fc.integer(), s: fc.string({ maxLength: 12 }) }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ minLength: 100, maxLength: 3000 }).map((text) => ({ text })) },
    { weight: 1, arbitrary: fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms)) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 8 }).map((entries) => new Map(entries)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
    { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 30 }) },
  );
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: messageArb.map((send) => ({ send })) },
    { weight: 1, arbitrary: fc.constant({ bad: true as const }) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 }).map((drain) => ({ drain })) },
    { weight: 1, arbitrary: fc.constant({ flush: true as const }) },
  );

  // Seed -914056462 once found a skip marker published by a claim whose message then failed to
  // encode (the consumer had work that was no message): replayed here, besides fresh seeds.
  for (const seed of [undefined, -914056462]) {
    it(`property: any mix of sizes through a small ring arrives once, in order, intact${seed === undefined ? '' : ` (seed ${seed})`}`, () => {
      fc.assert(
        fc.property(fc.constantFrom(256, 512, 1024), fc.array(opArb, { maxLength: 80 }), (capacity, ops) => {
          const { a, b, encoder, decoder } = pairOf(capacity);
          const sent: Array<{ kind: number; message: unknown }> = [];
          const { got, handler } = decoding(decoder);
          for (const op of ops) {
            if ('send' in op) {
              const kind = sent.length & 0xff;
              a.sendMessage(1, kind, op.send, encoder);
              sent.push({ kind, message: op.send });
            } else if ('bad' in op) {
              const pending = a.pendingOut;
              expect((caught(() => a.sendMessage(1, 0, { ok: 1, bad: () => 0 }, encoder)) as EncodeError).path).toBe('msg.bad');
              expect(a.pendingOut).toBe(pending);
            } else if ('drain' in op) {
              expect(b.drain(handler, op.drain)).toBeLessThanOrEqual(op.drain);
            } else {
              a.flush();
            }
            expect(got.length).toBeLessThanOrEqual(sent.length);
          }
          for (let rounds = 0; got.length < sent.length; rounds++) {
            expect(rounds, 'no progress finishing').toBeLessThan(10_000);
            b.drain(handler, 1000);
            a.flush();
          }
          expect(got).toEqual(sent);
          expect(a.pendingOut).toBe(0);
          expect(b.hasWork()).toBe(false);
          expect(b.stats.messagesReceived).toBe(sent.length);
        }),
        { numRuns: 150, seed },
      );
    });
  }
});

describe('overflow', () => {
  it('a full 256-byte ring holds the rest back; freeing space wakes the producer and everything arrives in order', async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 }); // frames carry at most 56 bytes
    const a = new Endpoint(set, 0, { spinMicros: 0 });
    const b = new Endpoint(set, 1);
    const size = (seq: number) => (seq % 10 === 9 ? 300 : (seq * 7) % 50); // every tenth one is split
    const COUNT = 40;
    for (let seq = 0; seq < COUNT; seq++) a.send(1, seq, payload(seq, size(seq)));
    expect(a.stats.messagesSent).toBe(COUNT);
    expect(a.pendingOut).toBeGreaterThan(0);
    expect(a.stats.overflowed).toBeGreaterThan(0);
    // Nothing can move until b reads.
    expect(a.hasWork()).toBe(false);
    expect(a.flush()).toBe(false);
    // a parks; b frees space and, seeing SPACE_WANTED, rings a's bell.
    const waiting = a.wait();
    expect(a.stats.parks).toBe(1);
    const { got, handler } = collector();
    expect(b.drain(handler, 1)).toBe(1);
    expect(b.stats.notifies).toBe(1);
    await withTimeout(waiting, 5_000, 'producer woken when space was freed');
    // Woken as soon as anything was freed; it has work once the room fits its next held-back frame.
    for (let freed = 1; !a.hasWork(); freed++) {
      expect(freed, 'space freed but the producer never saw room for its overflow').toBeLessThan(8);
      expect(b.drain(handler, 1)).toBe(1);
    }
    for (let rounds = 0; got.length < COUNT; rounds++) {
      expect(rounds, 'no progress').toBeLessThan(10_000);
      a.flush();
      b.drain(handler, 2);
    }
    expect(got.map((m) => [m.kind, m.bytes.length])).toEqual([...Array(COUNT).keys()].map((seq) => [seq, size(seq)]));
    got.forEach((m, seq) => expect(checkFrame(SEED, seq, m.bytes)).toBe(-1));
    expect(a.pendingOut).toBe(0);
    expect(a.flush()).toBe(true);
    expect(a.hasWork()).toBe(false);
    expect(b.hasWork()).toBe(false);
  });

  it("the producer's hasWork() turns true once the consumer frees space, and not before", () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const a = new Endpoint(set, 0);
    const b = new Endpoint(set, 1);
    for (let seq = 0; seq < 12; seq++) a.send(1, 1, payload(seq, 24)); // 32-byte frames: 8 fit
    expect(a.pendingOut).toBe(4);
    expect(a.hasWork()).toBe(false);
    const { got, handler } = collector();
    b.drain(handler, 1);
    expect(a.hasWork()).toBe(true);
    a.flush();
    expect(a.pendingOut).toBe(3);
    expect(a.hasWork()).toBe(false);
    // b's drain also moves nothing of a's; a's own drain flushes what fits.
    b.drain(handler, 8);
    expect(a.drain(() => {})).toBe(0);
    expect(a.pendingOut).toBe(0);
    b.drain(handler);
    expect(got).toHaveLength(12);
    got.forEach((m, seq) => expect(checkFrame(SEED, seq, m.bytes)).toBe(-1));
  });
});

describe('fairness', () => {
  it('a receiver with a small budget takes turns between two senders', () => {
    const set = RingSet.create({ threads: 3, ringCapacity: 4096 });
    const [t0, t1, t2] = [0, 1, 2].map((thread) => new Endpoint(set, thread));
    for (let seq = 0; seq < 30; seq++) {
      t0.send(2, seq, payload(seq, 4));
      t1.send(2, seq, payload(1000 + seq, 4));
    }
    const perDrain: number[][] = [];
    const next = [0, 0, 0];
    const problems: string[] = [];
    for (let d = 0; d < 20; d++) {
      const from: number[] = [];
      const handled = t2.drain((sender, kind) => {
        from.push(sender);
        if (kind !== next[sender]) problems.push(`drain ${d}: from ${sender} kind ${kind}, expected ${next[sender]}`);
        next[sender]++;
      }, 3);
      expect(handled).toBe(3);
      perDrain.push(from);
    }
    expect(problems).toEqual([]);
    expect(next.slice(0, 2)).toEqual([30, 30]);
    // Neither sender waits more than one drain for its turn.
    for (let d = 0; d + 1 < perDrain.length; d++) {
      const both = new Set([...perDrain[d], ...perDrain[d + 1]]);
      expect(both, `drains ${d} and ${d + 1}: ${JSON.stringify(perDrain.slice(d, d + 2))}`).toEqual(new Set([0, 1]));
    }
  });

  it('no sender is starved among three, whatever the budget', () => {
    const set = RingSet.create({ threads: 4, ringCapacity: 4096 });
    const ends = [0, 1, 2, 3].map((thread) => new Endpoint(set, thread));
    for (const budget of [1, 2, 5]) {
      for (let seq = 0; seq < 60; seq++) for (const sender of [0, 1, 2]) ends[sender].send(3, 1, payload(seq, 2));
      const counts = [0, 0, 0, 0];
      for (let d = 0; d < 30; d++) ends[3].drain((from) => counts[from]++, budget);
      for (const sender of [0, 1, 2]) expect(counts[sender], `budget ${budget}: ${counts}`).toBeGreaterThan(0);
      while (ends[3].drain(() => {}) > 0);
    }
  });

  it('busy senders take equal turns even next to an idle one', () => {
    // drainRings() advances `nextPeer` by one per drain, whoever was served: when the peer at
    // nextPeer is idle, the one after it is served, and it is served again on the next drain.
    // Threads 1 and 2 are busy, thread 0 idle, budget 1: thread 1 gets 2 of every 3 turns.
    const set = RingSet.create({ threads: 4, ringCapacity: 4096 });
    const ends = [0, 1, 2, 3].map((thread) => new Endpoint(set, thread));
    for (let seq = 0; seq < 100; seq++) {
      ends[1].send(3, 1, payload(seq, 1));
      ends[2].send(3, 2, payload(seq, 1));
    }
    const counts = [0, 0, 0, 0];
    for (let d = 0; d < 60; d++) ends[3].drain((from) => counts[from]++, 1);
    expect(counts[1] + counts[2]).toBe(60);
    // Taking turns: each of the two busy senders gets about half.
    expect(Math.abs(counts[1] - counts[2]), `turns per sender: ${counts}`).toBeLessThanOrEqual(2);
  });
});

describe('interrupt', () => {
  it('wakes a parked wait() on the same thread', async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const b = new Endpoint(set, 1, { spinMicros: 0 });
    const waiting = b.wait();
    expect(b.stats.parks).toBe(1);
    expect(bell(set, 1)).toBe(PARKED);
    setTimeout(() => b.interrupt(), 5);
    await withTimeout(waiting, 5_000, 'interrupt wakes wait()');
    expect(b.stats.notifies).toBe(1);
    expect(bell(set, 1)).toBe(AWAKE);
  });

  it('an interrupt that comes before the thread parks is kept, and the next wait() returns', async () => {
    // The stop pattern `while (!stop) { drain(); await wait(); }` with another thread doing
    // `stop = true; interrupt()`. If the interrupt lands after the loop read `stop` but before
    // wait() stored PARKED, ringBell's CAS (PARKED → AWAKE) finds AWAKE and does nothing, and
    // wait() checks only the rings after storing PARKED: the thread sleeps until some unrelated
    // message comes. Here that interleaving is played on one thread.
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const b = new Endpoint(set, 1, { spinMicros: 0 });
    let stop = false;
    expect(stop).toBe(false); // the loop's check: keep going
    stop = true; // the other side asks it to stop...
    b.interrupt(); // ...and rings
    const outcome = await Promise.race([b.wait().then(() => 'returned'), sleep(300).then(() => 'still parked')]);
    if (outcome === 'still parked') b.interrupt(); // it is parked now: release it
    expect(outcome).toBe('returned');
  });
});

describe('adaptive spin', () => {
  /** Runs `a.wait()` up to its park and says how long that took (the spin is synchronous). */
  function startWait(a: Endpoint): { waiting: Promise<void>; syncMs: number } {
    const t0 = performance.now();
    const waiting = a.wait();
    return { waiting, syncMs: performance.now() - t0 };
  }

  it('stops spinning after waits that outlast the window, and spins again once a wait would have paid', async () => {
    const WINDOW_MS = 300;
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const a = new Endpoint(set, 0, { spinMicros: WINDOW_MS * 1000 });
    const b = new Endpoint(set, 1, { spinMicros: 0 });
    const { handler } = collector();
    // Sparse traffic: each message comes after the whole window was spun for nothing.
    for (let i = 0; i < 3; i++) {
      const { waiting, syncMs } = startWait(a);
      expect(syncMs, `wait ${i} spun its window`).toBeGreaterThanOrEqual(WINDOW_MS - 1);
      expect(a.stats.parks).toBe(i + 1);
      b.send(0, 1, payload(i, 8));
      await withTimeout(waiting, 5_000, `wait ${i} woken`);
      expect(a.drain(handler)).toBe(1);
    }
    // Three misses in a row: the next wait parks at once.
    const skipped = startWait(a);
    expect(skipped.syncMs, 'the fourth wait spun though three spins in a row found nothing').toBeLessThan(WINDOW_MS / 2);
    expect(a.stats.parks).toBe(4);
    expect(bell(set, 0)).toBe(PARKED);
    // A message soon after the park: the skipped spin would have caught it, so spinning comes back.
    b.send(0, 1, payload(3, 8));
    await withTimeout(skipped.waiting, 5_000, 'the parked wait woken');
    expect(a.drain(handler)).toBe(1);
    const again = startWait(a);
    expect(again.syncMs, 'a wait after one that would have paid spins again').toBeGreaterThanOrEqual(WINDOW_MS - 1);
    b.send(0, 1, payload(4, 8));
    await withTimeout(again.waiting, 5_000, 'the last wait woken');
  });

  it('a park that wakes to a backlog (a stream, not sparse traffic) brings the spin back', async () => {
    const WINDOW_MS = 200;
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const a = new Endpoint(set, 0, { spinMicros: WINDOW_MS * 1000 });
    const b = new Endpoint(set, 1, { spinMicros: 0 });
    const { handler } = collector();
    for (let i = 0; i < 3; i++) {
      const { waiting } = startWait(a);
      b.send(0, 1, payload(i, 8));
      await withTimeout(waiting, 5_000, `wait ${i} woken`);
      expect(a.drain(handler)).toBe(1);
    }
    const skipped = startWait(a);
    expect(skipped.syncMs, 'the fourth wait spun').toBeLessThan(WINDOW_MS / 2);
    // Woken well after the window, so the wake's timing says nothing; but two messages wait.
    await sleep(WINDOW_MS * 1.5);
    b.cork();
    b.send(0, 1, payload(3, 8));
    b.send(0, 1, payload(4, 8));
    b.uncork();
    await withTimeout(skipped.waiting, 5_000, 'the parked wait woken');
    expect(a.drain(handler)).toBe(2);
    const again = startWait(a);
    expect(again.syncMs, 'a wait after a park that woke to a backlog spins again').toBeGreaterThanOrEqual(WINDOW_MS - 1);
    b.send(0, 1, payload(5, 8));
    await withTimeout(again.waiting, 5_000, 'the last wait woken');
  });

  it('does not spin while other threads hold every core: main awake, or a shard in a task', async () => {
    const WINDOW_MS = 300;
    const set = RingSet.create({ threads: 3, ringCapacity: 256 });
    const main = new Endpoint(set, 0, { spinMicros: 0 });
    const shard = new Endpoint(set, 1, { spinMicros: WINDOW_MS * 1000, cores: 2 });
    const { handler } = collector();
    const waitOnce = async (what: string, expectSpin: boolean): Promise<void> => {
      const { waiting, syncMs } = startWait(shard);
      if (expectSpin) expect(syncMs, `${what}: a core is free, so it spins`).toBeGreaterThanOrEqual(WINDOW_MS - 1);
      else expect(syncMs, `${what}: every core is taken, so it parks at once`).toBeLessThan(WINDOW_MS / 2);
      main.send(1, 1, payload(0, 8));
      await withTimeout(waiting, 5_000, `${what}: woken`);
      expect(shard.drain(handler)).toBe(1);
    };
    // Main awake (its bell is not PARKED) holds one core; shard 2 idle holds none: one is free.
    await waitOnce('main awake, shard 2 idle', true);
    // Shard 2 in a task (its TASK word set) holds the other.
    Atomics.store(set.words, taskIndex(2), 7);
    await waitOnce('main awake, shard 2 in a task', false);
    // Main parked frees its core again.
    Atomics.store(set.words, bellIndex(0), PARKED);
    await waitOnce('main parked, shard 2 in a task', true);
    Atomics.store(set.words, bellIndex(0), AWAKE);
    Atomics.store(set.words, taskIndex(2), 0);
    await waitOnce('shard 2 done with its task', true);
  });
});

// ---------------------------------------------------------------------------------------------------
// Across threads

interface Peer {
  worker: Worker;
  /** Resolves with the worker's report; rejects if it errors or exits first. */
  report: Promise<EndpointPeerReport>;
  /** Resolves with the exit code. */
  exit: Promise<number>;
  exitCode: number | undefined;
}

const started: Worker[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
});

function startPeer(task: EndpointPeerTask): Peer {
  const worker = new Worker(fixtureUrl('endpoint-peer'), { workerData: { endpointPeer: task } });
  started.push(worker);
  const peer: Peer = {
    worker,
    exitCode: undefined,
    exit: new Promise<number>((resolve) =>
      worker.once('exit', (code) => {
        peer.exitCode = code;
        resolve(code);
      }),
    ),
    report: new Promise<EndpointPeerReport>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`endpoint-peer (${task.mode}) exited with code ${code} before reporting`)));
    }),
  };
  peer.report.catch(() => {}); // observed by the tests that expect a report
  return peer;
}

/**
 * Bounds a loop on main that parks in `endpoint.wait()`: after `ms`, or as soon as the peer fails,
 * it records the failure and rings main's bell, so the loop wakes and `check()` throws.
 */
class Watchdog {
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly endpoint: Endpoint,
    ms: number,
    what: string,
    peer?: Peer,
  ) {
    this.timer = setTimeout(() => this.fail(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    peer?.report.then(
      (report) => {
        if (report.errors.length !== 0) this.fail(new Error(`peer reported: ${report.errors.join('\n')}`));
      },
      (error: Error) => this.fail(error),
    );
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.endpoint.interrupt();
  }

  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

describe('across threads', () => {
  it('ping-pong 1,000 times with no spinning: every round parks and is woken by the bell', { timeout: 60_000 }, async () => {
    const ROUNDS = 1000;
    const set = RingSet.create({ threads: 2, ringCapacity: 4096 });
    const main = new Endpoint(set, 0, { spinMicros: 0 });
    const peer = startPeer({ mode: 'echo', buffer: set.buffer, self: 1, peer: 0, spinMicros: 0, count: ROUNDS });
    const encoder = new MessageEncoder();
    const decoder = new MessageDecoder();
    const errors: string[] = [];
    let pongs = 0;
    const onPong: MessageHandler = (from, kind, bytes, start, end) => {
      const { seq } = decoder.decode(bytes, start, end) as { seq: number };
      if (errors.length < 5 && (from !== 1 || kind !== KIND_PONG || seq !== pongs)) errors.push(`pong ${pongs}: from ${from}, kind ${kind}, seq ${seq}`);
      pongs++;
    };
    const watchdog = new Watchdog(main, 30_000, 'ping-pong', peer);
    try {
      for (let seq = 0; seq < ROUNDS; seq++) {
        main.sendMessage(1, KIND_PING, { seq }, encoder);
        while (pongs <= seq) {
          watchdog.check();
          if (main.drain(onPong) === 0) await main.wait();
        }
      }
    } finally {
      watchdog.stop();
    }
    const report = await withTimeout(peer.report, 10_000, 'echo worker report');
    expect(errors).toEqual([]);
    expect(report.errors).toEqual([]);
    expect(report.received).toBe(ROUNDS);
    expect(pongs).toBe(ROUNDS);
    // Both sides slept and were woken through each other's bell.
    expect(report.stats.parks).toBeGreaterThan(0);
    expect(main.stats.notifies).toBeGreaterThan(0);
    expect(main.stats.parks).toBeGreaterThan(0);
    expect(report.stats.notifies).toBeGreaterThan(0);
    expect(await withTimeout(peer.exit, 10_000, 'echo worker exit')).toBe(0);
  });

  it('interrupt() from main wakes a parked worker (stop flag in shared memory)', { timeout: 30_000 }, async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const control = new SharedArrayBuffer(4);
    const peer = startPeer({ mode: 'park-until-stopped', buffer: set.buffer, self: 1, peer: 0, spinMicros: 0, control, stopBy: 'flag' });
    await until(() => bell(set, 1) === PARKED, 10_000, 'the worker to park');
    // The flag alone does not wake it: it stays parked.
    Atomics.store(new Int32Array(control), STOP, 1);
    await sleep(200);
    expect(bell(set, 1)).toBe(PARKED);
    expect(peer.exitCode).toBeUndefined();
    // Thread 1's end viewed from main, used only to ring thread 1's bell.
    const view = new Endpoint(set, 1);
    view.interrupt();
    expect(view.stats.notifies).toBe(1);
    const report = await withTimeout(peer.report, 10_000, 'the interrupted worker to stop');
    expect(report.errors).toEqual([]);
    expect(report.stats.parks).toBeGreaterThanOrEqual(1);
    expect(report.wakes).toBeGreaterThanOrEqual(1);
    expect(report.received).toBe(0);
    expect(bell(set, 1)).toBe(AWAKE);
  });

  it('interrupt() called on the worker from a control message wakes its own parked wait()', { timeout: 30_000 }, async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const peer = startPeer({
      mode: 'park-until-stopped',
      buffer: set.buffer,
      self: 1,
      peer: 0,
      spinMicros: 0,
      control: new SharedArrayBuffer(4),
      stopBy: 'message',
    });
    await until(() => bell(set, 1) === PARKED, 10_000, 'the worker to park');
    peer.worker.postMessage('stop');
    const report = await withTimeout(peer.report, 10_000, 'the worker to stop');
    expect(report.errors).toEqual([]);
    expect(report.stats.parks).toBeGreaterThanOrEqual(1);
    expect(report.stats.notifies).toBe(1); // its own interrupt
    expect(report.wakes).toBeGreaterThanOrEqual(1);
  });

  it('under steady load (200,000 messages) parks and notifies stay far below 1% of messages', { timeout: 90_000 }, async () => {
    const COUNT = 200_000;
    const set = RingSet.create({ threads: 2 }); // 64 KiB rings
    const main = new Endpoint(set, 0, { spinMicros: 50 });
    const peer = startPeer({ mode: 'stream', buffer: set.buffer, self: 1, peer: 0, spinMicros: 50, count: COUNT, backlog: 64 });
    const decoder = new MessageDecoder();
    const errors: string[] = [];
    let received = 0;
    const onData: MessageHandler = (from, kind, bytes, start, end) => {
      const message = decoder.decode(bytes, start, end) as { seq: number; pad: string };
      if (errors.length < 5 && (from !== 1 || kind !== KIND_DATA || message.seq !== received || message.pad !== 'abcdefgh')) {
        errors.push(`message ${received}: from ${from}, kind ${kind}, ${JSON.stringify(message)}`);
      }
      received++;
    };
    const watchdog = new Watchdog(main, 60_000, 'stream of 200,000 messages', peer);
    const startedAt = performance.now();
    try {
      while (received < COUNT) {
        watchdog.check();
        if (main.drain(onData) === 0) await main.wait();
      }
    } finally {
      watchdog.stop();
    }
    const elapsed = performance.now() - startedAt;
    const report = await withTimeout(peer.report, 10_000, 'stream worker report');
    expect(errors).toEqual([]);
    expect(report.errors).toEqual([]);
    expect(report.stats.messagesSent).toBe(COUNT);
    expect(main.stats.messagesReceived).toBe(COUNT);
    const syscalls = {
      mainParks: main.stats.parks,
      mainNotifies: main.stats.notifies,
      workerParks: report.stats.parks,
      workerNotifies: report.stats.notifies,
      workerOverflowed: report.stats.overflowed,
      ms: Math.round(elapsed),
    };
    console.info(`endpoint steady load: ${JSON.stringify(syscalls)}`);
    const total = syscalls.mainParks + syscalls.mainNotifies + syscalls.workerParks + syscalls.workerNotifies;
    expect(total, JSON.stringify(syscalls)).toBeLessThan(COUNT / 100);
  });

  it('keepAlive (the default): a worker parked in wait() stays alive until rung, then exits normally', { timeout: 30_000 }, async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const main = new Endpoint(set, 0);
    const peer = startPeer({ mode: 'park-once', buffer: set.buffer, self: 1, peer: 0, spinMicros: 0, keepAlive: true });
    await until(() => bell(set, 1) === PARKED, 10_000, 'the worker to park');
    await sleep(300);
    expect(peer.exitCode, 'a parked keepAlive worker exited').toBeUndefined();
    expect(bell(set, 1)).toBe(PARKED);
    main.sendMessage(1, KIND_DATA, { hello: 'worker', n: [1, 2, 3] }, new MessageEncoder());
    expect(main.stats.notifies).toBe(1);
    const report = await withTimeout(peer.report, 10_000, 'the woken worker to report');
    expect(report.errors).toEqual([]);
    expect(report.message).toEqual({ hello: 'worker', n: [1, 2, 3] });
    expect(report.received).toBe(1);
    expect(report.stats.parks).toBe(1);
    // Nothing holds it any more (the keep-alive timer went with the park): it ends on its own.
    expect(await withTimeout(peer.exit, 10_000, 'the worker to exit')).toBe(0);
  });

  it('keepAlive: false: a worker with nothing but a parked wait() exits while parked', { timeout: 30_000 }, async () => {
    const set = RingSet.create({ threads: 2, ringCapacity: 256 });
    const peer = startPeer({ mode: 'park-once', buffer: set.buffer, self: 1, peer: 0, spinMicros: 0, keepAlive: false });
    let reported = false;
    peer.report.then(
      () => (reported = true),
      () => {},
    );
    expect(await withTimeout(peer.exit, 10_000, 'the parked worker to exit')).toBe(0);
    expect(reported).toBe(false);
    // It went while parked: nobody rang its bell.
    expect(bell(set, 1)).toBe(PARKED);
  });
});
