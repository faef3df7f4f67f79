/**
 * The ring against a model: random pushes (0 bytes to several times the ring) and pops on one
 * thread, checked against a plain array queue. Covers wrap-around, skip markers, chunking, overflow
 * and its flush, in every interleaving fast-check finds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingConsumer, RingProducer, resetRing, type RingRegion } from '../src/shm/ring.js';
import { RING_HEADER_BYTES, TAIL, HEAD } from '../src/shm/ring-layout.js';
import { checkFrame, fillFrame, frameKind } from './fixtures/frames.js';

function newRegion(capacity: number): RingRegion {
  return { buffer: new SharedArrayBuffer(RING_HEADER_BYTES + capacity + 128), byteOffset: 64, capacity };
}

type Op = { push: number } | { claim: number } | { pop: number } | { flush: true } | { cork: boolean };

class Harness {
  readonly producer: RingProducer;
  readonly consumer: RingConsumer;
  /** Sizes of the messages pushed and not yet popped, by seq. */
  private readonly model: Array<{ seq: number; size: number }> = [];
  private nextSeq = 0;
  private readonly seed: number;

  constructor(region: RingRegion, seed: number, maxFramePayload?: number) {
    this.producer = new RingProducer(region, { maxFramePayload });
    this.consumer = new RingConsumer(region);
    this.seed = seed;
  }

  push(size: number): void {
    const seq = this.nextSeq++;
    const payload = new Uint8Array(size);
    fillFrame(this.seed, seq, payload);
    this.producer.push(frameKind(seq), payload);
    payload.fill(0xee); // the ring must have copied what it keeps
    this.model.push({ seq, size });
  }

  /** Writes the message in place through claim/commit when it fits the claimed room, else pushes it. */
  claim(size: number): void {
    const seq = this.nextSeq;
    const at = this.producer.claim(Math.min(size, 64));
    if (at === -1 || at + size > this.producer.claimEnd) {
      this.push(size);
      return;
    }
    this.nextSeq++;
    fillFrame(this.seed, seq, this.producer.bytes.subarray(at, at + size));
    this.producer.commit(frameKind(seq), size);
    this.model.push({ seq, size });
  }

  cork(on: boolean): void {
    this.producer.corked = on;
    if (!on) this.producer.publish();
  }

  pop(max: number): number {
    const got = this.consumer.drain((kind, buffer, start, end) => {
      const bytes = buffer.subarray(start, end);
      const want = this.model.shift();
      expect(want, 'a message arrived that was never pushed').toBeDefined();
      expect(kind).toBe(frameKind(want!.seq));
      expect(bytes.length).toBe(want!.size);
      expect(checkFrame(this.seed, want!.seq, bytes)).toBe(-1);
    }, max);
    expect(got).toBeLessThanOrEqual(max);
    return got;
  }

  /** Pops and flushes until everything pushed has arrived. */
  finish(): void {
    this.cork(false);
    for (let rounds = 0; this.model.length > 0; rounds++) {
      expect(rounds, 'no progress while finishing').toBeLessThan(100_000);
      this.pop(1_000);
      this.producer.flush();
    }
    expect(this.producer.pendingFrames).toBe(0);
    expect(this.consumer.hasFrames()).toBe(false);
  }

  get waiting(): number {
    return this.model.length;
  }
}

const opArb = (capacity: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 96 }).map((n) => ({ push: n })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 4 * capacity }).map((n) => ({ push: n })) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 120 }).map((n) => ({ claim: n })) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 20 }).map((n) => ({ pop: n })) },
    { weight: 1, arbitrary: fc.constant({ flush: true as const }) },
    { weight: 1, arbitrary: fc.boolean().map((on) => ({ cork: on })) },
  );

