/**
 * The hang watchdog (src/main/hang-watch.ts) under a CPU hog: shards that only wait for a core are
 * not taken for hung, even with 8 times more shards than cores, while a shard stuck in a loop is
 * still ended, and one that runs out of heap is told as out of memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitError, isThreadDown, start, type System, type ThreadDownCause } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Counter from './fixtures/actors/counter.js';
import type Saboteur from './fixtures/actors/saboteur.js';

const COUNTER = fixtureUrl('actors/counter');
const SABOTEUR = fixtureUrl('actors/saboteur');

let system: System | undefined;
let hogs: ChildProcess[] = [];
afterEach(async () => {
  for (const hog of hogs) hog.kill('SIGKILL');
  hogs = [];
  await system?.stop();
  system = undefined;
});

/** One busy-looping process per core, beside the test: every shard must wait its turn for a core. */
function hogCores(): void {
  for (let i = 0; i < availableParallelism(); i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

describe('the hang watchdog', () => {
  it('does not take starved shards for hung: 16 shards on 2 cores beside a CPU hog, hangTimeout 100 ms', async () => {
    hogCores();
    const s = (system = await start({ threads: 16, hangTimeout: 100 }));
    const downs: ThreadDownCause[] = [];
    s.on('threadDown', (why) => downs.push(why));
    const counters = await Promise.all(Array.from({ length: 16 }, (_, i) => s.spawn<typeof Counter>(COUNTER, { args: 0, thread: i + 1 })));
    const until = Date.now() + 4000;
    let rounds = 0;
    while (Date.now() < until) {
      await Promise.all(counters.map((counter) => counter.call({ type: 'add', by: 1 }, { timeout: 60_000 })));
      rounds++;
    }
    expect((await s.stats()).threads).toHaveLength(17);
    expect(downs).toEqual([]);
    expect(await counters[15].call({ type: 'get' })).toBe(rounds);
  });

  it('still ends a shard stuck in a loop beside the same hog, and only that one', async () => {
    hogCores();
    const s = (system = await start({ threads: 4, hangTimeout: 200 }));
    const downs: ThreadDownCause[] = [];
    s.on('threadDown', (why) => downs.push(why));
    const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 2 });
    const victim = await s.spawn<typeof Counter>(COUNTER, { args: 1, thread: 2 });
    const pending = victim.call({ type: 'slowAdd', by: 1, ms: 60_000 }, { timeout: 60_000 });
    saboteur.cast('spin');
    const error = (await pending.catch((e: unknown) => e)) as ExitError;
    expect(error).toBeInstanceOf(ExitError);
    expect(isThreadDown(error.reason) && error.reason.threadDown.cause).toBe('hang');
    expect(downs.map((d) => [d.thread, d.cause])).toEqual([[2, 'hang']]);
  });

  it('tells a shard that runs out of heap as out_of_memory, beside the same hog', async () => {
    hogCores();
    const s = (system = await start({ threads: 2, hangTimeout: 1000, resourceLimits: { maxOldGenerationSizeMb: 48 } }));
    const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
    const victim = await s.spawn<typeof Counter>(COUNTER, { args: 1, thread: 1 });
    const pending = victim.call({ type: 'slowAdd', by: 1, ms: 60_000 }, { timeout: 60_000 });
    saboteur.cast('outOfMemory');
    const error = (await pending.catch((e: unknown) => e)) as ExitError;
    expect(isThreadDown(error.reason) && error.reason.threadDown.cause).toBe('out_of_memory');
  });
});
