/**
 * Cancellation the handler can see (issue 17), on real threads: a task function gets `{ signal }`
 * after its arguments, aborted in its thread when the caller aborts; a task that honours it ends
 * with its thread intact (same thread id, no restart), and only one that ignores it for
 * `abortGrace` ms has its thread ended, that thread only. Actors get `ctx.signal` for the call in
 * hand, aborted when the caller's `call(msg, { signal })` aborts or its timeout passes. Bounds catch
 * hangs; they do not measure speed.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { AbortError, CallTimeoutError, ExitError, InvalidArgumentError, InvalidOptionTypeError, ThreadPool, start, type ActorRef, type CallContext, type CallOptions, type System, type TaskOptions, type ThreadDownCause } from '../src/main/index.js';
import { fixtureUrl, sleep, until } from './helpers.js';

import type Patient from './fixtures/actors/patient.js';

const CANCEL = fixtureUrl('tasks/cancel');
const PATIENT = fixtureUrl('actors/patient');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

/** Restarts per shard so far, from stats(). */
async function restarts(s: System): Promise<number[]> {
  return (await s.stats()).window.threads.filter((t) => t.thread !== 0).map((t) => t.restartsTotal);
}

describe('a task sees its signal', () => {
  it('every task function gets { signal } after its own arguments (system.run and ThreadPool.run)', async () => {
    system = await start({ threads: 1 });
    expect(await system.run(CANCEL, 'argumentsSeen', 1, 2)).toEqual({ count: 3, lastHasSignal: true });
    const pool = system.threadPool({ filename: CANCEL, name: 'argumentsSeen' });
    expect(await pool.run('task')).toEqual({ count: 2, lastHasSignal: true });
  });

  it('the abort reaches the task in its thread: one that waits only for its signal answers, and its thread is kept', async () => {
    system = await start({ threads: 1, abortGrace: 300 });
    const pool = system.threadPool({ filename: CANCEL });
    await pool.ready();
    const controller = new AbortController();
    // The task does nothing but wait for its signal: only an abort in its thread lets it answer.
    const task = pool.run(null, { name: 'waitForAbort', signal: controller.signal });
    await sleep(50);
    controller.abort('stop now');
    await expect(task).rejects.toBeInstanceOf(AbortError);
    await expect(task).rejects.toMatchObject({ cause: 'stop now' });
    // Past the 300 ms grace: had its signal not aborted there, its thread would have been ended.
    await sleep(800);
    expect(await restarts(system)).toEqual([0]);
  });
});

describe('a task that honours its signal keeps its thread', () => {
  it('aborted mid-run, it rejects at once with AbortError and its thread is not restarted', async () => {
    system = await start({ threads: 2, abortGrace: 10_000 });
    let downs = 0;
    system.on('threadDown', () => downs++);
    const pool = system.threadPool({ filename: CANCEL });
    await pool.ready();
    // Two tasks of 100 ms go one to each thread (an unmeasured thread takes one task at a time).
    const before = new Set(await Promise.all([pool.run(100, { name: 'ignore' }), pool.run(100, { name: 'ignore' })]));
    expect(before.size).toBe(2);
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const tasks = controllers.map((controller) => pool.run(60_000, { name: 'honour', signal: controller.signal }));
    for (const task of tasks) task.catch(() => undefined);
    await sleep(100);
    const began = performance.now();
    for (const controller of controllers) controller.abort();
    for (const task of tasks) await expect(task).rejects.toBeInstanceOf(AbortError);
    // At once: far below the 10 s grace and the 60 s the tasks would have run.
    expect(performance.now() - began).toBeLessThan(3000);
    // Each honoured its signal: the pool goes on with the same threads, none restarted.
    const after = await Promise.all(Array.from({ length: 10 }, () => pool.run(null, { name: 'where' })));
    for (const id of after) expect(before.has(id)).toBe(true);
    expect(downs).toBe(0);
    expect(await restarts(system)).toEqual([0, 0]);
  });

  it('the same on a ThreadPool of its own: the thread ids stay', async () => {
    const pool = new ThreadPool({ filename: CANCEL, maxThreads: 1, abortGrace: 10_000 });
    try {
      const before = await pool.run(null, { name: 'where' });
      const controller = new AbortController();
      const task = pool.run(60_000, { name: 'honour', signal: controller.signal });
      await sleep(50);
      controller.abort();
      await expect(task).rejects.toBeInstanceOf(AbortError);
      expect(await pool.run(null, { name: 'where' })).toBe(before);
    } finally {
      await pool.destroy();
    }
  });
});

