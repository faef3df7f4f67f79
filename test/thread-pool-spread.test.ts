/**
 * ThreadPool spreads CPU jobs to idle threads, as piscina does: blocking tasks submitted at once
 * (even before the threads are up) run in parallel, one per thread, and quick tasks never wait
 * behind a task that holds its thread while another thread idles. Each assertion runs against
 * weft and, as the reference, against piscina itself on the same worker file.
 */
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../src/main/index.js';
import type { Ran } from './fixtures/tasks/blocking.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

/** What the tests need of a pool: piscina's `run` and `destroy`. */
interface Pool {
  run(task: unknown, options?: { name?: string; signal?: AbortSignal }): Promise<unknown>;
  destroy(): Promise<void>;
}

const pools: Array<[string, (maxThreads: number) => Pool]> = [
  ['weft', (maxThreads) => new ThreadPool({ filename: BLOCKING, maxThreads })],
  ['piscina', (maxThreads) => new Piscina({ filename: BLOCKING, maxThreads, minThreads: maxThreads }) as unknown as Pool],
];

/** Resolves with `promise`'s value, or with 'timeout' after `ms` (generous: the machine is shared). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe.each(pools)('%s spreads CPU jobs to idle threads', (_, make) => {
  it('runs maxThreads blocking tasks submitted right after construction in parallel, one per thread', async () => {
    const pool = make(2);
    try {
      const [a, b] = (await Promise.all([pool.run(400, { name: 'block' }), pool.run(400, { name: 'block' })])) as Ran[];
      expect(a.thread).not.toBe(b.thread);
      // Each started before the other ended: they ran at the same time (on any load).
      expect(a.started).toBeLessThan(b.ended);
      expect(b.started).toBeLessThan(a.ended);
    } finally {
      await pool.destroy();
    }
  });

  it('sends a task to the thread that comes free, not behind an async task that never settles on the other', async () => {
    const pool = make(2);
    try {
      pool.run(null, { name: 'neverSettles' }).catch(() => undefined);
      const busy = pool.run(500, { name: 'block' }) as Promise<Ran>;
      await new Promise((resolve) => setTimeout(resolve, 100)); // both threads have theirs
      const quick = await within(pool.run(null) as Promise<number>, 10_000);
      expect(quick).toBe((await busy).thread);
    } finally {
      await pool.destroy();
    }
  });

  it('runs every quick task sent in a burst with an async task that never settles among them', async () => {
    const pool = make(2);
    try {
      // Measured tiny, so many go down each thread's ring at once: those behind the one that never settles must not wait for it.
      for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 2000 }, () => pool.run(null)));
      const quick: Array<Promise<unknown>> = [];
      for (let i = 0; i < 400; i++) {
        if (i === 50) pool.run(null, { name: 'neverSettles' }).catch(() => undefined);
        quick.push(pool.run(null));
      }
      expect(await within(Promise.all(quick), 10_000)).not.toBe('timeout');
    } finally {
      await pool.destroy();
    }
  });

  it('runs quick tasks on the idle thread while a task that never ends holds the other', async () => {
    const pool = make(2);
    const stuck = new AbortController();
    try {
      const forever = pool.run(null, { name: 'forever', signal: stuck.signal });
      forever.catch(() => undefined);
      const quick = await within(Promise.all([pool.run(null), pool.run(null), pool.run(null)]), 10_000);
      expect(quick).not.toBe('timeout');
    } finally {
      stuck.abort();
      await pool.destroy();
    }
  });

  it('after thousands of tiny tasks (a deep pipeline), still sends quick ones past a thread stuck on a long task', async () => {
    const pool = make(2);
    const stuck = new AbortController();
    try {
      await Promise.all(Array.from({ length: 5000 }, () => pool.run(null)));
      const forever = pool.run(null, { name: 'forever', signal: stuck.signal });
      forever.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50)); // it is running now
      const quick = await within(Promise.all(Array.from({ length: 200 }, () => pool.run(null))), 10_000);
      expect(quick).not.toBe('timeout');
    } finally {
      stuck.abort();
      await pool.destroy();
    }
  });
});
