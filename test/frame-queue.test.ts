/** The ring producer's overflow queue: FIFO order, exact byte counts, and memory given back as it drains. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameQueue } from '../src/shm/frame-queue.js';
import { randomRuns, randomSeed } from './helpers.js';

function payload(seq: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seq * 31 + i) & 0xff;
  return bytes;
}

describe('FrameQueue', () => {
  it('keeps order, headers and bytes of any mix of pushes and shifts (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 70_000 }), header: fc.integer({ min: 0, max: 0x1ff }) }), fc.constant({ shift: true })), { maxLength: 200 }),
        (ops) => {
          const queue = new FrameQueue();
          const model: Array<{ seq: number; header: number; length: number }> = [];
          let seq = 0;
          for (const op of ops) {
            if ('push' in op) {
              const bytes = payload(seq, op.push + 4);
              queue.push(op.header, bytes, 2, bytes.length - 2); // a slice, as the ring pushes one
              model.push({ seq: seq++, header: op.header, length: op.push });
            } else if (model.length > 0) {
              const want = model.shift()!;
              expect(queue.headHeader()).toBe(want.header);
              const chunk = queue.headChunk();
              expect(queue.headEnd() - queue.headStart()).toBe(want.length);
              const sent = payload(want.seq, want.length + 4);
              let same = true;
              for (let i = 0; i < want.length; i++) same &&= chunk[queue.headStart() + i] === sent[2 + i];
              expect(same).toBe(true);
              queue.shift();
            }
            expect(queue.frames).toBe(model.length);
            expect(queue.bytes).toBe(model.reduce((sum, frame) => sum + frame.length, 0));
          }
        },
      ),
      { numRuns: randomRuns(200), seed: randomSeed(7) },
    );
  });

  it('gives memory back while it never empties: a million frames through a queue that always holds some', () => {
    const queue = new FrameQueue();
    const frame = payload(1, 48);
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      queue.push(1, frame, 0, frame.length);
      if (i >= 1000) queue.shift(); // a steady backlog of 1000 frames, never zero
      peak = Math.max(peak, queue.heldBytes);
    }
    expect(queue.frames).toBe(1000);
    // 1000 frames of 56 bytes fit in one chunk; with the one being filled and the spare, three at most.
    expect(peak).toBeLessThanOrEqual(3 * 64 * 1024);
  });

  it('clear() lets every chunk go', () => {
    const queue = new FrameQueue();
    for (let i = 0; i < 10_000; i++) queue.push(2, payload(i, 100), 0, 100);
    expect(queue.heldBytes).toBeGreaterThan(1_000_000);
    queue.clear();
    expect(queue.heldBytes).toBe(0);
    expect(queue.isEmpty).toBe(true);
  });
});
