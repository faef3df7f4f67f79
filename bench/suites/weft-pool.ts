/**
 * weft as a `PeerPool`, so the suites drive it with exactly the code that drives the peers: a
 * system with `threads` shards and ACTORS_PER_SHARD adder actors on each (bench/actors/adder.ts);
 * `add(a, b)` is a `call` to an actor chosen by `dispatch`:
 *
 * - `'round-robin'`: the next actor in turn, for many calls in flight;
 * - `'first'`: always the first actor, for one call at a time, as a pool hands sequential tasks to
 *   its first idle worker (the peers' pools do). Alternating shards for sequential calls would keep
 *   three threads spinning on two cores.
 */
import { start, type ActorRef } from '../../src/main/index.js';
import type Adder from '../actors/adder.js';
import type { PeerPool } from '../peers/index.js';

const ADDER = new URL('../actors/adder.js', import.meta.url);
/** More than one actor per shard, so a shard has several mailboxes to serve, as an actor system would. */
export const ACTORS_PER_SHARD = 2;

export async function startWeftPool(threads: number, dispatch: 'round-robin' | 'first' = 'round-robin'): Promise<PeerPool> {
  const system = await start({ threads });
  const actors: Array<ActorRef<typeof Adder>> = [];
  for (let thread = 1; thread <= threads; thread++) {
    for (let i = 0; i < ACTORS_PER_SHARD; i++) actors.push(await system.spawn<typeof Adder>(ADDER, { thread }));
  }
  let next = 0;
  return {
    add(a: number, b: number): Promise<number> {
      if (dispatch === 'first') return actors[0].call({ a, b });
      const actor = actors[next];
      next = next + 1 === actors.length ? 0 : next + 1;
      return actor.call({ a, b });
    },
    close: () => system.stop(),
  };
}

export function weftConfig(threads: number, dispatch: 'round-robin' | 'first' = 'round-robin'): Record<string, unknown> {
  return { shards: threads, actorsPerShard: ACTORS_PER_SHARD, dispatch, spinMicros: 50, mainSpinMicros: 200, transport: 'SharedArrayBuffer rings' };
}
