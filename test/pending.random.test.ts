/**
 * PendingReplies (src/common/pending.ts) against a model: a Map from ref to what the wait is for.
 * Random runs of begin / resolve / reject / forget / rejectThread / late replies check that every
 * promise settles exactly once with what settled it, that a ref is never handed out twice while
 * its wait lives, and that `size`, `afar` and `has` agree with the model, through the table's
 * growth and through long waits that the run of refs comes round to.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AFAR, PendingReplies } from '../src/common/pending.js';
import { randomRuns, randomSeed } from './helpers.js';

type Op =
  | { op: 'begin'; thread: number }
  | { op: 'resolve'; pick: number }
  | { op: 'reject'; pick: number }
  | { op: 'forget'; pick: number }
  | { op: 'late'; ref: number }
  | { op: 'rejectThread'; thread: number };

const THREADS = [-1, 1, 2, AFAR];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ op: fc.constant('begin' as const), thread: fc.constantFrom(...THREADS) }) },
  { weight: 16, arbitrary: fc.record({ op: fc.constant('resolve' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reject' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('late' as const), ref: fc.integer({ min: -5, max: 5000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rejectThread' as const), thread: fc.constantFrom(...THREADS) }) },
);

const noTimeout = (): Error => new Error('no timeout in this test');

describe('PendingReplies against a model', () => {
  it('every wait settles once, with what settled it; refs stay unique among live waits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 300, maxLength: 1500 }), fc.integer({ min: 1, max: 0x3fff_ffff }), async (ops, firstRef) => {
        let busy = false;
        const pending = new PendingReplies((now) => {
          expect(now, 'busy changes alternate').toBe(!busy);
          busy = now;
        }, firstRef);
        /** The model: live waits by ref, oldest first. */
        const live = new Map<number, { thread: number; seq: number }>();
        /** What each promise settled with, by the seq of its begin. */
        const settled: Array<{ how: 'resolved' | 'rejected'; value: unknown } | undefined> = [];
        const expected: Array<{ how: 'resolved' | 'rejected'; value: unknown } | 'dropped' | undefined> = [];
        let seq = 0;
        // Replies mostly answer one of the newest waits, so some old ones live on while the refs
        // wrap round the table many times (the case the table must skip, not overwrite).
        const pickRef = (pick: number, newest: boolean): number | undefined => {
          if (live.size === 0) return undefined;
          const refs = [...live.keys()];
          return newest ? refs[refs.length - 1 - (pick % Math.min(refs.length, 3))] : refs[pick % refs.length];
        };
        for (const step of ops) {
          switch (step.op) {
            case 'begin': {
              const mine = seq++;
              const promise = pending.begin(Infinity, step.thread, noTimeout, null);
              const ref = pending.lastRef;
              expect(live.has(ref), `ref ${ref} handed out while its wait lives`).toBe(false);
              expect(ref).toBeGreaterThan(0);
              live.set(ref, { thread: step.thread, seq: mine });
              promise.then(
                (value) => {
                  expect(settled[mine], `wait ${mine} settled twice`).toBeUndefined();
                  settled[mine] = { how: 'resolved', value };
                },
                (value: unknown) => {
                  expect(settled[mine], `wait ${mine} settled twice`).toBeUndefined();
                  settled[mine] = { how: 'rejected', value };
                },
              );
              break;
            }
            case 'resolve':
            case 'reject':
            case 'forget': {
              const ref = pickRef(step.pick, step.op === 'resolve');
              if (ref === undefined) break;
              const wait = live.get(ref)!;
              live.delete(ref);
              const value = `${step.op} ${wait.seq}`;
              if (step.op === 'forget') {
                pending.forget(ref);
                expected[wait.seq] = 'dropped';
              } else {
                expect(step.op === 'resolve' ? pending.resolve(ref, value) : pending.reject(ref, value)).toBe(true);
                expected[wait.seq] = { how: step.op === 'resolve' ? 'resolved' : 'rejected', value };
              }
              break;
            }
            case 'late': // a reply for a ref with no wait (timed out, or never made): dropped
              if (!live.has(step.ref)) {
                expect(pending.resolve(step.ref, 'late')).toBe(false);
                expect(pending.reject(step.ref, 'late')).toBe(false);
              }
              break;
            case 'rejectThread': {
              const value = `thread ${step.thread} down`;
              pending.rejectThread(step.thread, () => new Error(value));
              for (const [ref, wait] of [...live]) {
                if (wait.thread !== step.thread) continue;
                live.delete(ref);
                expected[wait.seq] = { how: 'rejected', value };
              }
              break;
            }
          }
          expect(pending.size).toBe(live.size);
          expect(pending.afar).toBe([...live.values()].filter((wait) => wait.thread === AFAR).length);
          expect(busy).toBe(live.size > 0);
          for (const ref of live.keys()) expect(pending.has(ref)).toBe(true);
        }
        // Everything still live is rejected at the end, as a stopping system does.
        pending.rejectAll(() => new Error('stopped'));
        for (const wait of live.values()) expected[wait.seq] = { how: 'rejected', value: 'stopped' };
        expect(pending.size).toBe(0);
        await new Promise((resolve) => setImmediate(resolve));
        for (let i = 0; i < seq; i++) {
          const want = expected[i];
          const got = settled[i];
          if (want === 'dropped') {
            expect(got, `forgotten wait ${i} settled`).toBeUndefined();
            continue;
          }
          expect(got, `wait ${i} never settled`).toBeDefined();
          expect(got!.how).toBe(want!.how);
          const value = got!.value instanceof Error ? got!.value.message : got!.value;
          expect(value).toBe(want!.value);
        }
      }),
      { numRuns: randomRuns(10), seed: randomSeed(16) },
    );
  });

  it('a long wait the run of refs comes round to is skipped, not overwritten, and the table does not grow for it', async () => {
    const pending = new PendingReplies();
    const long = pending.begin<string>(Infinity, 1, noTimeout, null);
    const longRef = pending.lastRef;
    // Many short waits one at a time: their refs wrap round the table again and again.
    for (let i = 0; i < 10_000; i++) {
      const short = pending.begin<number>(Infinity, 1, noTimeout, null);
      const ref = pending.lastRef;
      expect(ref).not.toBe(longRef);
      expect(pending.resolve(ref, i)).toBe(true);
      expect(await short).toBe(i);
    }
    expect(pending.size).toBe(1);
    expect(pending.resolve(longRef, 'at last')).toBe(true);
    expect(await long).toBe('at last');
    // 64 slots were enough throughout: the table holds one long wait and one short one at a time.
    expect((pending as unknown as { refs: Int32Array }).refs.length).toBe(64);
  });

  it('a timed-out wait rejects with its own error, and its late reply is dropped', async () => {
    const pending = new PendingReplies();
    const promise = pending.begin(20, 1, (subject, ms) => new Error(`${String(subject)} after ${ms} ms`), 'call to <0.1.1>');
    const ref = pending.lastRef;
    await expect(promise).rejects.toThrow('call to <0.1.1> after 20 ms');
    expect(pending.resolve(ref, 'late')).toBe(false);
    expect(pending.size).toBe(0);
    pending.close();
  });
});
