/**
 * Tasks sent ahead (src/main/tasks.ts, "sent ahead"): once a pool's threads are measured on long
 * tasks, a busy thread gets the next task before it answers its current one, so it never waits for
 * main between tasks. What must hold whatever happens to such a task before its thread claims it:
 * it is taken back for any thread that comes free first, it runs exactly once, an abort or a
 * destroy rejects it without running it, a thread that dies before claiming it does not take it
 * along, and the pool's histograms time its run, not its wait.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadPool } from '../src/main/index.js';
import { AbortError, PoolClosedError } from '../src/shm/errors.js';
import type { TaskDispatcher } from '../src/main/tasks.js';
import type { Ran } from './fixtures/tasks/blocking.js';
import { fixtureUrl } from './helpers.js';

const BLOCKING = fixtureUrl('tasks/blocking').href;

/** The pool's dispatcher, to read how many tasks it sent ahead and took back. */
function dispatcher(pool: ThreadPool): TaskDispatcher {
  return (pool as unknown as { dispatcherNow: TaskDispatcher }).dispatcherNow;
}

/**
 * A 2-thread pool whose threads have been measured on `ms` ms tasks (more than the dispatcher's
 * sample each), so what waits for a thread from now on is sent ahead, while the task before it
 * runs no more than a few times that long.
 */
async function measuredPool(ms = 2, tasks = 40): Promise<ThreadPool> {
  const pool = new ThreadPool({ filename: BLOCKING, maxThreads: 2 });
  await pool.ready();
  const warm = (await Promise.all(Array.from({ length: tasks }, () => pool.run(ms, { name: 'block' })))) as Ran[];
  expect(new Set(warm.map((ran) => ran.thread)).size).toBe(2);
  return pool;
}