describe('ring model', () => {
  // Pushes, in-place claims, pops, flushes and corking in random order: whatever the interleaving,
  // the consumer sees exactly the messages sent, in order, once everything is published.
  for (const capacity of [256, 1024]) {
    it(`matches an array queue for random pushes and pops (capacity ${capacity})`, () => {
      fc.assert(
        fc.property(fc.array(opArb(capacity), { maxLength: 300 }), fc.integer(), (ops, seed) => {
          const h = new Harness(newRegion(capacity), seed);
          for (const op of ops) {
            if ('push' in op) h.push(op.push);
            else if ('claim' in op) h.claim(op.claim);
            else if ('pop' in op) h.pop(op.pop);
            else if ('cork' in op) h.cork(op.cork);
            else h.producer.flush();
          }
          h.finish();
        }),
        { numRuns: 300 },
      );
    });
  }

  it('keeps order with a tiny frame limit (every message chunked)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 100 }), fc.integer(), (sizes, seed) => {
        const h = new Harness(newRegion(256), seed, 8);
        sizes.forEach((size, i) => {
          h.push(size);
          if (i % 3 === 0) h.pop(2);
        });
        h.finish();
      }),
      { numRuns: 200 },
    );
  });
});

describe('ring edges', () => {
  it('fills to the last byte, reports overflow, and recovers', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region);
    const consumer = new RingConsumer(region);
    // 8 frames of 24 payload bytes = 8 * 32 = 256 bytes: exactly full.
    for (let i = 0; i < 8; i++) expect(producer.push(1, new Uint8Array(24).fill(i))).toBe(true);
    const header = new Int32Array(region.buffer, region.byteOffset, RING_HEADER_BYTES / 4);
    expect((Atomics.load(header, TAIL) - Atomics.load(header, HEAD)) & 0x3fffffff).toBe(256);
    expect(producer.push(1, new Uint8Array(1).fill(8))).toBe(false);
    expect(producer.pendingFrames).toBe(1);
    expect(consumer.producerWantsSpace()).toBe(true);
    const seen: number[] = [];
    consumer.drain((_k, b, start) => seen.push(b[start]), 3);
    expect(producer.flush()).toBe(true);
    expect(consumer.producerWantsSpace()).toBe(false);
    consumer.drain((_k, b, start) => seen.push(b[start]), 100);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('writes a skip marker when a frame would straddle the end', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region);
    const consumer = new RingConsumer(region);
    const seen: number[] = [];
    const take = (_k: number, _b: Uint8Array, start: number, end: number) => seen.push(end - start);
    producer.push(0, new Uint8Array(200)); // 208 bytes: 48 left before the end
    consumer.drain(take, 1);
    producer.push(0, new Uint8Array(56)); // 64 bytes: does not fit in 48, skip to 0
    const header = new Int32Array(region.buffer, region.byteOffset, RING_HEADER_BYTES / 4);
    expect(Atomics.load(header, TAIL)).toBe(256 + 64);
    consumer.drain(take, 10);
    expect(seen).toEqual([200, 56]);
    expect(Atomics.load(header, HEAD)).toBe(Atomics.load(header, TAIL));
  });

  it('claims exactly the free room, never into unread frames', () => {
    const region = newRegion(1024);
    const producer = new RingProducer(region);
    const consumer = new RingConsumer(region);
    for (let i = 0; i < 4; i++) producer.push(1, new Uint8Array(232).fill(i)); // 4 × 240 = 960 bytes
    const at = producer.claim(8);
    expect(at).toBe(960 + 8);
    expect(producer.claimEnd).toBe(1024); // 64 bytes free: an 8-byte header and 56 of payload
    expect(producer.claim(57)).toBe(-1);
    producer.bytes.fill(9, at, producer.claimEnd);
    producer.commit(2, 56);
    const seen: number[] = [];
    consumer.drain((kind, bytes, start, end) => seen.push(kind, end - start, bytes[start]), 10);
    expect(seen).toEqual([1, 232, 0, 1, 232, 1, 1, 232, 2, 1, 232, 3, 2, 56, 9]);
  });

  it('carries empty messages and every kind byte', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region);
    const consumer = new RingConsumer(region);
    const kinds: number[] = [];
    for (let kind = 0; kind < 256; kind++) {
      producer.push(kind, new Uint8Array(0));
      consumer.drain((k, _b, start, end) => {
        expect(end - start).toBe(0);
        kinds.push(k);
      }, 1);
    }
    expect(kinds).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it('counts a message as consumed when its handler throws', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region);
    const consumer = new RingConsumer(region);
    producer.push(1, Uint8Array.of(1));
    producer.push(2, Uint8Array.of(2));
    expect(() => consumer.drain(() => { throw new Error('boom'); }, 10)).toThrow('boom');
    const after: number[] = [];
    consumer.drain((k) => after.push(k), 10);
    expect(after).toEqual([2]);
  });

  it('rejects bad capacities and frame limits with the value in the message', () => {
    expect(() => new RingProducer({ buffer: new SharedArrayBuffer(4096), byteOffset: 0, capacity: 1000 })).toThrow(
      /power of two from 256 to 268435456, got: `1000` \(number\)/,
    );
    expect(() => new RingProducer(newRegion(256), { maxFramePayload: 57 })).toThrow(/`maxFramePayload`.*from 1 to 56.*got: `57`/);
    expect(() => new RingProducer(newRegion(256), { maxFramePayload: 0 })).toThrow(/got: `0`/);
  });

  it('resets to empty', () => {
    const region = newRegion(256);
    new RingProducer(region).push(1, new Uint8Array(10));
    resetRing(region);
    expect(new RingConsumer(region).hasFrames()).toBe(false);
  });
});

