/**
 * The control lane (issue 14): supervisor calls and `stats()` overtake a data backlog on the same
 * path. A million casts wait on main for a slow actor on shard 1 (50 µs each: most of a minute of
 * work); a supervisor on shard 1 still answers `whichChildren`, `countChildren`, `terminateChild`
 * and `restartChild` within the default call timeout, while the backlog is still there. Before the
 * lane, those calls waited behind the casts and timed out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { child, start, type System } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type SlowSink from '../bench/actors/slow-sink.js';
import type Counter from './fixtures/actors/counter.js';

const SINK = new URL('../dist/bench/actors/slow-sink.js', import.meta.url);
const COUNTER = fixtureUrl('actors/counter');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('the control lane', () => {
  it('with 1M casts backlogged to a slow actor on shard 1, stats() and supervisor calls on shard 1 answer (default 5 s timeout)', async () => {
    system = await start({ threads: 2 });
    const sup = await system.supervise({ children: [child<typeof Counter>('counter', COUNTER, { args: 0, thread: 1 })] }, { thread: 1 });
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 50, thread: 1 });
    for (let seq = 0; seq < 1_000_000; seq++) sink.cast({ seq });
    const held = async () => (await system!.stats()).threads[0].pending.find((p) => p.to === 1)?.bytes ?? 0;
    expect(await held()).toBeGreaterThan(1024 * 1024);

    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['counter']);
    expect(await sup.countChildren()).toMatchObject({ active: 1, workers: 1 });
    await sup.terminateChild('counter');
    expect(await sup.countChildren()).toMatchObject({ specs: 1, active: 0 });
    const restarted = await sup.restartChild<typeof Counter>('counter');
    expect(restarted.pid.thread).toBe(1);
    expect(await sup.countChildren()).toMatchObject({ specs: 1, active: 1 });
    // All of that while the flood still waits: the calls overtook it, they did not outlast it.
    expect(await held()).toBeGreaterThan(0);
    // (stop() then waits for the backlog as it always does, up to its own bound, and ends the shard.)
  }, 180_000);
});
