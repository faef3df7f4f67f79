/**
 * remote-cast: small one-way messages from this process (node 'a') to an actor on another node
 * process ('b') through a nats-server on loopback, `{ id, op, args }` each, counted and checked in
 * order by the actor; beside it, in the same run, bare NATS publish/subscribe of the same payloads
 * (the subscriber decodes each and checks the order too). `msgsPerSec` from the first send to the
 * receiver having them all.
 *
 * Two ways of sending, each measured for both:
 *
 * - burst (`nats`, `weft`): BURST sends, then a yield to the event loop. weft batches what main
 *   sends a node in one turn into one NATS publish, so this row is weft's batched figure; bare NATS
 *   publishes each message (its client buffers the bytes until it writes).
 * - one per turn (`nats 1/turn`, `weft 1/turn`): one send, then a yield, so weft's batch holds one
 *   message and each cast is its own publish: the like-for-like figure beside bare NATS.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { natsClient } from '../cluster/nats-client.js';
import { pack, unpack } from 'msgpackr';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { start, type ActorRef } from '../../src/main/index.js';
import type Sink from '../actors/stream-sink.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { withCluster } from '../cluster/peers.js';

const MESSAGES = { full: 500_000, quick: 50_000 };
/** One yield per message costs a turn of the event loop each: a tenth of the count keeps it seconds. */
const PER_TURN_MESSAGES = { full: 50_000, quick: 5_000 };
/** Messages sent before the sender yields to its event loop (so the NATS client can write). */
const BURST = 1000;
/** Sent first, unmeasured, by both: code compiled, buffers grown. */
const WARM_UP = 20_000;

type Stream = (count: number, burst: number) => Promise<number>;

/** Bare NATS: publishes to the nats-sink peer, then asks it until it has counted every message. */
function natsStream(nc: NatsConnection): Stream {
  let sent = 0;
  return async (count, burst) => {
    const began = performance.now();
    for (let i = 0; i < count; i++) {
      nc.publish('bench.cast', pack({ id: sent++, op: 'add', args: [1, 2] }));
      if (i % burst === burst - 1) await yieldToEventLoop();
    }
    for (;;) {
      const seen = unpack((await nc.request('bench.count', undefined, { timeout: 60_000 })).data) as { count: number; outOfOrder: number };
      assert(seen.outOfOrder === 0, `the bare NATS subscriber saw ${seen.outOfOrder} message(s) out of order`);
      assert(seen.count <= sent, `the bare NATS subscriber counted ${seen.count} messages, ${sent} were sent`);
      if (seen.count === sent) break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return (count / (performance.now() - began)) * 1000;
  };
}

/** weft: casts to node b's sink actor, which answers its `expect` call once it has them all in order. */
function weftStream(sink: ActorRef<typeof Sink>): Stream {
  return async (count, burst) => {
    await sink.call({ type: 'expect', n: count });
    const began = performance.now();
    const done = sink.call({ type: 'wait' }, { timeout: 120_000 });
    for (let id = 0; id < count; id++) {
      sink.cast({ id, op: 'add', args: [1, 2] });
      if (id % burst === burst - 1) await yieldToEventLoop();
    }
    const { count: got, outOfOrder } = await done;
    assert(got === count && outOfOrder === 0, `the sink got ${got} of ${count} casts, ${outOfOrder} out of order`);
    return (count / (performance.now() - began)) * 1000;
  };
}

async function both(stream: Stream, total: number, perTurn: number): Promise<[Metrics, Metrics]> {
  await stream(WARM_UP, BURST);
  const burst = { msgsPerSec: await stream(total, BURST) };
  const oneEach = { msgsPerSec: await stream(perTurn, 1) };
  return [burst, oneEach];
}

export const suite: Suite = {
  name: 'remote-cast',
  title: 'one-way small messages to another node process over nats-server (loopback), vs bare NATS publish/subscribe; bursts of 1,000 and one per event-loop turn',
  baseline: 'nats',
  metrics: ['msgsPerSec'],
  async run({ quick, log }) {
    const total = quick ? MESSAGES.quick : MESSAGES.full;
    const perTurn = quick ? PER_TURN_MESSAGES.quick : PER_TURN_MESSAGES.full;
    return withCluster([(url) => ['weft', 'b', url], (url) => ['nats-sink', url]], async (url) => {
      const results: Record<string, Metrics> = {};
      const { connect } = await natsClient();
      const nc = await connect({ servers: url });
      try {
        [results.nats, results['nats 1/turn']] = await both(natsStream(nc), total, perTurn);
      } finally {
        await nc.close();
      }
      const system = await start({ threads: 1, node: { name: 'a', nats: { servers: url }, globalNames: false } });
      try {
        const sink = await system.whereisOn<typeof Sink>('sink', 'b');
        assert(sink !== undefined, "node b has no actor named 'sink'");
        [results.weft, results['weft 1/turn']] = await both(weftStream(sink), total, perTurn);
      } finally {
        await system.stop();
      }
      const rate = (row: string) => `${Math.round(results[row].msgsPerSec).toLocaleString('en-US')}/s`;
      log(`bursts: weft ${rate('weft')}, bare NATS ${rate('nats')}; one per turn: weft ${rate('weft 1/turn')}, bare NATS ${rate('nats 1/turn')}`);
      const nats = { api: 'nc.publish, one message each', payload: 'msgpack { id, op, args }' };
      const weft = { api: 'ActorRef.cast', to: "node b's shard" };
      return {
        results,
        config: {
          nats: { ...nats, messages: total, burst: BURST },
          'nats 1/turn': { ...nats, messages: perTurn, burst: 1 },
          weft: { ...weft, messages: total, burst: BURST, framing: 'one NATS publish per node per turn' },
          'weft 1/turn': { ...weft, messages: perTurn, burst: 1, framing: 'one NATS publish per cast' },
        },
      };
    });
  },
};
