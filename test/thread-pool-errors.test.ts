/**
 * ThreadPool's errors are the task's own, as piscina's are: a task whose thread dies of an uncaught
 * error rejects with that error (same class, same message), one that runs its thread out of heap
 * with an error whose `code` is ERR_WORKER_OUT_OF_MEMORY. weft's account of the death rides on
 * `threadDown`. The same assertions run against piscina, the reference, on the same worker file.
 */
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { ThreadPool, type ThreadDownCause } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

interface Pool {
  run(task: unknown, options?: { name?: string }): Promise<unknown>;
  destroy(): Promise<void>;
}

const LIMITS = { maxOldGenerationSizeMb: 48 };
const pools: Array<[string, boolean, () => Pool]> = [
  ['weft', true, () => new ThreadPool({ filename: BLOCKING, maxThreads: 1, resourceLimits: LIMITS })],
  ['piscina', false, () => new Piscina({ filename: BLOCKING, maxThreads: 1, minThreads: 1, resourceLimits: LIMITS }) as unknown as Pool],
];

describe.each(pools)('%s: errors are the task\'s own', (_, isWeft, make) => {
  it('a task whose thread dies of an uncaught TypeError rejects with that TypeError, and the pool runs on', async () => {
    const pool = make();
    try {
      const error = (await pool.run('boom in a timer', { name: 'crash' }).catch((e: unknown) => e)) as Error & { threadDown?: ThreadDownCause };
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe('boom in a timer');
      if (isWeft) expect(error.threadDown).toMatchObject({ cause: 'exception' });
      expect(await pool.run(null)).toEqual(expect.any(Number)); // a new thread took over
    } finally {
      await pool.destroy();
    }
  });

  it('a task that runs its thread out of heap rejects with code ERR_WORKER_OUT_OF_MEMORY', async () => {
    const pool = make();
    try {
      const error = (await pool.run(null, { name: 'outOfMemory' }).catch((e: unknown) => e)) as Error & { code?: string; threadDown?: ThreadDownCause };
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
      if (isWeft) expect(error.threadDown).toMatchObject({ cause: 'out_of_memory' });
    } finally {
      await pool.destroy();
    }
  }, 30_000);
});
