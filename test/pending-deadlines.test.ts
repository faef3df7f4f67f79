/**
 * The deadlines of pending replies (src/common/pending.ts): one heap and one timer however many
 * distinct timeouts there are, every timed-out wait rejected no earlier than its deadline and in
 * deadline order, and answered waits not kept. Real timers, the real class.
 */
import { describe, expect, it } from 'vitest';
import { PendingReplies } from '../src/common/pending.js';

const timedOut = (subject: unknown, ms: number): Error => Object.assign(new Error(`wait ${String(subject)} timed out after ${ms} ms`), { subject });

describe('pending reply deadlines', () => {
  it('10,000 distinct timeouts use one heap and one timer, and all fire, in deadline order, none early', async () => {
    const pending = new PendingReplies();
    const N = 10_000;
    // distinct timeouts, scrambled: 200 ms to 700 ms in steps of 0.05 ms
    const timeouts = Array.from({ length: N }, (_, i) => 200 + ((i * 7919) % N) * 0.05);
    const lo = new Float64Array(N);
    const hi = new Float64Array(N);
    const firedAt = new Float64Array(N);
    const order: number[] = [];
    const settled: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const before = performance.now();
      const wait = pending.begin(timeouts[i], -1, timedOut, i);
      hi[i] = performance.now() + timeouts[i];
      lo[i] = before + timeouts[i];
      settled.push(
        wait.then(
          () => expect.unreachable('nobody answers'),
          (error: Error & { subject: number }) => {
            firedAt[error.subject] = performance.now();
            order.push(error.subject);
          },
        ),
      );
    }
    expect(new Set(timeouts).size).toBe(N);
    expect(pending.timers).toBe(1);
    expect(pending.deadlines).toBe(N);
    await Promise.all(settled);
    expect(order).toHaveLength(N);
    expect(new Set(order).size).toBe(N);
    for (let k = 1; k < N; k++) {
      const [j, i] = [order[k - 1], order[k]];
      // i fired after j: i's deadline cannot be known to precede j's
      if (hi[i] < lo[j]) expect.fail(`wait ${i} (deadline ≤ ${hi[i].toFixed(3)}) fired after wait ${j} (deadline ≥ ${lo[j].toFixed(3)})`);
    }
    for (let i = 0; i < N; i++) expect(firedAt[i]).toBeGreaterThanOrEqual(lo[i] - 1); // (timers have ms resolution)
    expect(pending.size).toBe(0);
    expect(pending.timers).toBe(0);
    expect(pending.deadlines).toBe(0);
  });

  it('waits with one timeout expire in the order they began', async () => {
    const pending = new PendingReplies();
    const order: number[] = [];
    const waits = Array.from({ length: 1000 }, (_, i) => pending.begin(50, -1, timedOut, i).catch((error: { subject: number }) => void order.push(error.subject)));
    await Promise.all(waits);
    expect(order).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('a shorter timeout begun after a longer one fires first: the one timer moves earlier', async () => {
    const pending = new PendingReplies();
    const began = performance.now();
    const long = pending.begin(5000, -1, timedOut, 'long').catch(() => performance.now() - began);
    const short = await pending.begin(100, -1, timedOut, 'short').catch(() => performance.now() - began);
    expect(short).toBeGreaterThanOrEqual(99);
    expect(short).toBeLessThan(3000);
    expect(pending.timers).toBe(1);
    expect(pending.has(pending.lastRef)).toBe(false);
    pending.rejectAll(() => new Error('done'));
    await long;
  });

  it('answered waits are swept: the heap holds about the waits in flight, not every call of the last timeout', () => {
    const pending = new PendingReplies();
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      // 100 in flight at a time, each answered, each with its own timeout
      pending.begin(60_000 + (i % 977), -1, timedOut, i).catch(() => {});
      if (i >= 100) pending.resolve(pending.lastRef - 100, i);
      most = Math.max(most, pending.deadlines);
    }
    expect(pending.size).toBe(100);
    expect(most).toBeLessThanOrEqual(2 * 100 + 4096 + 1);
    expect(pending.timers).toBe(1);
    pending.rejectAll(() => new Error('done'));
    pending.close();
    expect(pending.timers).toBe(0);
  });
});
