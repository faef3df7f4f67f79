/**
 * Randomized: actors on main and on shards, supervised and not, under random spawns with names,
 * crashes with odd reasons, kills, stops, calls, links and monitors, with `stop()` at a random point
 * (the body is test/fixtures/actors-random.ts). Every promise must settle with the error class its
 * operation documents, no name may stay bound to a dead pid, `stats()` may count no actor that
 * nothing references, and the process running it all must exit by itself.
 *
 * `npm test` runs a few seeds; `npm run soak` a thousand (WEFT_SOAK_RUNS); a failure prints its
 * seed and counterexample, replayed with WEFT_SOAK_SEED.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixtureUrl, randomRuns, randomSeed } from './helpers.js';

const RUNS = randomRuns(4);
const SEED = randomSeed(20);
/** A run takes about a second on a loaded 2-core machine; the bound is far above, yet finite. */
const BOUND_MS = 60_000 + RUNS * 10_000;

describe('actors, at random', () => {
  it(`${RUNS} random runs (seed ${SEED}): every promise settles as documented, nothing leaks, the process exits by itself`, async () => {
    const run = promisify(execFile)(process.execPath, [fixtureUrl('actors-random').pathname, String(RUNS), String(SEED)], { timeout: BOUND_MS, maxBuffer: 16 * 1024 * 1024 });
    const { stdout } = await run.catch((error: { stdout?: string; killed?: boolean; message: string }) => {
      throw new Error(error.killed === true ? `the process did not exit within ${BOUND_MS} ms:\n${error.stdout ?? ''}` : `${error.message}\n${error.stdout ?? ''}`);
    });
    expect(stdout.trim()).toBe(`ok ${RUNS}`);
  }, BOUND_MS + 5_000);
});
