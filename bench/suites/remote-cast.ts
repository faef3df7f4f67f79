/**
 * remote-cast: small one-way messages from this process (node 'a') to an actor on another node
 * process ('b') through a nats-server on loopback, `{ id, op, args }` each, counted and checked in
 * order by the actor; beside it, in the same run, bare NATS publish/subscribe of the same payloads
 * (the subscriber decodes each). `msgsPerSec` from the first send to the receiver having them all.
 * weft batches what main sends each node into one publish per turn; the aim: weft ≥ bare NATS.
 */
import { connect } from '@nats-io/transport-node';
import { pack, unpack } from 'msgpackr';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { start } from '../../src/main/index.js';
import type Sink from '../actors/stream-sink.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { withCluster } from '../cluster/peers.js';

const MESSAGES = { full: 500_000, quick: 50_000 };
/** Messages sent before the sender yields to its event loop (so the NATS client can write). */
const BURST = 1000;
/** Sent first, unmeasured, by both: code compiled, buffers grown. */
const WARM_UP = 20_000;

export const suite: Suite = {
  name: 'remote-cast',
  title: 'one-way small messages to another node process over nats-server (loopback), vs bare NATS publish/subscribe',
  baseline: 'nats',
  metrics: ['msgsPerSec'],
  async run({ quick, log }) {
    const total = quick ? MESSAGES.quick : MESSAGES.full;
    return withCluster([(url) => ['weft', 'b', url], (url) => ['nats-sink', url]], async (url) => {
      const results: Record<string, Metrics> = {};
      const nc = await connect({ servers: url });
      try {
        let sent = 0;
        const stream = async (count: number): Promise<number> => {
          const began = performance.now();
          for (let i = 0; i < count; i++) {
            nc.publish('bench.cast', pack({ id: sent++, op: 'add', args: [1, 2] }));
            if (i % BURST === BURST - 1) await yieldToEventLoop();
          }
          while ((unpack((await nc.request('bench.count', undefined, { timeout: 60_000 })).data) as number) < sent) await new Promise((resolve) => setTimeout(resolve, 1));
          return (count / (performance.now() - began)) * 1000;
        };
        await stream(WARM_UP);
        results.nats = { msgsPerSec: await stream(total) };
      } finally {
        await nc.close();
      }
      const system = await start({ threads: 1, node: { name: 'a', nats: { servers: url }, globalNames: false } });
      try {
        const sink = (await system.whereisOn<typeof Sink>('sink', 'b'))!;
        const stream = async (count: number): Promise<number> => {
          const began = performance.now();
          const done = sink.call({ type: 'expect', n: count }, { timeout: 120_000 });
          for (let id = 0; id < count; id++) {
            sink.cast({ id, op: 'add', args: [1, 2] });
            if (id % BURST === BURST - 1) await yieldToEventLoop();
          }
          const { count: got, outOfOrder } = await done;
          assert(got === count && outOfOrder === 0, `the sink got ${got} of ${count} casts, ${outOfOrder} out of order`);
          return (count / (performance.now() - began)) * 1000;
        };
        await stream(WARM_UP);
        results.weft = { msgsPerSec: await stream(total) };
      } finally {
        await system.stop();
      }
      log(`weft ${Math.round(results.weft.msgsPerSec).toLocaleString('en-US')}/s, bare NATS ${Math.round(results.nats.msgsPerSec).toLocaleString('en-US')}/s`);
      return { results, config: { weft: { api: 'ActorRef.cast', to: "node b's shard", messages: total, burst: BURST }, nats: { api: 'nc.publish, one message each', payload: 'msgpack { id, op, args }', messages: total, burst: BURST } } };
    });
  },
};