describe('an answer main has not read yet counts', () => {
  it('a task that honoured its signal keeps its thread even if main was too busy to read its answer before the grace ran out', async () => {
    system = await start({ threads: 1, abortGrace: 100 });
    const pool = system.threadPool({ filename: CANCEL });
    await pool.ready();
    const controller = new AbortController();
    const task = pool.run(60_000, { name: 'honour', signal: controller.signal });
    task.catch(() => undefined);
    await sleep(50);
    controller.abort();
    // Main's event loop held past the grace: the answer waits in the ring, unread, as the timer falls due.
    const until = Date.now() + 400;
    while (Date.now() < until);
    await expect(task).rejects.toBeInstanceOf(AbortError);
    await sleep(500);
    expect(await restarts(system)).toEqual([0]);
  });
});

describe('a task that ignores its signal past abortGrace', () => {
  it('has only its own thread ended, with a reason; a task on the other thread finishes there', async () => {
    system = await start({ threads: 2, abortGrace: 200 });
    const downs: ThreadDownCause[] = [];
    system.on('threadDown', (cause) => downs.push(cause));
    const pool = system.threadPool({ filename: CANCEL });
    await pool.ready();
    const controller = new AbortController();
    const ignoring = pool.run(60_000, { name: 'ignore', signal: controller.signal });
    ignoring.catch(() => undefined);
    await sleep(30);
    const honest = pool.run(800, { name: 'honour' }); // on the other thread: the first is stalled
    await sleep(100);
    controller.abort();
    await expect(ignoring).rejects.toBeInstanceOf(AbortError);
    const otherThreadId = await honest; // finished on its own thread, not rerun, not rejected
    await until(() => downs.length === 1, 10_000, 'the ignoring task’s thread to be ended');
    expect(downs[0].cause).toBe('aborted');
    expect(downs[0].error).toBeInstanceOf(AbortError);
    expect(downs[0].error?.message).toMatch(/ignored its aborted signal for 200 ms/);
    await until(async () => (await restarts(system!)).reduce((a, b) => a + b) === 1, 10_000, 'the thread to come back');
    const perShard = await restarts(system);
    expect(perShard[downs[0].thread - 1]).toBe(1);
    expect(perShard.filter((n) => n === 0)).toHaveLength(1);
    // The other thread is the same one: it still answers with the id the honest task had.
    const ids = new Set(await Promise.all(Array.from({ length: 20 }, () => pool.run(null, { name: 'where' }))));
    expect(ids.has(otherThreadId)).toBe(true);
  });

  it('within the grace it does not end its thread', async () => {
    system = await start({ threads: 1, abortGrace: 5000 });
    let downs = 0;
    system.on('threadDown', () => downs++);
    const pool = system.threadPool({ filename: CANCEL });
    await pool.ready();
    const controller = new AbortController();
    const task = pool.run(300, { name: 'ignore', signal: controller.signal }); // ends by itself in 300 ms
    await sleep(50);
    controller.abort();
    await expect(task).rejects.toBeInstanceOf(AbortError);
    await sleep(600);
    expect(downs).toBe(0);
    expect(await pool.run(null, { name: 'where' })).toEqual(expect.any(Number));
  });
});

