/**
 * Recycling (issue 17), on real threads: a shard past `maxTasksPerThread`, `maxHeapMB` or
 * `maxAgeMs` finishes what it holds (no task lost, none rejected), the standby takes its index, and
 * `stats().recycles` counts it by cause, not as a restart. Told apart by the OS-level thread ids the
 * tasks report. Shards where actors live are left be. Bounds catch hangs; they do not measure speed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidOptionTypeError, ThreadPool, start, type System, type ThreadDownCause } from '../src/main/index.js';
import { fixtureUrl, sleep, until } from './helpers.js';
import type Patient from './fixtures/actors/patient.js';

const RECYCLE = fixtureUrl('tasks/recycle');
const PATIENT = fixtureUrl('actors/patient');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

/** How many tasks each thread id answered. */
function tally(ids: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('maxTasksPerThread', () => {
  it('a shard that answered its share is replaced; every task answers, none rejects, none counts as a restart', async () => {
    system = await start({ threads: 2, maxTasksPerThread: 50 });
    const downs: ThreadDownCause[] = [];
    system.on('threadDown', (cause) => downs.push(cause));
    const ids: number[] = [];
    // Rounds of 50 until three recycles are done (one thread is recycled at a time, and the other
    // works on past its share meanwhile, so how many tasks that takes depends on the machine).
    const deadline = performance.now() + 30_000;
    while ((await system.stats()).recycles.tasks < 3) {
      expect(performance.now()).toBeLessThan(deadline);
      ids.push(...((await Promise.all(Array.from({ length: 50 }, () => system!.run(RECYCLE, 'where')))) as number[]));
    }
    expect(ids.every((id) => typeof id === 'number')).toBe(true); // every task answered, none rejected
    const counts = tally(ids);
    expect(counts.size).toBeGreaterThanOrEqual(3);
    const stats = await system.stats();
    expect(stats.recycles.tasks).toBeGreaterThanOrEqual(3);
    expect(stats.recycles.heap + stats.recycles.age).toBe(0);
    expect(stats.window.threads.map((t) => t.restartsTotal)).toEqual([0, 0, 0]);
    expect(downs.length).toBeGreaterThan(0);
    for (const down of downs) expect(down).toMatchObject({ cause: 'recycled', recycle: 'tasks' });
  });

  it('async tasks in flight on a ThreadPool of its own all answer across recycles', async () => {
    const pool = new ThreadPool({ filename: RECYCLE, maxThreads: 2, concurrentTasksPerWorker: 4, maxTasksPerThread: 20 });
    try {
      const ids = (await Promise.all(Array.from({ length: 200 }, () => pool.run(5, { name: 'slowWhere' })))) as number[];
      expect(ids.every((id) => typeof id === 'number')).toBe(true);
      expect(tally(ids).size).toBeGreaterThan(2);
    } finally {
      await pool.destroy();
    }
  });

  it('a shard where an actor lives is not recycled (its actor keeps its thread); once the actor is gone, it is', async () => {
    system = await start({ threads: 1, maxTasksPerThread: 5 });
    const actor = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push((await system.run(RECYCLE, 'where')) as number);
    expect(tally(ids).size).toBe(1);
    expect((await system.stats()).recycles.tasks).toBe(0);
    expect(await actor.call({ type: 'calls' })).toBe(1);
    const { down } = system.monitor(actor);
    await actor.call({ type: 'stop' });
    await down;
    await sleep(300); // past the recheck interval
    for (let i = 0; i < 30; i++) ids.push((await system.run(RECYCLE, 'where')) as number);
    expect(tally(ids).size).toBeGreaterThan(1);
    expect((await system.stats()).recycles.tasks).toBeGreaterThanOrEqual(1);
  });
});

describe('maxAgeMs and maxHeapMB', () => {
  it('a shard past maxAgeMs is replaced even when idle', async () => {
    system = await start({ threads: 1, maxAgeMs: 300 });
    const first = (await system.run(RECYCLE, 'where')) as number;
    // The thread may have been recycled already while the first task waited for its runner.
    const before = (await system.stats()).recycles.age;
    await until(async () => (await system!.stats()).recycles.age > before, 10_000, 'an age recycle');
    expect(await system.run(RECYCLE, 'where')).not.toBe(first);
    expect((await system.stats()).window.threads.map((t) => t.restartsTotal)).toEqual([0, 0]);
  });

  it('a shard whose heap grows past maxHeapMB is replaced, and the leak goes with it', async () => {
    system = await start({ threads: 1, maxHeapMB: 64 });
    const leaky = (await system.run(RECYCLE, 'leak', 100)) as number;
    await until(async () => (await system!.stats()).recycles.heap >= 1, 10_000, 'a heap recycle');
    expect(await system.run(RECYCLE, 'where')).not.toBe(leaky);
  });
});

describe('the limits are checked', () => {
  it('start() refuses a limit that is not a positive number or Infinity', async () => {
    await expect(start({ threads: 1, maxTasksPerThread: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(start({ threads: 1, maxTasksPerThread: 1.5 })).rejects.toThrow(/`maxTasksPerThread` to be an integer from 1 to 2147483647, or Infinity \(never\), got: `1.5` \(number\)/);
    await expect(start({ threads: 1, maxHeapMB: -1 })).rejects.toThrow(/`maxHeapMB`/);
    await expect(start({ threads: 1, maxAgeMs: 'soon' as unknown as number })).rejects.toThrow(/`maxAgeMs`/);
  });

  it('ThreadPool refuses them with InvalidOptionTypeError; system.threadPool leaves them to start()', async () => {
    expect(() => new ThreadPool({ filename: RECYCLE, maxHeapMB: 0 })).toThrow(InvalidOptionTypeError);
    system = await start({ threads: 1 });
    expect(() => system!.threadPool({ filename: RECYCLE, maxTasksPerThread: 10 })).toThrow(/give them to start\(\)/);
  });
});
