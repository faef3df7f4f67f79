/**
 * transaction: what borrowing from a pool costs. CONCURRENCY loops on main each run poolboy
 * transactions (checkout, one call to the worker, checkin) on a pool of as many workers; beside
 * them, in the same run, the same loops make the bare call to as many actors. `txPerSec` for both;
 * the ratio says how much of a call's rate the pool keeps. The aim: the pool's own cost under half
 * a call's (ratio ≥ 0.67).
 */
import { start, type ActorRef } from '../../src/main/index.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import type Adder from '../actors/adder.js';

const ADDER = new URL('../actors/adder.js', import.meta.url);
const CONCURRENCY = 16;
const ROUNDS = { full: 200_000, quick: 20_000 };

/** `total` rounds of `add(i, 1)` by CONCURRENCY loops; every answer is checked. Rounds per second. */
async function loops(what: string, total: number, add: (i: number) => Promise<number>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        const sum = await add(i);
        assert(sum === i + 1, `${what}: add(${i}, 1) answered ${JSON.stringify(sum)}, expected ${i + 1}`);
      }
    }),
  );
  return (total / (performance.now() - started)) * 1000;
}

export const suite: Suite = {
  name: 'transaction',
  title: `poolboy transactions (checkout, one call, checkin) vs the bare call, ${CONCURRENCY} loops on main, 2 shards`,
  baseline: 'call',
  metrics: ['txPerSec'],
  async run({ quick, log }) {
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    const system = await start({ threads: 2 });
    try {
      const pool = await system.pool<typeof Adder>({ actor: ADDER, size: CONCURRENCY, maxOverflow: 0 });
      const actors: Array<ActorRef<typeof Adder>> = [];
      for (let i = 0; i < CONCURRENCY; i++) actors.push(await system.spawn<typeof Adder>(ADDER, { thread: (i % 2) + 1 }));
      const transaction = (i: number) => pool.transaction((adder) => adder.call({ a: i, b: 1 }));
      const call = (i: number) => actors[i % CONCURRENCY].call({ a: i, b: 1 });
      await loops('transaction', Math.min(rounds, 20_000), transaction); // warm-up
      await loops('call', Math.min(rounds, 20_000), call);
      const results: Record<string, Metrics> = {
        call: { txPerSec: await loops('call', rounds, call) },
        weft: { txPerSec: await loops('transaction', rounds, transaction) },
      };
      log(`bare calls: ${Math.round(results.call.txPerSec).toLocaleString('en-US')}/s; transactions: ${Math.round(results.weft.txPerSec).toLocaleString('en-US')}/s`);
      return { results, config: { weft: { api: 'pool.transaction', poolSize: CONCURRENCY, poolOn: 'main', workersOn: 'shards, round-robin' }, call: { api: 'ActorRef.call', actors: CONCURRENCY } } };
    } finally {
      await system.stop();
    }
  },
};
