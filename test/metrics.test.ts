/**
 * Windowed metrics on real shards: event-loop utilisation, message rates, mailbox high-water,
 * restarts and per-actor figures in `system.stats().window`, and `stats({ reset: true })` starting
 * a new window. Bounds are generous (a loaded 2-core machine): they check behaviour, not speed.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, start, type System } from '../src/main/index.js';
import { StatsWindow, type Snapshot } from '../src/main/stats-window.js';
import type { ThreadStats } from '../src/shm/protocol.js';
import { fixtureUrl } from './helpers.js';
import type Busy from './fixtures/actors/busy.js';
import type Saboteur from './fixtures/actors/saboteur.js';

const BUSY = fixtureUrl('actors/busy');
const SABOTEUR = fixtureUrl('actors/saboteur');

describe('stats().window on real threads', () => {
  let system: System;
  beforeAll(async () => {
    system = await start({ threads: 2 });
  });
  afterAll(async () => {
    await system.stop();
  });

  it('a shard whose actor spins shows a high event-loop utilisation; an idle one a lower', async () => {
    const busy = await system.spawn<typeof Busy>(BUSY, { thread: 1 });
    await system.stats({ reset: true });
    await busy.call({ type: 'spin', ms: 400 }, { timeout: 30_000 });
    const { window } = await system.stats();
    const [, one, two] = window.threads;
    expect(window.ms).toBeGreaterThanOrEqual(390);
    // 400 ms of spinning in a window that is at least that long, at most a few times that on a loaded machine.
    expect(one.elu).toBeGreaterThan(0.2);
    expect(one.elu).toBeLessThanOrEqual(1);
    expect(two.elu).toBeLessThan(one.elu);
    // The lifetime figures carry the raw event-loop time the window was made from.
    const raw = (await system.stats()).threads[1];
    expect(raw.elu.active).toBeGreaterThanOrEqual(390);
  });

  it('message rates count what crossed in the window, and reset starts a new one', async () => {
    const busy = await system.spawn<typeof Busy>(BUSY, { thread: 1 });
    await system.stats({ reset: true });
    for (let i = 0; i < 300; i++) await busy.call({ type: 'ping' });
    const { window } = await system.stats({ reset: true });
    const one = window.threads[1];
    // Each call is one frame in on thread 1 and one reply out (stats' own frames add a couple).
    expect((one.messagesInPerSec * window.ms) / 1000).toBeGreaterThanOrEqual(299);
    expect((one.messagesOutPerSec * window.ms) / 1000).toBeGreaterThanOrEqual(299);
    expect((window.threads[0].messagesInPerSec * window.ms) / 1000).toBeGreaterThanOrEqual(299);
    // The window was just reset: only the stats requests themselves have crossed since.
    const after = await system.stats();
    expect((after.window.threads[1].messagesInPerSec * after.window.ms) / 1000).toBeLessThan(10);
  });

  it('the mailbox high-water remembers a backlog that has drained by the time of the read', async () => {
    const busy = await system.spawn<typeof Busy>(BUSY, { thread: 2 });
    await system.stats({ reset: true });
    for (let i = 0; i < 20; i++) busy.cast({ type: 'sleep', ms: 5 });
    await busy.call({ type: 'ping' }, { timeout: 30_000 }); // behind all 20: the mailbox is empty after it
    const { window, threads } = await system.stats({ reset: true });
    expect(threads[2].mailboxDepth).toBe(0);
    expect(window.threads[2].mailboxDepth).toBe(0);
    // The first cast made the actor busy; the other 19 and the call waited behind it.
    expect(window.threads[2].mailboxHighWater).toBeGreaterThanOrEqual(19);
    // A new window: nothing has waited since.
    expect((await system.stats()).window.threads[2].mailboxHighWater).toBe(0);
  });

  it('stats() refuses options it does not know', async () => {
    await expect(system.stats({ rest: true } as never)).rejects.toThrow(InvalidArgumentError);
    await expect(system.stats('reset' as never)).rejects.toThrow(/expected the options of stats\(\) to be \{ reset\? \}/);
  });

  it('without metrics.actors no actor is metered', async () => {
    const { window, threads } = await system.stats();
    expect(window.actors).toEqual([]);
    for (const thread of threads) expect(thread.actorMetrics).toBeUndefined();
  });
});

describe('restarts and per-actor figures', () => {
  it('a shard restart counts in the window of its thread, and its counters start again', async () => {
    const system = await start({ threads: 1 });
    try {
      await system.stats({ reset: true });
      const saboteur = await system.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
      const up = once(system, 'threadUp');
      saboteur.cast('exit');
      await up;
      const { window } = await system.stats();
      expect(window.threads[1].restarts).toBe(1);
      expect(window.threads[1].restartsTotal).toBe(1);
      // The counters began again at zero: no negative rate from a counter that went back.
      expect(window.threads[1].messagesInPerSec).toBeGreaterThanOrEqual(0);
      expect(window.threads[0].restarts).toBe(0);
    } finally {
      await system.stop();
    }
  });

  it('with metrics.actors, each actor reports its message rate and the time in its handlers', async () => {
    const system = await start({ threads: 1, metrics: { actors: true } });
    try {
      const busy = await system.spawn<typeof Busy>(BUSY, { thread: 1, name: 'busy' });
      const onMain = await system.spawn<typeof Busy>(BUSY, { thread: 0 });
      await system.stats({ reset: true });
      for (let i = 0; i < 4; i++) await busy.call({ type: 'sleep', ms: 50 });
      await onMain.call({ type: 'spin', ms: 30 });
      const { window, threads } = await system.stats();
      const shardActor = window.actors.find((actor) => actor.thread === 1 && actor.serial === busy.pid.serial);
      expect(shardActor).toBeDefined();
      expect(shardActor!.handlerMs).toBeGreaterThanOrEqual(195); // 4 × 50 ms awaited inside the handler
      expect((shardActor!.messagesPerSec * window.ms) / 1000).toBeCloseTo(4, 5);
      expect(shardActor!.busy).toBeGreaterThan(0);
      const mainActor = window.actors.find((actor) => actor.thread === 0 && actor.serial === onMain.pid.serial);
      expect(mainActor!.handlerMs).toBeGreaterThanOrEqual(29);
      expect(threads[1].actorMetrics!.find((actor) => actor.serial === busy.pid.serial)!.messages).toBe(4);
    } finally {
      await system.stop();
    }
  });

  it('start() checks the new options and echoes a bad value', async () => {
    await expect(start({ metrics: { actors: 'yes' } as never })).rejects.toThrow(/expected `metrics.actors` to be true or false, got/);
    await expect(start({ metrics: { actor: true } as never })).rejects.toThrow(/unknown field `metrics.actor`/);
    await expect(start({ inspect: { port: 70_000 } })).rejects.toThrow(/expected `inspect.port` to be an integer from 0 to 65535/);
    await expect(start({ inspect: { host: '0.0.0.0', port: 1 } as never })).rejects.toThrow(/expected `inspect` to be \{ port \}/);
    await expect(start({ openTelemetry: 1 as never })).rejects.toThrow(/expected `openTelemetry` to be true or false/);
  });
});

describe('StatsWindow', () => {
  const thread = (at: Partial<ThreadStats>): ThreadStats => ({ thread: 1, actors: 0, mailboxDepth: 0, messagesIn: 0, messagesOut: 0, parks: 0, notifies: 0, overflowed: 0, deadLetters: 0, pending: [], elu: { idle: 0, active: 0 }, mailboxPeak: 0, ...at });
  const snap = (at: number, stats: Partial<ThreadStats>, restarts = 0): Snapshot => ({ at, threads: [thread(stats)], restarts: [0, restarts] });

  it('a peak seen by another reader counts in every window, and each reset forgets only its own', () => {
    const mine = new StatsWindow(0);
    const theirs = new StatsWindow(0);
    // Their read saw a backlog of 7 (and the thread started a new peak after it).
    const read = snap(500, { mailboxPeak: 7 });
    mine.observe(read);
    theirs.view(read, true);
    const later = snap(1000, { mailboxPeak: 2, messagesIn: 100 });
    expect(mine.view(later, false).threads[0].mailboxHighWater).toBe(7);
    expect(theirs.view(later, false).threads[0].mailboxHighWater).toBe(2);
  });

  it('ELU and rates are differences over the window; a restart starts the thread from zero', () => {
    const window = new StatsWindow(0);
    window.view(snap(1000, { messagesIn: 1000, elu: { idle: 500, active: 500 } }), true);
    const view = window.view(snap(2000, { messagesIn: 3000, elu: { idle: 750, active: 1250 } }), false);
    expect(view.ms).toBe(1000);
    expect(view.threads[0].messagesInPerSec).toBe(2000);
    expect(view.threads[0].elu).toBe(0.75);
    // The thread restarted: its counters are lower than the baseline's, and count from zero.
    const restarted = window.view(snap(2000, { messagesIn: 40, elu: { idle: 10, active: 30 } }, 1), false);
    expect(restarted.threads[0].messagesInPerSec).toBe(40);
    expect(restarted.threads[0].elu).toBe(0.75);
    expect(restarted.threads[0].restarts).toBe(1);
  });
});
