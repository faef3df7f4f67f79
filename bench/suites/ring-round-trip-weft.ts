/**
 * The weft side of `ring-round-trip`: one small message main → worker → main through the rings, the
 * next ping leaving when the pong has been decoded. Both ends spin up to SPIN_MICROS before they
 * park, as a busy system's threads would; the figure is the price of a call's transport (codec both
 * ways, two ring hops) without the actor layer on top.
 */
import { Endpoint, MessageDecoder, MessageEncoder, RingSet } from '../../src/main/index.js';
import { assert, median, now, percentile, startWorker } from '../harness.js';
import { KIND_DATA, type RingPeerControl, type RingPeerData } from '../workers/ring-peer-protocol.js';

const SPIN_MICROS = 50;

export async function runWeft(opts: { roundTrips: number; quick: boolean }): Promise<Record<string, number>> {
  const set = RingSet.create({ threads: 2 });
  const endpoint = new Endpoint(set, 0, { spinMicros: SPIN_MICROS });
  const peer = startWorker(new URL('../workers/ring-peer.js', import.meta.url), {
    workerData: { buffer: set.buffer, mode: 'echo', spinMicros: SPIN_MICROS } satisfies RingPeerData,
  });
  const encoder = new MessageEncoder();
  const decoder = new MessageDecoder();

  const pingPong = async (n: number): Promise<Float64Array> => {
    const samples = new Float64Array(n);
    let got = -1;
    const onPong = (_from: number, _kind: number, bytes: Uint8Array, start: number, end: number): void => {
      got = (decoder.decode(bytes, start, end) as { id: number }).id;
    };
    for (let i = 0; i < n; i++) {
      const sentAt = now();
      endpoint.sendMessage(1, KIND_DATA, { id: i, op: 'add', args: [1, 2] }, encoder);
      while (endpoint.drain(onPong, 1) === 0) await Promise.race([endpoint.wait(), peer.failed]);
      samples[i] = now() - sentAt;
      assert(got === i, `ring-peer answered ping ${i} with id ${got}`);
    }
    return samples;
  };

  try {
    await pingPong(opts.quick ? 500 : 2_000);
    const samples = await pingPong(opts.roundTrips);
    return { medianUs: median(samples) * 1000, p99Us: percentile(samples, 99) * 1000, mainParks: endpoint.stats.parks };
  } finally {
    peer.worker.postMessage({ stop: true } satisfies RingPeerControl);
    await peer.stop();
  }
}
