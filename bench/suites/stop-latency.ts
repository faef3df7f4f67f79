/**
 * stop-latency: how long `system.stop()` takes when the system holds three nested supervisors whose
 * children's `terminate` never settles, each child with `shutdown: 100`. A bounded stop kills each
 * such child 100 ms after asking it to stop; the target is under a second for the whole system.
 */
import { child, start, supervisorChild, type SupervisorSpec } from '../../src/main/index.js';
import type { Suite } from '../harness.js';
import type Stuck from '../actors/stuck.js';

const STUCK = new URL('../actors/stuck.js', import.meta.url);
const ROUNDS = { full: 5, quick: 1 };

function tree(depth: number): SupervisorSpec {
  const children = [child<typeof Stuck>(`stuck-${depth}`, STUCK, { shutdown: 100 })];
  return depth === 1 ? { children } : { children: [...children, supervisorChild(`level-${depth - 1}`, tree(depth - 1))] };
}

export const suite: Suite = {
  name: 'stop-latency',
  title: 'system.stop() with 3 nested supervisors whose children never finish terminate (shutdown: 100 ms)',
  metrics: ['medianMs', 'maxMs'],
  async run({ quick, log }) {
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const system = await start({ threads: 2 });
      await system.supervise(tree(3));
      const began = performance.now();
      await system.stop();
      times.push(performance.now() - began);
      log(`round ${round + 1}: ${times[round].toFixed(0)} ms`);
    }
    times.sort((a, b) => a - b);
    return { results: { weft: { medianMs: times[Math.floor(times.length / 2)], maxMs: times[times.length - 1] } }, config: { weft: { rounds, supervisors: 3, childShutdownMs: 100 } } };
  },
};