describe('urgent frames (the control lane)', () => {
  /** Drains everything, flushing the producer between drains, and returns each message as [kind, bytes]. */
  function drainAll(producer: RingProducer, consumer: RingConsumer): Array<[number, number[]]> {
    const seen: Array<[number, number[]]> = [];
    for (let round = 0; round < 1000; round++) {
      consumer.drain((kind, bytes, start, end) => seen.push([kind, [...bytes.subarray(start, end)]]), 1000);
      if (producer.flush() && !consumer.hasFrames()) break;
    }
    return seen;
  }

  it('overtake the overflow, keep their order, and go behind nothing but a message already half in the ring', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region, { maxFramePayload: 56 }); // 64-byte frames: 4 fill the ring
    const consumer = new RingConsumer(region);
    // A 250-byte message in 5 chunks: 4 fill the ring, the 5th waits in overflow.
    expect(producer.push(1, new Uint8Array(250).fill(7))).toBe(false);
    producer.push(2, new Uint8Array(8).fill(2)); // data behind it, in overflow
    expect(producer.pushUrgent(3, new Uint8Array([30]), 0, 1)).toBe(false);
    expect(producer.pushUrgent(4, new Uint8Array([40]), 0, 1)).toBe(false);
    const seen = drainAll(producer, consumer);
    // The chunked message is finished first (an urgent frame between its chunks would be taken for
    // its last one), then the urgent frames in order, then the data they overtook.
    expect(seen.map(([kind, bytes]) => [kind, bytes.length])).toEqual([
      [1, 250],
      [3, 1],
      [4, 1],
      [2, 8],
    ]);
    expect(seen[0][1].every((b) => b === 7)).toBe(true);
  });

  it('an urgent message larger than a frame is chunked and still overtakes', () => {
    const region = newRegion(256);
    const producer = new RingProducer(region, { maxFramePayload: 56 });
    const consumer = new RingConsumer(region);
    for (let i = 0; i < 10; i++) producer.push(1, new Uint8Array(40).fill(i));
    expect(producer.pushUrgent(9, new Uint8Array(150).fill(9), 0, 150)).toBe(false);
    const seen = drainAll(producer, consumer);
    const kinds = seen.map(([kind]) => kind);
    expect(kinds.indexOf(9)).toBeLessThan(kinds.length - 1); // ahead of the data that waited
    expect(seen.find(([kind]) => kind === 9)![1]).toEqual(new Array(150).fill(9));
    expect(seen.filter(([kind]) => kind === 1).map(([, bytes]) => bytes[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
