/**
 * Elastic threads, as piscina's: a pool with `minThreads` < `maxThreads` starts `minThreads`, starts
 * more on demand (a task that finds every thread busy) up to `maxThreads`, and stops a thread idle
 * for `idleTimeout` ms, down to `minThreads`. Measured by the thread ids tasks report, against
 * weft and against piscina as the reference.
 */
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../src/main/index.js';
import type { Ran } from './fixtures/tasks/blocking.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

interface Pool {
  run(task: unknown, options?: { name?: string }): Promise<unknown>;
  destroy(): Promise<void>;
  readonly threads: unknown[];
}

const OPTIONS = { filename: BLOCKING, minThreads: 1, maxThreads: 3, idleTimeout: 300 };
const pools: Array<[string, () => Pool]> = [
  ['weft', () => new ThreadPool(OPTIONS)],
  ['piscina', () => new Piscina(OPTIONS) as unknown as Pool],
];

/** Resolves once `check()` holds (polled), or rejects after `ms` (generous: a loaded machine). */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (!check()) {
    if (performance.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The thread ids of the pool's threads now. */
function ids(pool: Pool): Set<number> {
  return new Set(pool.threads.map((thread) => (thread as { threadId: number }).threadId));
}

/**
 * Three tasks that hold their threads at once: the pool grows to three threads (polled while they
 * run; a thread may take a second to start on a loaded machine, so not every task need run on its
 * own). Resolves with the three threads' ids, once the tasks are done.
 */
async function growToThree(pool: Pool): Promise<Set<number>> {
  const tasks = [1, 2, 3].map(() => pool.run(1000, { name: 'block' }));
  await eventually(() => pool.threads.length === 3, 15_000, 'grown to maxThreads');
  const grown = ids(pool);
  const ran = (await Promise.all(tasks)) as Ran[];
  for (const r of ran) expect(grown.has(r.thread)).toBe(true);
  return grown;
}

describe.each(pools)('%s: elastic threads', (_, make) => {
  it('starts minThreads, grows to maxThreads on demand, and shrinks back after idleTimeout', async () => {
    const pool = make();
    try {
      await pool.run(null);
      expect(pool.threads).toHaveLength(1);
      const first = await growToThree(pool);
      await eventually(() => pool.threads.length === 1, 15_000, 'back to minThreads');
      const second = await growToThree(pool);
      // The threads stopped for idleness are gone: new ones (new ids) took their place.
      expect([...second].filter((id) => !first.has(id)).length).toBeGreaterThanOrEqual(2);
      await eventually(() => pool.threads.length === 1, 15_000, 'back to minThreads again');
    } finally {
      await pool.destroy();
    }
  }, 60_000);
});
