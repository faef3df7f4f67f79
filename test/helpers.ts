/** Shared by the tests: where compiled fixtures live, and quick mode. */
import { Worker } from 'node:worker_threads';

/**
 * Workers run compiled JavaScript: `npm test` builds first, and a fixture `test/fixtures/x.ts`
 * runs as `dist/test/fixtures/x.js`.
 */
export function fixtureUrl(name: string): URL {
  return new URL(`../dist/test/fixtures/${name}.js`, import.meta.url);
}

/** `WEFT_TEST_QUICK=1` shrinks stress counts (never the assertions) for a fast local loop. */
export const QUICK = process.env.WEFT_TEST_QUICK === '1';

/** Starts a worker on a fixture and resolves with its first message; rejects if it errors or exits first. */
export function runWorker<T>(name: string, workerData: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(fixtureUrl(name), { workerData });
    worker.once('message', (value: T) => {
      resolve(value);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker ${name} exited with code ${code} before reporting`)));
  });
}

/**
 * How many seeds a randomized test (`test/*.random.test.ts`) runs: `ciRuns` in `npm test`, a few
 * seconds' worth; `WEFT_SOAK_RUNS` under `npm run soak` (1,000), the long run outside CI. A failing
 * seed is printed by fast-check; rerun it with `WEFT_SOAK_SEED`.
 */
export function randomRuns(ciRuns: number): number {
  const soak = Number(process.env.WEFT_SOAK_RUNS);
  return Number.isInteger(soak) && soak > 0 ? soak : ciRuns;
}

/** A fixed seed for a randomized test unless `WEFT_SOAK_SEED` names one (to replay a failure). */
export function randomSeed(fallback: number): number {
  const seed = Number(process.env.WEFT_SOAK_SEED);
  return Number.isInteger(seed) ? seed : fallback;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it is true; fails after `ms` with `timed out waiting for <what>`. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
