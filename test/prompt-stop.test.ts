/**
 * Every stop is prompt (issue 14): a 'kill' ends an actor even while its `terminate` hangs, so a
 * supervisor stops such a child within its `shutdown` ms and `system.stop()` is bounded by the
 * shutdown times in its trees, not by 10 s waits; on real shards.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { child, start, supervisorChild, type SupervisorSpec } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Stuck from './fixtures/actors/stuck.js';
import type Counter from './fixtures/actors/counter.js';
import type Saboteur from './fixtures/actors/saboteur.js';
import type Tally from './fixtures/actors/tally.js';

const STUCK = fixtureUrl('actors/stuck');
const COUNTER = fixtureUrl('actors/counter');
const SABOTEUR = fixtureUrl('actors/saboteur');
const TALLY = fixtureUrl('actors/tally');

/** `depth` nested supervisors, each with a child whose terminate never settles (shutdown: 100 ms). */
function tree(depth: number): SupervisorSpec {
  const children = [child<typeof Stuck>(`stuck-${depth}`, STUCK, { shutdown: 100, thread: (depth % 2) + 1 })];
  return depth === 1 ? { children } : { children: [...children, supervisorChild(`level-${depth - 1}`, tree(depth - 1), { thread: 1 })] };
}

describe("'kill' during terminate", () => {
  it('ends a child whose terminate never settles within its shutdown time; its thread runs on', async () => {
    const system = await start({ threads: 2 });
    try {
      const sup = await system.supervise({ children: [child<typeof Stuck>('stuck', STUCK, { shutdown: 200, thread: 2 })] }, { thread: 1 });
      const [{ pid }] = await sup.whichChildren();
      const { down } = system.monitor(pid!);
      const began = performance.now();
      await sup.stop();
      // 200 ms of shutdown, then the kill ends it at once (before: 200 ms + a 10 s wait for an EXIT).
      expect(performance.now() - began).toBeLessThan(5000);
      // Main hears of the exit as it begins ('shutdown'); its links and monitors may hear 'killed'.
      expect(['shutdown', 'killed']).toContain((await down).reason);
      // The thread that still runs the stuck terminate serves other actors.
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 1, thread: 2 });
      expect(await counter.call({ type: 'add', by: 1 })).toBe(2);
    } finally {
      await system.stop();
    }
  });

  it('system.stop() with 3 nested supervisors of stuck children finishes in about their shutdown times, not 10 s each', async () => {
    const system = await start({ threads: 2 });
    await system.supervise(tree(3), { thread: 2 });
    const began = performance.now();
    await system.stop();
    // Bound: 3 × 100 ms of shutdown plus messaging (before: 20 s and more).
    expect(performance.now() - began).toBeLessThan(5000);
  });
});

describe("stop after 'fatal'", () => {
  it('finishes promptly when a supervisor on a surviving shard had a child on the dead one', async () => {
    const system = await start({ threads: 2, threadRestarts: { maxRestarts: 0, maxSeconds: 10 } });
    const sup = await system.supervise({ children: [child<typeof Saboteur>('saboteur', SABOTEUR, { thread: 2 })] }, { thread: 1 });
    const [{ pid }] = await sup.whichChildren();
    const fatal = new Promise((resolve) => system.once('fatal', resolve));
    system.cast(pid!, 'exit');
    await fatal;
    const began = performance.now();
    await system.stop();
    // Before: 10 s, waiting for the EXIT of a child whose thread was already gone.
    expect(performance.now() - began).toBeLessThan(5000);
  });
});

describe('casts sent just before stop()', () => {
  it('are handled by an actor on main as by one on a shard, none dead-lettered', async () => {
    const system = await start({ threads: 1 });
    const log = join(mkdtempSync(join(tmpdir(), 'weft-stop-')), 'log');
    const onMain = await system.spawn<typeof Tally>(TALLY, { args: log, thread: 0 });
    const onShard = await system.spawn<typeof Tally>(TALLY, { args: log, thread: 1 });
    let deadLetters = 0;
    system.on('deadLetter', () => deadLetters++);
    for (let i = 0; i < 1000; i++) {
      onMain.cast('one');
      onShard.cast('one');
    }
    await system.stop();
    expect(readFileSync(log, 'utf8').trim().split('\n').sort()).toEqual(['0 1000', '1 1000']);
    expect(deadLetters).toBe(0);
  });
});
