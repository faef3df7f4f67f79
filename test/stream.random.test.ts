/**
 * Streamed tasks, randomized: a seeded mix of scripted generators (sync or async, some steps
 * awaiting a timer, some throwing part way), credits from 1 to 40, and consumers that read it all,
 * break at a random value, or read a random number of values with next() and then return(). Each
 * run asserts that the consumer got exactly the prefix it should (values in order, none lost or
 * repeated), the throw where it was scripted, the end after it, and that no generator is left open
 * on the thread (every finally block ran: break and return() end it, a throw or the end closes it).
 *
 * `npm test` runs a few seeds; `npm run soak` runs 1,000 (`WEFT_SOAK_RUNS`); a failing seed replays
 * with `WEFT_SOAK_SEED`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThreadPool } from '../src/main/index.js';
import { fixtureUrl, randomRuns, randomSeed } from './helpers.js';
import type { Script } from './fixtures/tasks/streams.js';

const STREAMS = fixtureUrl('tasks/streams');

let pool: ThreadPool;
beforeAll(() => {
  pool = new ThreadPool({ filename: STREAMS, maxThreads: 1 });
});
afterAll(() => pool.destroy());

const script = fc
  .record({ n: fc.integer({ min: 0, max: 120 }), sync: fc.boolean(), throws: fc.boolean(), at: fc.nat(), slowAt: fc.array(fc.nat({ max: 120 }), { maxLength: 4 }) })
  .map(({ n, sync, throws, at, slowAt }): Script => ({ n, sync, throwAt: throws && n > 0 ? at % n : null, slowAt }));
const consumer = fc.oneof(fc.constant({ kind: 'all' as const }), fc.record({ kind: fc.constant('break' as const), at: fc.nat({ max: 130 }) }), fc.record({ kind: fc.constant('take' as const), count: fc.nat({ max: 130 }) }));

describe('pool.stream, randomized', () => {
  it('every consumer gets its exact prefix, in order, and no generator is left open', async () => {
    await fc.assert(
      fc.asyncProperty(script, fc.integer({ min: 1, max: 40 }), consumer, async (s, highWaterMark, reader) => {
        // What the generator gives before it ends: values 0..end-1, then the throw (if scripted) or the end.
        const end = s.throwAt ?? s.n;
        const stream = pool.stream<number>(s, { name: 'scripted', highWaterMark });
        const got: number[] = [];
        let error: unknown;
        try {
          if (reader.kind === 'take') {
            for (let i = 0; i < reader.count; i++) {
              const step = await stream.next();
              if (step.done === true) break;
              got.push(step.value);
            }
            await stream.return();
          } else {
            for await (const value of stream) {
              if (reader.kind === 'break' && value === reader.at) break;
              got.push(value);
            }
          }
        } catch (e) {
          error = e;
        }
        const limit = reader.kind === 'all' ? end : reader.kind === 'break' ? Math.min(reader.at, end) : Math.min(reader.count, end);
        expect(got).toEqual(Array.from({ length: limit }, (_, i) => i));
        // The throw reaches a consumer that asks past the last value: all of it, a break at a value it never sees, or a next() beyond.
        const asksPast = reader.kind === 'all' || (reader.kind === 'break' && reader.at >= end) || (reader.kind === 'take' && reader.count > end);
        const sawThrow = s.throwAt !== null && asksPast;
        if (sawThrow) {
          expect(error).toBeInstanceOf(RangeError);
          expect((error as Error).message).toBe(`thrown at ${s.throwAt}`);
        } else {
          expect(error).toBeUndefined();
        }
        expect(await stream.next()).toEqual({ done: true, value: undefined });
        const { open } = (await pool.run(false, { name: 'counters' })) as { open: number };
        expect(open).toBe(0);
      }),
      { numRuns: randomRuns(25), seed: randomSeed(1717) },
    );
  }, 120_000);
});
