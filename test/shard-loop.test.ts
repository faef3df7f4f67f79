/**
 * The shard's scheduler (src/worker/shard.ts) lets its event loop run under steady traffic too,
 * not only when it parks: an actor's timer fires while back-to-back calls keep its thread busy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type System } from '../src/main/index.js';
import type Ticker from './fixtures/actors/ticker.js';
import { fixtureUrl } from './helpers.js';

let system: System;
beforeAll(async () => {
  // A shard that spins up to 200 ms for its next frame never parks between back-to-back calls, so
  // parking cannot let its event loop in: only the loop's own yields can.
  system = await start({ threads: 1, spinMicros: 200_000 });
});
afterAll(() => system.stop());

describe('the shard loop', () => {
  it("runs an actor's timers while back-to-back calls keep its thread busy", async () => {
    const ticker = await system.spawn<typeof Ticker>(fixtureUrl('actors/ticker'), { thread: 1 });
    ticker.cast({ type: 'tick', everyMs: 5 });
    const before = await ticker.call('ticks');
    // Back-to-back calls for 300 ms: the shard answers each within microseconds and spins for the next.
    const until = performance.now() + 300;
    let calls = 0;
    while (performance.now() < until) {
      await ticker.call('ping');
      calls++;
    }
    const during = (await ticker.call('ticks')) - before;
    expect(calls).toBeGreaterThan(50); // thousands on a quiet machine, a few hundred beside two CPU hogs
    expect(during).toBeGreaterThanOrEqual(10); // ~60 at 5 ms
  });
});