/** Resolves with `promise`'s value, or with 'timeout' after `ms` (generous: the machine is shared). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let pool: ThreadPool | undefined;
afterEach(async () => {
  await pool?.destroy();
  pool = undefined;
});

describe('tasks sent ahead to busy threads', () => {
  it('runs a stream of long tasks once each, on both threads, sending them ahead', async () => {
    pool = await measuredPool();
    const sent = dispatcher(pool).aheadCounts.sent;
    const runs = (await Promise.all(Array.from({ length: 60 }, (_, i) => pool!.run(2 + (i % 3), { name: 'block' })))) as Ran[];
    expect(runs).toHaveLength(60);
    expect(new Set(runs.map((ran) => ran.thread)).size).toBe(2);
    // Most went ahead: a thread answered one and went straight on to the next.
    expect(dispatcher(pool).aheadCounts.sent - sent).toBeGreaterThan(30);
    // No two tasks overlapped on a thread (one ran at a time, each once).
    for (const thread of new Set(runs.map((ran) => ran.thread))) {
      const mine = runs.filter((ran) => ran.thread === thread).sort((a, b) => a.started - b.started);
      for (let i = 1; i < mine.length; i++) expect(mine[i].started).toBeGreaterThanOrEqual(mine[i - 1].ended);
    }
  });

  it('takes a task back from a thread stuck on a long one as soon as the other thread is free', async () => {
    pool = await measuredPool();
    const before = { ...dispatcher(pool).aheadCounts };
    // Thread A: 3 s; thread B: 100 ms. The two quick ones go ahead, one to each (both threads busy).
    const long = pool.run(3000, { name: 'block' }) as Promise<Ran>;
    const short = pool.run(100, { name: 'block' }) as Promise<Ran>;
    const quick = [pool.run(null), pool.run(null)] as Array<Promise<number>>;
    expect(dispatcher(pool).aheadCounts.sent - before.sent).toBe(2);
    // Both answer once B is free: the one ahead on A is taken back for B, not left behind 3 s.
    const answered = await within(Promise.all(quick), 2000);
    expect(answered).not.toBe('timeout');
    const { thread: shortThread } = await short;
    expect(answered).toEqual([shortThread, shortThread]);
    expect(dispatcher(pool).aheadCounts.takenBack - before.takenBack).toBeGreaterThanOrEqual(1);
    expect((await long).thread).not.toBe(shortThread);
  });

  it('takes a task back from a thread whose task runs far past its measured time, while the other thread works through younger ones', async () => {
    pool = await measuredPool();
    const before = { ...dispatcher(pool).aheadCounts };
    // The first short task goes to the free thread; the second waits ahead on the 3 s one.
    const long = pool.run(3000, { name: 'block' }) as Promise<Ran>;
    const short = Array.from({ length: 30 }, () => pool!.run(2, { name: 'block' }) as Promise<Ran>);
    expect(dispatcher(pool).aheadCounts.sent - before.sent).toBe(2);
    const done = await within(Promise.all(short), 2000);
    expect(done).not.toBe('timeout');
    const longThread = (await long).thread;
    expect((done as Ran[]).every((ran) => ran.thread !== longThread)).toBe(true);
    // Taken back once that task ran past a few times its thread's measured time: it starts among
    // the first, not after every younger one the other thread ran meanwhile.
    const byStart = [...(done as Ran[])].sort((a, b) => a.started - b.started || a.ended - b.ended);
    expect(byStart.indexOf((done as Ran[])[1])).toBeLessThan(10);
    expect(dispatcher(pool).aheadCounts.takenBack - before.takenBack).toBeGreaterThan(0);
  });

  it('rejects an aborted task waiting ahead at once, never runs it, and ends no thread', async () => {
    pool = await measuredPool(100, 20);
    const downs: number[] = [];
    pool.on('workerDestroy', (worker) => downs.push(worker.threadId));
    const posted: unknown[] = [];
    pool.on('message', (message: unknown) => posted.push(message));
    // Not past a few times the measured 100 ms: what waits ahead of them stays there.
    const first = pool.run(200, { name: 'block' }) as Promise<Ran>;
    const second = pool.run(200, { name: 'block' }) as Promise<Ran>;
    const abort = new AbortController();
    const ahead = pool.run('ran anyway', { name: 'post', signal: abort.signal });
    expect(dispatcher(pool).aheadCounts.sent).toBeGreaterThan(0);
    const startedAbort = performance.now();
    abort.abort('changed my mind');
    const error = await ahead.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).message).toMatch(/before it ran/);
    expect((error as AbortError).cause).toBe('changed my mind');
    // At once: not after the long task it waited behind, nor after the abort's grace.
    expect(performance.now() - startedAbort).toBeLessThan(300);
    await Promise.all([first, second]);
    // Its thread answered null for it later and ran nothing: a task sent now proves the queue moved on.
    await pool.run(1, { name: 'block' });
    expect(posted).toEqual([]);
    expect(downs).toEqual([]);
  });

  it('runs a task that waited ahead on a thread that died before claiming it elsewhere, once', async () => {
    pool = await measuredPool(100, 20);
    const before = dispatcher(pool).aheadCounts.sent;
    // Thread A ends itself 200 ms into its task; thread B is busy for 250 ms. One quick task waits ahead on each.
    const exits = pool.run(200, { name: 'blockThenExit' });
    const other = pool.run(250, { name: 'block' }) as Promise<Ran>;
    const aheadOfCrash = [pool.run(null), pool.run(null)] as Array<Promise<number>>;
    expect(dispatcher(pool).aheadCounts.sent - before).toBe(2);
    await expect(exits).rejects.toThrow();
    const answered = await within(Promise.all(aheadOfCrash), 10_000);
    expect(answered).not.toBe('timeout');
    expect((answered as number[]).every((thread) => typeof thread === 'number')).toBe(true);
    await other;
  });

  it('rejects the tasks waiting ahead when the pool is destroyed, without running them', async () => {
    pool = await measuredPool(100, 20);
    const posted: unknown[] = [];
    pool.on('message', (message: unknown) => posted.push(message));
    // Held from the start: the destroy rejects them too, maybe before this test gets to them.
    const long = Promise.allSettled([pool.run(200, { name: 'block' }), pool.run(200, { name: 'block' })]);
    const ahead = [pool.run('a', { name: 'post' }), pool.run('b', { name: 'post' })];
    expect(dispatcher(pool).aheadCounts.sent).toBeGreaterThan(0);
    const destroyed = pool.destroy();
    pool = undefined;
    await Promise.all(ahead.map((task) => expect(task).rejects.toBeInstanceOf(PoolClosedError)));
    await destroyed;
    await long;
    expect(posted).toEqual([]);
  });

  it('times the run of a task sent ahead from when it started, not from when it was sent', async () => {
    pool = await measuredPool(60, 20);
    // Four 100 ms tasks on two threads: the last two go ahead and wait ~100 ms each before they run.
    const before = dispatcher(pool).aheadCounts.sent;
    const ran = (await Promise.all(Array.from({ length: 4 }, () => pool!.run(100, { name: 'block' })))) as Ran[];
    expect(ran).toHaveLength(4);
    expect(dispatcher(pool).aheadCounts.sent - before).toBe(2);
    const { runTime, waitTime } = pool.histogram;
    // Without the start estimate, those two would read ~200 ms of run time.
    expect(runTime!.max).toBeLessThan(170);
    expect(waitTime!.max).toBeGreaterThan(70);
  });
});
