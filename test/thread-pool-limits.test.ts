/**
 * `concurrentTasksPerWorker` holds for every task, as under piscina: tasks that carry a
 * SharedArrayBuffer or a transferList (they travel beside the rings, on the thread's port) take the
 * same slots as ring tasks, counted together. Each assertion runs against weft and piscina.
 */
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

interface Pool {
  run(task: unknown, options?: { name?: string; transferList?: ArrayBuffer[] }): Promise<unknown>;
  destroy(): Promise<void>;
}

const pools: Array<[string, (maxThreads: number, concurrentTasksPerWorker: number) => Pool]> = [
  ['weft', (maxThreads, concurrentTasksPerWorker) => new ThreadPool({ filename: BLOCKING, maxThreads, concurrentTasksPerWorker })],
  ['piscina', (maxThreads, concurrentTasksPerWorker) => new Piscina({ filename: BLOCKING, maxThreads, minThreads: maxThreads, concurrentTasksPerWorker }) as unknown as Pool],
];

interface Overlap {
  thread: number;
  atOnce: number;
}

/** `count` tasks of each kind, interleaved: through the rings, with a SharedArrayBuffer, with a transferList. */
function mixed(pool: Pool, count: number): Array<Promise<Overlap>> {
  const tasks: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    tasks.push(pool.run({ ms: 40 }, { name: 'overlap' }));
    tasks.push(pool.run({ ms: 40, shared: new SharedArrayBuffer(8) }, { name: 'overlap' }));
    const moved = new ArrayBuffer(8);
    tasks.push(pool.run({ ms: 40 }, { name: 'overlap', transferList: [moved] }));
  }
  return tasks as Array<Promise<Overlap>>;
}

describe.each(pools)('%s: concurrentTasksPerWorker holds for every task', (_, make) => {
  it('default 1: no two tasks overlap on a thread, whichever way they travel', async () => {
    const pool = make(2, 1);
    try {
      const ran = await Promise.all(mixed(pool, 4));
      expect(Math.max(...ran.map((r) => r.atOnce))).toBe(1);
    } finally {
      await pool.destroy();
    }
  });

  it('4: at most 4 at once on a thread, counted together, and they do overlap', async () => {
    const pool = make(1, 4);
    try {
      const ran = await Promise.all(mixed(pool, 4));
      const most = Math.max(...ran.map((r) => r.atOnce));
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBeGreaterThan(1);
    } finally {
      await pool.destroy();
    }
  });
});
