/**
 * Randomized: waits begun with random timeouts (many distinct values, some equal, some Infinity),
 * some answered at random moments. Every wait settles exactly once; an answered one is never
 * rejected; a timed-out one rejects no earlier than its deadline, in deadline order (ties in the
 * order begun); the deadline heap never holds far more than the waits in flight, and one timer.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PendingReplies } from '../src/common/pending.js';
import { randomRuns, randomSeed } from './helpers.js';

const timedOut = (subject: unknown): Error => Object.assign(new Error('timed out'), { subject });

type Step = { kind: 'begin'; timeout: number } | { kind: 'answer'; pick: number } | { kind: 'pause'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('begin' as const), timeout: fc.oneof(fc.double({ min: 1, max: 60, noNaN: true }), fc.constantFrom(5, 20, Infinity)) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 15 }) }) },
);

describe('pending reply deadlines, randomized', () => {
  it('every wait settles once: answered ones resolve, the rest time out no earlier than their deadline, in deadline order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 300 }), async (steps) => {
        const pending = new PendingReplies();
        const waits: { ref: number; lo: number; hi: number; timeout: number; settled: number; how?: 'resolved' | 'rejected'; at?: number }[] = [];
        const open: number[] = [];
        const order: number[] = [];
        const all: Promise<void>[] = [];
        let most = 0;
        for (const s of steps) {
          if (s.kind === 'begin') {
            const i = waits.length;
            const before = performance.now();
            const promise = pending.begin(s.timeout, -1, timedOut, i);
            const after = performance.now();
            const wait = { ref: pending.lastRef, lo: before + s.timeout, hi: after + s.timeout, timeout: s.timeout, settled: 0 } as (typeof waits)[number];
            waits.push(wait);
            open.push(i);
            all.push(
              promise.then(
                () => {
                  wait.settled++;
                  wait.how = 'resolved';
                },
                () => {
                  wait.settled++;
                  wait.how = 'rejected';
                  wait.at = performance.now();
                  order.push(i);
                },
              ),
            );
          } else if (s.kind === 'answer' && open.length > 0) {
            const [i] = open.splice(s.pick % open.length, 1);
            pending.resolve(waits[i].ref, i);
          } else if (s.kind === 'pause') {
            await new Promise((resolve) => setTimeout(resolve, s.ms));
          }
          most = Math.max(most, pending.deadlines);
          expect(pending.timers).toBeLessThanOrEqual(1);
        }
        // the Infinity waits never time out: answer them, then everything settles
        for (const i of open) if (waits[i].timeout === Infinity) pending.resolve(waits[i].ref, i);
        await Promise.all(all);
        expect(most).toBeLessThanOrEqual(2 * steps.length + 4096);
        for (const w of waits) {
          expect(w.settled).toBe(1);
          if (w.how === 'rejected') expect(w.at!).toBeGreaterThanOrEqual(w.lo - 1);
        }
        for (let k = 1; k < order.length; k++) {
          const [j, i] = [waits[order[k - 1]], waits[order[k]]];
          expect(i.hi >= j.lo || `wait ${order[k]} fired after ${order[k - 1]} with an earlier deadline`).toBe(true);
        }
        expect(pending.size).toBe(0);
        // answered waits' entries stay until their deadline passes (the timer finds nothing), then none is left
        await new Promise((resolve) => setTimeout(resolve, 80));
        expect(pending.timers).toBe(0);
        expect(pending.deadlines).toBe(0);
      }),
      { numRuns: randomRuns(20), seed: randomSeed(42) },
    );
  }, 60_000);
});
