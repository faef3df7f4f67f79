/**
 * ring-spin: what the receiver's spin window buys and what it costs, under sparse traffic.
 *
 * A receiver that finds its rings empty spins for `spinMicros` before it parks (src/shm/endpoint.ts).
 * Spinning turns the park/wake round trip into a memory poll when the next message comes soon,
 * and burns CPU when it does not. Here main sends one small message, waits for the echo, then
 * sleeps about a millisecond, so the worker idles between messages about as long as a lightly used
 * actor does. Reported per spin window: the round trip (median, p99) and `cpuPct`, the worker
 * thread's own CPU time over the run as a share of one core (read from Linux's schedstat; where
 * there is none, its event-loop utilisation, which counts a blocked `Atomics.wait` as busy).
 *
 * `postMessage` is the same pattern over a MessagePort, for scale. Main's window is always 50 µs
 * while it waits for the echo; only the worker's window changes. Both windows are adaptive (the
 * endpoint stops spinning after a few spins that found nothing), so under this sparse traffic the
 * rows differ mostly by the occasional probe spin.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { Endpoint, MessageDecoder, MessageEncoder, RingSet } from '../../src/main/index.js';
import { assert, median, nextMessage, now, percentile, startWorker, type BenchWorker, type Metrics, type Suite } from '../harness.js';
import type { EchoData } from '../workers/post-echo.js';
import { KIND_DATA, type RingPeerControl, type RingPeerData, type RingPeerReply } from '../workers/ring-peer-protocol.js';

const ROUNDS = { full: 1_000, quick: 200 };
const SPINS = [0, 20, 50, 200];
const GAP_MS = 1;
/**
 * Round trips back to back before the spaced ones, for every row alike: a service that offloads
 * occasional work has been running long enough for V8 to optimize its code. With 20, weft's path
 * (codec, ring, endpoint: JavaScript) was timed partly unoptimized while postMessage's is C++
 * throughout, and weft measured 0.55-0.79x of its figure against 0.76-1.1x after 3,000 (PROFILE.md).
 */
const WARMUP = 2_000;

/**
 * Runs `rounds` spaced round trips with `roundTrip`, timing each and the worker's CPU (`cpuNs` asks
 * the worker for its thread's CPU time; -1 where it cannot tell).
 */
async function spaced(peer: BenchWorker, rounds: number, roundTrip: (i: number) => Promise<void>, cpuNs: () => Promise<number>): Promise<Metrics> {
  for (let i = 0; i < WARMUP; i++) await roundTrip(i); // warm-up, back to back
  const samples = new Float64Array(rounds);
  const cpuBefore = await cpuNs();
  const eluBefore = peer.worker.performance.eventLoopUtilization();
  const startedAt = now();
  for (let i = 0; i < rounds; i++) {
    await sleep(GAP_MS);
    const start = now();
    await Promise.race([roundTrip(i), peer.failed]);
    samples[i] = now() - start;
  }
  const wallMs = now() - startedAt;
  const elu = peer.worker.performance.eventLoopUtilization(eluBefore);
  const cpuAfter = cpuBefore < 0 ? -1 : await cpuNs();
  const cpuPct = cpuAfter < 0 ? elu.utilization * 100 : ((cpuAfter - cpuBefore) / 1e6 / wallMs) * 100;
  return { medianUs: median(samples) * 1000, p99Us: percentile(samples, 99) * 1000, cpuPct };
}

/** Asks the worker for its thread's CPU time (ns). */
async function askCpu(peer: BenchWorker): Promise<number> {
  const reply = nextMessage<RingPeerReply>(peer.worker);
  peer.worker.postMessage({ cpu: true } satisfies RingPeerControl);
  const answer = await Promise.race([reply, peer.failed]);
  return 'cpuNs' in answer ? answer.cpuNs : -1;
}

async function weft(spinMicros: number, rounds: number): Promise<Metrics> {
  const set = RingSet.create({ threads: 2 });
  const endpoint = new Endpoint(set, 0, { spinMicros: 50 });
  const peer = startWorker(new URL('../workers/ring-peer.js', import.meta.url), {
    workerData: { buffer: set.buffer, mode: 'echo', spinMicros } satisfies RingPeerData,
  });
  const encoder = new MessageEncoder();
  const decoder = new MessageDecoder();
  let got = -1;
  const onPong = (_from: number, _kind: number, bytes: Uint8Array, start: number, end: number): void => {
    got = (decoder.decode(bytes, start, end) as { id: number }).id;
  };
  try {
    return await spaced(peer, rounds, async (i) => {
      endpoint.sendMessage(1, KIND_DATA, { id: i, op: 'add', args: [1, 2] }, encoder);
      while (endpoint.drain(onPong, 1) === 0) await endpoint.wait();
      assert(got === i, `ring-peer answered ping ${i} with id ${got}`);
    }, () => askCpu(peer));
  } finally {
    peer.worker.postMessage({ stop: true } satisfies RingPeerControl);
    await peer.stop();
  }
}

async function postMessage(rounds: number): Promise<Metrics> {
  const { port1, port2 } = new MessageChannel();
  const peer = startWorker(new URL('../workers/post-echo.js', import.meta.url), {
    workerData: { port: port2 } satisfies EchoData,
    transferList: [port2],
  });
  const pong = (port: MessagePort) => new Promise<{ id: number }>((resolve) => port.once('message', resolve));
  try {
    return await spaced(peer, rounds, async (i) => {
      const answer = pong(port1);
      port1.postMessage({ id: i, op: 'add', args: [1, 2] });
      const msg = await answer;
      assert(msg.id === i, `post-echo answered ping ${i} with id ${msg.id}`);
    }, () => askCpu(peer));
  } finally {
    port1.close();
    await peer.stop();
  }
}

export const suite: Suite = {
  name: 'ring-spin',
  title: `sparse round trips (one every ~${GAP_MS} ms): latency and the worker's CPU, by its spin window`,
  baseline: 'postMessage',
  metrics: ['medianUs', 'p99Us', 'cpuPct'],
  better: { cpuPct: 'lower' },
  async run({ quick, log }) {
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    log(`${rounds} spaced round trips per row`);
    const results: Record<string, Metrics> = { postMessage: await postMessage(rounds) };
    const config: Record<string, Record<string, number>> = {};
    for (const spin of SPINS) {
      results[`weft spin ${spin} µs`] = await weft(spin, rounds);
      config[`weft spin ${spin} µs`] = { workerSpinMicros: spin, mainSpinMicros: 50, gapMs: GAP_MS, rounds };
    }
    return { results, config };
  },
};
