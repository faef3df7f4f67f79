/**
 * Fuses: the table's blow and heal rules on a fake clock; then, on real threads, melts from actors
 * on both shards racing (counted exactly), every thread seeing a blow at once, run with a fallback,
 * events and real-timer healing, half-open trials, fault injection, bad input, and a fuse that
 * outlives a restarted shard.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FuseError, InvalidArgumentError, start, type System } from '../src/main/index.js';
import { FuseTable } from '../src/shm/fuse-table.js';
import { fixtureUrl } from './helpers.js';
import type Melter from './fixtures/actors/melter.js';
import type Saboteur from './fixtures/actors/saboteur.js';

const MELTER = fixtureUrl('actors/melter');
const SABOTEUR = fixtureUrl('actors/saboteur');
const standard = (maxR: number, maxT: number, reset: number, more: object = {}) => ({ strategy: { standard: { maxR, maxT } }, reset, ...more });

describe('the fuse table, on a fake clock', () => {
  afterEach(() => vi.useRealTimers());

  it('blows on the melt that makes more than maxR within maxT, not on melts spread wider', () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const table = FuseTable.create(4);
    const slot = table.install('svc', { maxR: 2, maxT: 1000, reset: 500, fault: 0, halfOpen: false });
    const { generation } = table.find('svc')!;
    expect(table.melt(slot, generation)).toBe(false);
    vi.advanceTimersByTime(600);
    expect(table.melt(slot, generation)).toBe(false);
    vi.advanceTimersByTime(600); // the first melt is now out of the window
    expect(table.melt(slot, generation)).toBe(false);
    expect(table.melt(slot, generation)).toBe(true); // 3 melts within 1000 ms
    expect(table.counters(slot)).toEqual({ melts: 4, blows: 1, heals: 0 });
    expect(table.melt(slot, generation)).toBe(false); // already blown: no second blow
    // A heal for that blow works once; a reset clears the window.
    expect(table.heal(slot, generation, table.blownAt(slot))).toBe(true);
    expect(table.heal(slot, generation, table.blownAt(slot))).toBe(false);
    table.reset(slot, generation);
    expect(table.melt(slot, generation)).toBe(false);
  });
});

let system: System;
beforeAll(async () => {
  system = await start({ threads: 2, fuses: 8 });
});
afterAll(() => system.stop());

describe('fuses across threads', () => {
  it('melts from actors on both shards racing are counted exactly; every thread sees the blow; it heals after reset', async () => {
    const fuse = system.fuse('racy', standard(200, 60_000, 300));
    const events: string[] = [];
    system.on('blown', ({ name }) => events.push(`blown ${name}`));
    system.on('healed', ({ name }) => events.push(`healed ${name}`));
    const melters = await Promise.all([1, 1, 2, 2].map((thread) => system.spawn<typeof Melter>(MELTER, { thread })));
    await Promise.all(melters.map((m) => m.call({ type: 'melt', name: 'racy', times: 50 })));
    expect(fuse.counters().melts).toBe(200);
    expect(fuse.ask()).toBe('ok'); // 200 melts: not more than maxR
    await melters[3].call({ type: 'melt', name: 'racy', times: 1 });
    expect(fuse.ask()).toBe('blown');
    expect(await melters[0].call({ type: 'ask', name: 'racy' })).toBe('blown');
    expect(await melters[2].call({ type: 'askFree', name: 'racy' })).toBe('blown');
    expect(fuse.counters()).toEqual({ melts: 201, blows: 1, heals: 0 });
    expect((await system.stats()).fuses).toContainEqual({ name: 'racy', state: 'blown', melts: 201, blows: 1, heals: 0 });
    await expect.poll(() => events, { timeout: 3000 }).toEqual(['blown racy', 'healed racy']);
    expect(await melters[2].call({ type: 'ask', name: 'racy' })).toBe('ok');
  });

  it('run: the function while ok (a failure melts and falls back), the fallback without calling it while blown', async () => {
    system.fuse('svc', standard(1, 60_000, 60_000));
    const melter = await system.spawn<typeof Melter>(MELTER, { thread: 2 });
    expect(await melter.call({ type: 'run', name: 'svc', fail: false })).toEqual({ value: 'live', calls: 1 });
    expect(await melter.call({ type: 'run', name: 'svc', fail: true })).toEqual({ value: 'cached', calls: 2 });
    expect(await melter.call({ type: 'run', name: 'svc', fail: true })).toEqual({ value: 'cached', calls: 3 }); // this melt blows it
    expect(await melter.call({ type: 'run', name: 'svc', fail: false })).toEqual({ value: 'cached', calls: 3 }); // not called
    const onMain = system.fuse('svc', standard(1, 60_000, 60_000));
    expect(await onMain.run(async () => 'never', async (error) => (error as Error).name)).toBe('FuseError');
    onMain.reset();
    expect(await onMain.run(async () => 'again', () => 'cached')).toBe('again');
  });

  it('half-open: after healing, the next melt blows it at once; a success closes it', async () => {
    const fuse = system.fuse('trial', standard(3, 60_000, 100, { halfOpen: true }));
    for (let i = 0; i < 4; i++) fuse.melt();
    expect(fuse.ask()).toBe('blown');
    await expect.poll(() => fuse.ask(), { timeout: 3000 }).toBe('ok');
    fuse.melt(); // one melt in the trial
    expect(fuse.ask()).toBe('blown');
    await expect.poll(() => fuse.ask(), { timeout: 3000 }).toBe('ok');
    expect(await fuse.run(() => 'fine', () => 'fallback')).toBe('fine'); // the trial passes
    fuse.melt();
    expect(fuse.ask()).toBe('ok'); // closed again: one melt is not enough
  });

  it('fault injection: the given fraction of asks melts it and answers blown', async () => {
    const fuse = system.fuse('flaky', standard(255, 1, 60_000, { fault: 1 }));
    expect(fuse.ask()).toBe('blown');
    expect(fuse.counters().melts).toBe(1);
    const none = system.fuse('steady', standard(255, 1, 60_000, { fault: 0 }));
    for (let i = 0; i < 100; i++) expect(none.ask()).toBe('ok');
  });

  it('bad input: an unknown name, a second install with other options, bad options, a full table', async () => {
    const melter = await system.spawn<typeof Melter>(MELTER, { thread: 1 });
    expect(await melter.call({ type: 'ask', name: 'nobody' })).toMatchObject({ error: 'FuseError', message: expect.stringMatching(/no fuse is installed as "nobody"/) });
    system.fuse('same', standard(2, 100, 100));
    expect(() => system.fuse('same', standard(3, 100, 100))).toThrow(FuseError);
    expect(() => system.fuse('bad', standard(-1, 100, 100))).toThrow(InvalidArgumentError);
    expect(() => system.fuse('bad', { strategy: {} as never, reset: 1 })).toThrow(/standard/);
    const small = await start({ threads: 1, fuses: 1 });
    try {
      small.fuse('one', standard(1, 1, 1));
      expect(() => small.fuse('two', standard(1, 1, 1))).toThrow(/table is full/);
    } finally {
      await small.stop();
    }
  });

  it('removed: every handle to it throws FuseError', async () => {
    const fuse = system.fuse('gone', standard(1, 1000, 1000));
    fuse.remove();
    await expect.poll(() => {
      try {
        return fuse.ask();
      } catch (error) {
        return (error as Error).name;
      }
    }).toBe('FuseError');
  });
});

describe('a fuse and a shard restart', () => {
  it('a blown fuse stays blown for the restarted shard: the table lives in memory main owns', async () => {
    const local = await start({ threads: 2 });
    try {
      const fuse = local.fuse('kept', standard(0, 60_000, 60_000));
      fuse.melt();
      expect(fuse.ask()).toBe('blown');
      const saboteur = await local.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
      const up = new Promise((resolve) => local.once('threadUp', resolve));
      saboteur.cast('exit');
      await up;
      const melter = await local.spawn<typeof Melter>(MELTER, { thread: 1 });
      expect(await melter.call({ type: 'ask', name: 'kept' })).toBe('blown');
    } finally {
      await local.stop();
    }
  });
});
