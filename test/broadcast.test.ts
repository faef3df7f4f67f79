/**
 * Broadcast and a task module's per-thread life, on real shards: `pool.broadcast` and
 * `system.broadcast` run once on every thread and answer in thread order; a failure on one thread
 * rejects while the others still ran; `setup` runs once per thread before the module's first task
 * (again on a thread restarted after a crash), `teardown` once per thread as the pool or system
 * stops. The fixture logs setup and teardown to a file, read after the threads are gone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitError, ModuleError, PoolClosedError, SystemStoppedError, ThreadPool, isThreadDown, start } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const LIFECYCLE = fixtureUrl('tasks/lifecycle');
const SETUP_FAILS = fixtureUrl('tasks/setup-fails');

const dir = mkdtempSync(join(tmpdir(), 'weft-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let logs = 0;

/** A fresh log file, named to the threads started from now on. */
function newLog(): string {
  const file = join(dir, `log-${++logs}.txt`);
  process.env.WEFT_LIFECYCLE_LOG = file;
  return file;
}

/** The threads (Node thread ids) that logged setup, and teardown, each sorted. */
function lifecycle(file: string): { setup: number[]; teardown: number[] } {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  const of = (what: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${what} `))
      .map((line) => Number(line.slice(what.length + 1)))
      .sort((a, b) => a - b);
  return { setup: of('setup'), teardown: of('teardown') };
}

interface Where {
  shard: number;
  thread: number;
  ready: boolean;
  runs: number;
}

describe('broadcast', () => {
  it('pool.broadcast runs once on every thread and answers in thread order', async () => {
    newLog();
    const pool = new ThreadPool({ filename: LIFECYCLE, maxThreads: 3 });
    try {
      const first = (await pool.broadcast(null, { name: 'where' })) as Where[];
      expect(first.map((w) => w.shard)).toEqual([1, 2, 3]);
      expect(first.every((w) => w.ready && w.runs === 1)).toBe(true);
      const second = (await pool.broadcast(null, { name: 'where' })) as Where[];
      expect(second.map((w) => [w.shard, w.runs])).toEqual([[1, 2], [2, 2], [3, 2]]);
    } finally {
      await pool.destroy();
    }
  });

  it('a failure on one thread rejects with that error; the other threads still ran', async () => {
    newLog();
    const pool = new ThreadPool({ filename: LIFECYCLE, maxThreads: 3 });
    try {
      const error = await pool.broadcast(2, { name: 'failOn' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe('failed on shard 2');
      // failOn counted a run on each thread, the failing one too: `where` is each thread's second.
      const after = (await pool.broadcast(null, { name: 'where' })) as Where[];
      expect(after.map((w) => w.runs)).toEqual([2, 2, 2]);
    } finally {
      await pool.destroy();
    }
  });

  it('system.broadcast runs on every shard; refused once the system stopped', async () => {
    newLog();
    const system = await start({ threads: 2 });
    try {
      const all = (await system.broadcast(LIFECYCLE, 'where')) as Where[];
      expect(all.map((w) => w.shard)).toEqual([1, 2]);
    } finally {
      await system.stop();
    }
    await expect(system.broadcast(LIFECYCLE, 'where')).rejects.toBeInstanceOf(SystemStoppedError);
  });

  it('a destroyed pool refuses a broadcast with PoolClosedError', async () => {
    const pool = new ThreadPool({ filename: LIFECYCLE, maxThreads: 1 });
    await pool.destroy();
    await expect(pool.broadcast(null, { name: 'where' })).rejects.toBeInstanceOf(PoolClosedError);
  });
});

describe('setup and teardown', () => {
  it('setup runs once per thread before the first task there; teardown once per thread as the pool is destroyed', async () => {
    const log = newLog();
    const pool = new ThreadPool({ filename: LIFECYCLE, maxThreads: 2 });
    const answers = (await Promise.all(Array.from({ length: 40 }, () => pool.run(null, { name: 'where' })))) as Where[];
    expect(answers.every((w) => w.ready)).toBe(true);
    await pool.broadcast(null, { name: 'where' }); // so both threads have run the module
    const { setup } = lifecycle(log);
    expect(setup).toHaveLength(2);
    expect(new Set(setup).size).toBe(2);
    expect(lifecycle(log).teardown).toEqual([]);
    await pool.destroy();
    expect(lifecycle(log)).toEqual({ setup, teardown: setup });
  });

  it('teardown runs as the system stops, once per thread, for a pool on its shards too', async () => {
    const log = newLog();
    const system = await start({ threads: 2 });
    const pool = system.threadPool({ filename: LIFECYCLE });
    await pool.broadcast(null, { name: 'where' });
    await system.broadcast(LIFECYCLE, 'where'); // the same module from another dispatcher: no second setup
    const { setup } = lifecycle(log);
    expect(setup).toHaveLength(2);
    expect(new Set(setup).size).toBe(2);
    await system.stop();
    expect(lifecycle(log)).toEqual({ setup, teardown: setup });
  });

  it('a thread restarted after a crash runs setup again (the crashed one ran no teardown)', async () => {
    const log = newLog();
    const pool = new ThreadPool({ filename: LIFECYCLE, maxThreads: 1 });
    let restarted = -1;
    try {
      expect(((await pool.run(null, { name: 'where' })) as Where).runs).toBe(1);
      const crash = await pool.run(null, { name: 'exit' }).catch((e: unknown) => e);
      expect(crash).toBeInstanceOf(ExitError);
      expect(isThreadDown((crash as ExitError).reason)).toBe(true);
      const again = (await pool.run(null, { name: 'where' })) as Where;
      expect(again).toMatchObject({ ready: true, runs: 1 }); // a new thread: a fresh module
      restarted = again.thread;
      expect(lifecycle(log).setup).toHaveLength(2);
    } finally {
      await pool.destroy();
    }
    const { setup, teardown } = lifecycle(log);
    expect(new Set(setup).size).toBe(2);
    // The restarted thread tore down; the crashed one could not.
    expect(teardown).toEqual([restarted]);
  });

  it('a setup that throws fails the task with ModuleError (its cause what it threw); the next task tries setup again', async () => {
    const pool = new ThreadPool({ filename: SETUP_FAILS, maxThreads: 1 });
    try {
      const error = await pool.run(null).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModuleError);
      expect((error as Error).message).toMatch(/setup\(\) of task module .* failed: .*no config yet/);
      expect(await pool.run(null)).toBe(2);
    } finally {
      await pool.destroy();
    }
  });
});
