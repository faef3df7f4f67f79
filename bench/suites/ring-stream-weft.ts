/**
 * The weft side of `ring-stream`: the same `{ id, op: 'add', args: [1, 2] }` objects, encoded by
 * weft's codec straight into the main → worker ring of a two-thread ring set; the worker decodes
 * every one (see workers/ring-peer.ts). If the ring fills, the sender waits for the consumer to free
 * space (its doorbell rings main), as the overflow protocol prescribes.
 *
 * Two runs: `eager` publishes (one `Atomics.store` and one look at the peer's doorbell) after every
 * single send, as postMessage posts each message: the like-for-like figure. `corked` publishes once
 * per batch of BATCH sends (`cork`/`uncork`), which is how a shard's scheduler publishes what its
 * actors send during a batch.
 */
import { DEFAULT_RING_CAPACITY, Endpoint, MessageEncoder, RingSet } from '../../src/main/index.js';
import { assert, nextMessage, now, startWorker } from '../harness.js';
import { KIND_DATA, type RingPeerControl, type RingPeerData, type RingPeerReply } from '../workers/ring-peer-protocol.js';

const SPIN_MICROS = 50;
/** Sends per publish in the batched run. */
export const BATCH = 256;

export interface WeftStreamFigures {
  eager: Record<string, number>;
  corked: Record<string, number>;
}

export async function runWeft(opts: { messages: number; quick: boolean }): Promise<WeftStreamFigures> {
  const set = RingSet.create({ threads: 2 });
  const endpoint = new Endpoint(set, 0, { spinMicros: SPIN_MICROS });
  const peer = startWorker(new URL('../workers/ring-peer.js', import.meta.url), {
    workerData: { buffer: set.buffer, mode: 'sink', spinMicros: SPIN_MICROS } satisfies RingPeerData,
  });
  const { worker, failed } = peer;
  const encoder = new MessageEncoder();

  const streamOnce = async (n: number, batch: number) => {
    const ready = nextMessage<RingPeerReply>(worker);
    worker.postMessage({ expect: n } satisfies RingPeerControl);
    await Promise.race([ready, failed]);
    const done = nextMessage<RingPeerReply>(worker);
    const before = { ...endpoint.stats };
    const start = now();
    for (let i = 0; i < n; i += batch) {
      const stop = Math.min(n, i + batch);
      if (batch > 1) endpoint.cork();
      for (let id = i; id < stop; id++) endpoint.sendMessage(1, KIND_DATA, { id, op: 'add', args: [1, 2] }, encoder);
      if (batch > 1) endpoint.uncork();
      // Ring full: wait until the worker has made room rather than piling up copies in overflow.
      if (endpoint.pendingOut !== 0) while (!endpoint.flush()) await endpoint.wait();
    }
    const reply = await Promise.race([done, failed]);
    const ms = now() - start;
    assert('done' in reply && reply.done === n && reply.outOfOrder === 0, `ring-peer expected ${n} messages in order, got: ${JSON.stringify(reply)}`);
    return {
      msgsPerSec: (n / ms) * 1000,
      // Under steady load these stay near zero: the point of the doorbell protocol.
      senderNotifies: endpoint.stats.notifies - before.notifies,
      receiverParks: reply.parks,
    };
  };

  try {
    await streamOnce(Math.min(opts.messages, 100_000), 1);
    await streamOnce(Math.min(opts.messages, 100_000), BATCH);
    const eager = await streamOnce(opts.messages, 1);
    const corked = await streamOnce(opts.messages, BATCH);
    const ringKiB = DEFAULT_RING_CAPACITY / 1024;
    return { eager: { ...eager, ringKiB }, corked: { ...corked, ringKiB } };
  } finally {
    worker.postMessage({ stop: true } satisfies RingPeerControl);
    await peer.stop();
  }
}
