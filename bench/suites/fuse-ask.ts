/**
 * fuse-ask: how fast one thread can ask a circuit breaker whether to go on. weft's `fuse.ask()`
 * (one atomic load of shared memory) against opossum's `breaker.opened` and cockatiel's
 * `policy.state`, each library's own check, in the same run. The breakers are closed; each answer
 * is used, so the check cannot be optimised away.
 */
import { start } from '../../src/main/index.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { importOptional } from '../peers/optional.js';

const ASKS = { full: 20_000_000, quick: 2_000_000 };

function rate(asks: number, ask: () => boolean): number {
  let open = 0;
  for (let i = 0; i < Math.min(asks, 1_000_000); i++) if (ask()) open++; // warm-up
  const started = performance.now();
  for (let i = 0; i < asks; i++) if (ask()) open++;
  const ms = performance.now() - started;
  assert(open === 0, 'a closed breaker answered open');
  return (asks / ms) * 1000;
}

export const suite: Suite = {
  name: 'fuse-ask',
  title: 'circuit breaker checks per second on one thread (closed breaker): weft fuse.ask() vs opossum and cockatiel',
  baseline: 'opossum',
  metrics: ['asksPerSec'],
  async run({ quick, log, skip }) {
    const asks = quick ? ASKS.quick : ASKS.full;
    log(`${asks.toLocaleString('en-US')} checks each`);
    const system = await start({ threads: 1 });
    const results: Record<string, Metrics> = {};
    try {
      const fuse = system.fuse('bench', { strategy: { standard: { maxR: 5, maxT: 10_000 } }, reset: 30_000 });
      results.weft = { asksPerSec: rate(asks, () => fuse.ask() === 'blown') };
    } finally {
      await system.stop();
    }
    const opossum = await importOptional('opossum', () => import('opossum'), skip);
    if (opossum !== undefined) {
      const breaker = new opossum.default(async () => 1, { errorThresholdPercentage: 50, resetTimeout: 30_000 });
      results.opossum = { asksPerSec: rate(asks, () => breaker.opened) };
      breaker.shutdown();
    }
    const cockatiel = await importOptional('cockatiel', () => import('cockatiel'), skip);
    if (cockatiel !== undefined) {
      const { ConsecutiveBreaker, CircuitState, circuitBreaker, handleAll } = cockatiel;
      const policy = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
      results.cockatiel = { asksPerSec: rate(asks, () => policy.state !== CircuitState.Closed) };
    }
    return { results, config: { weft: { check: 'fuse.ask()' }, opossum: { check: 'breaker.opened' }, cockatiel: { check: 'policy.state' } } };
  },
};
