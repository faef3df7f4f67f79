/**
 * remote-call: one call at a time from this process (node 'a') to an actor on a shard of another
 * node process ('b'), through a nats-server on loopback; beside it, in the same run, a bare NATS
 * request/reply between two processes with the same payload (the responder decodes it and answers
 * a + b, as the actor does). `medianUs` per round trip. The aim: weft ≤ 1.5× bare NATS.
 */
import { natsClient } from '../cluster/nats-client.js';
import { pack, unpack } from 'msgpackr';
import { start } from '../../src/main/index.js';
import type Adder from '../actors/adder.js';
import { assert, median, percentile, type Metrics, type Suite } from '../harness.js';
import { withCluster } from '../cluster/peers.js';

const ROUNDS = { full: 20_000, quick: 2_000 };

/** Sequential `add(i, 1)` round trips, each timed and its answer checked. */
async function sequential(what: string, rounds: number, add: (i: number) => Promise<unknown>): Promise<Metrics> {
  const check = (i: number, sum: unknown) => assert(sum === i + 1, `${what}: add(${i}, 1) answered ${JSON.stringify(sum)}, expected ${i + 1}`);
  for (let i = 0; i < Math.min(rounds, 1000); i++) check(i, await add(i)); // warm-up
  const samples = new Float64Array(rounds);
  for (let i = 0; i < rounds; i++) {
    const began = performance.now();
    const sum = await add(i);
    samples[i] = (performance.now() - began) * 1000;
    check(i, sum);
  }
  return { medianUs: median(samples), p99Us: percentile(samples, 99) };
}

export const suite: Suite = {
  name: 'remote-call',
  title: 'sequential call round trip to another node process over nats-server (loopback), vs bare NATS request/reply',
  baseline: 'nats',
  metrics: ['medianUs', 'p99Us'],
  async run({ quick, log }) {
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    return withCluster([(url) => ['weft', 'b', url], (url) => ['nats-echo', url]], async (url) => {
      const results: Record<string, Metrics> = {};
      const { connect } = await natsClient();
      const nc = await connect({ servers: url });
      try {
        results.nats = await sequential('nats', rounds, async (i) => unpack((await nc.request('bench.echo', pack({ a: i, b: 1 }), { timeout: 5000 })).data));
      } finally {
        await nc.close();
      }
      const system = await start({ threads: 1, node: { name: 'a', nats: { servers: url }, globalNames: false } });
      try {
        const adder = await system.whereisOn<typeof Adder>('adder', 'b');
        assert(adder !== undefined, "node b has no actor named 'adder'");
        results.weft = await sequential('weft', rounds, (i) => adder.call({ a: i, b: 1 }));
      } finally {
        await system.stop();
      }
      log(`weft ${results.weft.medianUs.toFixed(1)} µs, bare NATS ${results.nats.medianUs.toFixed(1)} µs (medians)`);
      return { results, config: { weft: { api: 'ActorRef.call', to: "node b's shard", rounds }, nats: { api: 'nc.request', payload: 'msgpack { a, b }', rounds } } };
    });
  },
};
