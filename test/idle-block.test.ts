/**
 * An idle shard blocks in `Atomics.wait` (src/worker/idle-block.ts), and nothing it owes waits on
 * that: a frame or an interrupt wakes it, work its event loop can see (a ref'd timer) keeps it from
 * blocking at all, and work it cannot see (an unref'd timer) waits at most `idleBlockMs`. Each test
 * uses a block long enough (60 s where it matters) that a wrong answer shows as a timeout, not as
 * a few ms of lag.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { start, type System } from '../src/main/index.js';
import { InvalidArgumentError } from '../src/shm/errors.js';
import type Sleeper from './fixtures/actors/sleeper.js';
import { fixtureUrl, sleep } from './helpers.js';

const SLEEPER = fixtureUrl('actors/sleeper');
const MATH = fixtureUrl('tasks/math').href;
const LONG_BLOCK = 60_000;

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('idleBlockMs', () => {
  it('is checked: a number of ms from 0 to 60000', async () => {
    for (const bad of [-1, 60_001, Number.NaN, '5' as unknown as number]) {
      await expect(start({ threads: 1, idleBlockMs: bad })).rejects.toThrow(InvalidArgumentError);
    }
  });

  it('a blocked shard answers a call at once: the frame rings it awake', async () => {
    system = await start({ threads: 1, idleBlockMs: LONG_BLOCK });
    const actor = await system.spawn<typeof Sleeper>(SLEEPER, { thread: 1 });
    for (let round = 0; round < 5; round++) {
      await sleep(50); // long past the spin: the shard is blocked
      const began = performance.now();
      expect(await actor.call('fired?', { timeout: 10_000 })).toBe(false);
      expect(performance.now() - began).toBeLessThan(5_000);
    }
  });

  it('a ref\'d timer in an actor keeps the shard from blocking: it fires on time, with no frame to wake it', async () => {
    system = await start({ threads: 1, idleBlockMs: LONG_BLOCK });
    const actor = await system.spawn<typeof Sleeper>(SLEEPER, { thread: 1 });
    actor.cast({ type: 'timer', ms: 20, unref: false });
    await sleep(1_000);
    // Had the shard blocked with the timer pending, the call's frame would wake it and be answered
    // before the timer's callback had its turn.
    expect(await actor.call('fired?')).toBe(true);
  });

  it('an unref\'d timer, which the shard cannot see, waits at most idleBlockMs', async () => {
    system = await start({ threads: 1, idleBlockMs: 5 });
    const actor = await system.spawn<typeof Sleeper>(SLEEPER, { thread: 1 });
    actor.cast({ type: 'timer', ms: 20, unref: true });
    await sleep(1_000);
    expect(await actor.call('fired?')).toBe(true);
  });

  it('with idleBlockMs 0 the shard never blocks: an unref\'d timer fires on time', async () => {
    system = await start({ threads: 1, idleBlockMs: 0 });
    const actor = await system.spawn<typeof Sleeper>(SLEEPER, { thread: 1 });
    actor.cast({ type: 'timer', ms: 20, unref: true });
    await sleep(1_000);
    expect(await actor.call('fired?')).toBe(true);
  });

  it('the block is real: with a long one, an unref\'d timer waits for the next frame', async () => {
    // The other side of the two tests above, so that they cannot pass with no block at all.
    system = await start({ threads: 1, idleBlockMs: LONG_BLOCK });
    const actor = await system.spawn<typeof Sleeper>(SLEEPER, { thread: 1 });
    actor.cast({ type: 'timer', ms: 20, unref: true });
    await sleep(1_000);
    expect(await actor.call('fired?')).toBe(false);
    await sleep(200); // the call's frame woke the shard; its loop ran the timer after the reply
    expect(await actor.call('fired?')).toBe(true);
  });

  it('a task that travels on the port (a transferList) reaches a blocked shard at once: main rings it', async () => {
    system = await start({ threads: 1, idleBlockMs: LONG_BLOCK });
    const pool = system.threadPool({ filename: MATH });
    expect(await pool.run({ a: 1, b: 2 })).toBe(3); // the module is loaded
    for (let round = 0; round < 3; round++) {
      // A task through the rings, handled by the shard's loop, which then finds nothing pending
      // and blocks (the first task was answered while the loop was parked on the module's load).
      expect(await pool.run({ a: round, b: 0 })).toBe(round);
      await sleep(50);
      const moved = new ArrayBuffer(8);
      const began = performance.now();
      expect(await pool.run({ a: round, b: 1, moved }, { transferList: [moved] })).toBe(round + 1);
      expect(performance.now() - began).toBeLessThan(5_000);
    }
    await pool.destroy();
  });
});