describe('abortGrace is checked', () => {
  it('start() refuses a bad abortGrace', async () => {
    await expect(start({ threads: 1, abortGrace: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(start({ threads: 1, abortGrace: Number.NaN })).rejects.toThrow(/`abortGrace` to be a number from 0 to 2147483647, got: `NaN` \(number\)/);
  });

  it('ThreadPool refuses a bad abortGrace with InvalidOptionTypeError', () => {
    expect(() => new ThreadPool({ filename: CANCEL, abortGrace: 'soon' as unknown as number })).toThrow(InvalidOptionTypeError);
  });
});

describe('an actor sees its caller give up (ctx.signal)', () => {
  for (const thread of [1, 0]) {
    const where = thread === 0 ? 'on main, called from main' : 'on a shard';
    it(`${where}: the caller's abort rejects at once and aborts the handler's signal`, async () => {
      system = await start({ threads: 1 });
      const actor = await system.spawn<typeof Patient>(PATIENT, { thread });
      const controller = new AbortController();
      const call = actor.call({ type: 'wait', ms: 60_000 }, { signal: controller.signal, timeout: Infinity });
      await sleep(50);
      controller.abort('enough');
      await expect(call).rejects.toBeInstanceOf(AbortError);
      await expect(call).rejects.toMatchObject({ cause: 'enough' });
      // The handler saw it and answered; that late reply was dropped, and the actor goes on.
      await until(async () => ((await actor.call({ type: 'seen' })) as unknown[]).length === 1, 10_000, 'the handler to see its signal');
      expect(await actor.call({ type: 'seen' })).toEqual([{ why: 'AbortError', early: false }]);
    });

    it(`${where}: the call's timeout aborts the handler's signal with CallTimeoutError`, async () => {
      system = await start({ threads: 1 });
      const actor = await system.spawn<typeof Patient>(PATIENT, { thread });
      await expect(actor.call({ type: 'wait', ms: 60_000 }, { timeout: 100 })).rejects.toBeInstanceOf(CallTimeoutError);
      await until(async () => ((await actor.call({ type: 'seen' })) as unknown[]).length === 1, 10_000, 'the handler to see its signal');
      expect(await actor.call({ type: 'seen' })).toEqual([{ why: 'CallTimeoutError', early: false }]);
    });
  }

  it('a call given up on while it waits in the mailbox is handled with its signal already aborted', async () => {
    system = await start({ threads: 1 });
    const actor = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    const spinning = actor.call({ type: 'spin', ms: 300 });
    const controller = new AbortController();
    const queued = actor.call({ type: 'wait', ms: 60_000 }, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(queued).rejects.toBeInstanceOf(AbortError);
    expect(await spinning).toBe('spun');
    await until(async () => ((await actor.call({ type: 'seen' })) as unknown[]).length === 1, 10_000, 'the queued call to be handled');
    expect(await actor.call({ type: 'seen' })).toEqual([{ why: 'AbortError', early: true }]);
  });

  it('a call with a signal already aborted rejects without being sent', async () => {
    system = await start({ threads: 1 });
    const actor = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    const before = (await actor.call({ type: 'calls' })) as number;
    await expect(actor.call({ type: 'wait', ms: 10 }, { signal: AbortSignal.abort('no') })).rejects.toMatchObject({ name: 'AbortError', cause: 'no' });
    await expect(system.call(actor.pid, { type: 'wait', ms: 10 }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(await actor.call({ type: 'calls' })).toBe(before + 1); // only this count itself was handled
  });

  it('every call settles once: an abort after the reply, a thread that crashes, a system that stops', async () => {
    system = await start({ threads: 1 });
    const actor = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    const after = new AbortController();
    expect(await actor.call({ type: 'wait', ms: 1 }, { signal: after.signal })).toBe('finished');
    after.abort(); // nothing left to abort
    const crash = new AbortController();
    const waiting = actor.call({ type: 'wait', ms: 60_000 }, { signal: crash.signal, timeout: Infinity });
    waiting.catch(() => undefined);
    await system.spawn<typeof Patient>(PATIENT, { thread: 1 }).then((other) => other.call({ type: 'crash' }));
    await expect(waiting).rejects.toBeInstanceOf(ExitError);
    crash.abort(); // after the crash: nothing happens
    await until(async () => (await restarts(system!))[0] === 1, 10_000, 'the thread to come back');
    const fresh = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    const stop = new AbortController();
    const pending = fresh.call({ type: 'wait', ms: 60_000 }, { signal: stop.signal, timeout: Infinity });
    pending.catch(() => undefined);
    await sleep(20);
    await system.stop();
    await expect(pending).rejects.toBeInstanceOf(Error);
    stop.abort();
    system = undefined;
  });

  it('refuses a signal that is not an AbortSignal', async () => {
    system = await start({ threads: 1 });
    const actor = await system.spawn<typeof Patient>(PATIENT, { thread: 1 });
    await expect(actor.call({ type: 'calls' }, { signal: 'stop' as unknown as AbortSignal })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('types', () => {
  it('call takes { timeout?, signal? }; ctx.signal and a task’s { signal } are AbortSignals', () => {
    expectTypeOf<CallOptions>().toEqualTypeOf<{ timeout?: number; signal?: AbortSignal }>();
    expectTypeOf<CallContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<TaskOptions['signal']>().toEqualTypeOf<AbortSignal>();
    const call = (ref: ActorRef<typeof Patient>) => {
      void ref.call({ type: 'calls' }, { signal: AbortSignal.timeout(10), timeout: 100 });
      // @ts-expect-error a signal is an AbortSignal, not a string
      void ref.call({ type: 'calls' }, { signal: 'stop' });
    };
    expect(typeof call).toBe('function');
  });
});
