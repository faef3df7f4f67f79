/**
 * Real threads, a small ring, a million frames: every frame arrives once, in order, byte for byte.
 * The ring is 4 KiB and one message in 64 is up to 3× that, so it wraps, fills, overflows and
 * chunks constantly. Runs worker→worker, main→worker and worker→main, with and without spinning
 * (no spin forces the park/notify path on nearly every gap).
 */
import { describe, expect, it } from 'vitest';
import { RingSet } from '../src/shm/ring-set.js';
import { QUICK, runWorker } from './helpers.js';
import type { PeerReport, PeerTask } from './fixtures/ring-peer.js';
import { consume, produce } from './fixtures/ring-peer.js';

const FRAMES = QUICK ? 100_000 : 1_000_000;
const CAPACITY = 4096;

function tasks(spinMicros: number, seed: number, producer: number, consumer: number) {
  const set = RingSet.create({ threads: 3, ringCapacity: CAPACITY });
  const base = { buffer: set.buffer, count: FRAMES, seed, maxLarge: 3 * CAPACITY, spinMicros };
  const p: PeerTask = { ...base, role: 'produce', self: producer, peer: consumer };
  const c: PeerTask = { ...base, role: 'consume', self: consumer, peer: producer };
  return { p, c };
}

function expectClean(consumer: PeerReport, producer: PeerReport): void {
  expect(consumer.errors).toEqual([]);
  expect(producer.errors).toEqual([]);
  expect(consumer.received).toBe(FRAMES);
  // The ring is small on purpose: the producer must have hit a full ring and used overflow.
  expect(producer.overflowed).toBeGreaterThan(0);
}

describe('ring stress across threads (spsc-order, no-drops, wraparound)', () => {
  for (const spinMicros of [0, 50]) {
    it(`worker → worker, ${FRAMES} frames, spin ${spinMicros} µs`, async () => {
      const { p, c } = tasks(spinMicros, 1, 1, 2);
      const [consumer, producer] = await Promise.all([
        runWorker<PeerReport>('ring-peer', { ringPeer: c }),
        runWorker<PeerReport>('ring-peer', { ringPeer: p }),
      ]);
      expectClean(consumer, producer);
    });
  }

  it(`main → worker, ${FRAMES} frames`, async () => {
    const { p, c } = tasks(0, 2, 0, 1);
    const consumer = runWorker<PeerReport>('ring-peer', { ringPeer: c });
    const producer = await produce(p);
    expectClean(await consumer, producer);
  });

  it(`worker → main, ${FRAMES} frames`, async () => {
    const { p, c } = tasks(0, 3, 1, 0);
    const producer = runWorker<PeerReport>('ring-peer', { ringPeer: p });
    const consumer = await consume(c);
    expectClean(consumer, await producer);
    // With no spin, the main thread must have parked and been woken through the bell.
    expect(consumer.parks).toBeGreaterThan(0);
  });
});
