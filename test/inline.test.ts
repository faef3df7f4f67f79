/**
 * Inline mode, `start({ threads: 0 })`: no shard, main runs every actor and task. What the actor
 * suites (actors, actors-talk, supervision: each runs in both modes) do not show: where tasks run
 * and when, tasks beside the rings, an abort of a task that cannot be ended with its thread, and
 * that nothing is started besides main; and the stand-in for a thread crash, in a process of its own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, EncodeError, start, type System } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Counter from './fixtures/actors/counter.js';

const COUNTER = fixtureUrl('actors/counter');
const MATH = fixtureUrl('tasks/math');
const PROBE = fixtureUrl('tasks/inline-probe');

let system: System;
beforeAll(async () => {
  system = await start({ threads: 0 });
});
afterAll(() => system.stop());

describe('inline mode', () => {
  it('has no shard: stats list main alone, and every placement puts the actor there', async () => {
    expect(system.threads).toBe(0);
    expect((await system.stats()).threads.map((t) => t.thread)).toEqual([0]);
    for (const thread of [undefined, 0, 1, 7, 'round-robin', 'least-loaded', { key: 'k' }] as const) {
      expect((await system.spawn<typeof Counter>(COUNTER, { args: 0, thread })).pid.thread).toBe(0);
    }
    await expect(system.spawn<typeof Counter>(COUNTER, { args: 0, thread: -1 })).rejects.toThrow(/expected `thread`/);
  });

  it('runs a task on main, in a later turn: never inside run()', async () => {
    const before = (await system.run(PROBE, 'marksHere')) as number;
    const task = system.run(PROBE, 'mark');
    // Still this turn: the task has not run (it would have marked this thread's global object).
    expect((globalThis as { weftInlineMarks?: number }).weftInlineMarks ?? 0).toBe(before);
    expect(await task).toEqual({ isMainThread: true, threadId, marks: before + 1 });
  });

  it('copies task arguments, results and errors as a shard does: the same outcomes, failures included', async () => {
    const shards = await start({ threads: 1 });
    try {
      const outcome = async (s: System, exportName: string, ...args: unknown[]) =>
        s.run(MATH, exportName, ...args).then(
          (value) => ({ value }),
          (error: Error & { code?: unknown; detail?: unknown }) => ({ name: error.name, code: error.code, message: error.message, detail: error.detail }),
        );
      for (const [exportName, ...args] of [['mul', () => 1, 2], ['mul', 6, 7], ['fail', 'why'], ['reject', 'later'], ['throwOdd', 'odd']] as const) {
        expect(await outcome(system, exportName, ...args)).toEqual(await outcome(shards, exportName, ...args));
      }
      expect(await outcome(system, 'fail', 'why')).toMatchObject({ name: 'RangeError', message: 'why' });
    } finally {
      await shards.stop();
    }
    // an actor message that cannot travel is refused at the sender, as across threads
    const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
    expect(() => counter.cast({ type: 'reset', extra: () => 1 } as never)).toThrow(EncodeError);
  });

  it('moves a transferList as a shard would: the caller’s buffer is detached, the task has the bytes', async () => {
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    const pool = system.threadPool({ filename: MATH, name: 'sum' });
    expect(await pool.run(buffer, { transferList: [buffer] })).toBe(10);
    expect(buffer.byteLength).toBe(0);
    const counter = new Int32Array(new SharedArrayBuffer(4));
    expect(await system.threadPool({ filename: MATH, name: 'bump' }).run({ counter, times: 5 })).toBe(5);
    expect(counter[0]).toBe(5); // a SharedArrayBuffer is shared, as with a shard
  });

  it('an aborted task that has started rejects at once and runs on (main cannot be ended); later tasks still run', async () => {
    const ac = new AbortController();
    const pool = system.threadPool({ filename: MATH, name: 'later' });
    const slow = pool.run({ value: 'late', ms: 300 }, { signal: ac.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    ac.abort();
    await expect(slow).rejects.toBeInstanceOf(AbortError);
    expect(await pool.run({ value: 'next', ms: 0 })).toBe('next');
    expect(await system.run(MATH, 'mul', 6, 7)).toBe(42);
  });

  it('maps over items on main', async () => {
    const results: unknown[] = [];
    for await (const value of system.map([1, 2, 3].map((a) => ({ a, b: a })), MATH)) results.push(value);
    expect(results).toEqual([2, 4, 6]);
  });

  it('an exception thrown in an actor\'s timer crashes that actor alone (its supervisor restarts it), not the process', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [fixtureUrl('inline-crash').pathname], { timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ reason: 'thrown in a timer', restarted: 'ping' });
  });

  it('an exception no actor threw still ends the process with status 1, as without weft', async () => {
    const failed = await promisify(execFile)(process.execPath, [fixtureUrl('inline-crash').pathname, 'plain'], { timeout: 30_000 }).then(
      () => undefined,
      (error: { code?: unknown; stdout?: string; stderr?: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect(failed?.stderr).toContain('thrown outside any actor');
  });
});
