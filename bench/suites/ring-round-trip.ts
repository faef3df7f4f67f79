/**
 * ring-round-trip: the latency of one small message to a worker and back, one at a time.
 *
 * The main thread sends `{ id: i, op: 'add', args: [1, 2] }`, the worker sends it straight back, and
 * the next ping leaves only when the pong has arrived, so exactly one message is ever in flight and
 * each sample is one whole round trip (both hops, both wake-ups). Reported: the median and the 99th
 * percentile (nearest rank) of the individual round trips, in microseconds, after a warm-up.
 *
 * - `postMessage`: a MessageChannel port handed to the worker; the worker echoes on the same port.
 * - `weft`: `runWeft` in `ring-round-trip-weft.ts`.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { assert, median, now, percentile, startWorker, type Metrics, type Suite } from '../harness.js';
import type { EchoData } from '../workers/post-echo.js';
import { runWeft } from './ring-round-trip-weft.js';

const ROUND_TRIPS = { full: 20_000, quick: 5_000 };
const WARMUP = { full: 2_000, quick: 500 };

/** `n` sequential round trips on `port`; returns each one's duration in milliseconds. */
function pingPong(port: MessagePort, n: number): Promise<Float64Array> {
  const samples = new Float64Array(n);
  return new Promise((resolve, reject) => {
    let i = 0;
    let sentAt = 0;
    const onPong = (msg: { id: number }) => {
      samples[i] = now() - sentAt;
      if (msg.id !== i) {
        port.off('message', onPong);
        reject(new Error(`post-echo answered ping ${i} with id ${msg.id}, got: ${JSON.stringify(msg)}`));
        return;
      }
      if (++i === n) {
        port.off('message', onPong);
        resolve(samples);
        return;
      }
      const ping = { id: i, op: 'add', args: [1, 2] };
      sentAt = now();
      port.postMessage(ping);
    };
    port.on('message', onPong);
    const ping = { id: 0, op: 'add', args: [1, 2] };
    sentAt = now();
    port.postMessage(ping);
  });
}

async function postMessageRoundTrips(roundTrips: number, warmup: number): Promise<Metrics> {
  const { port1, port2 } = new MessageChannel();
  const echo = startWorker(new URL('../workers/post-echo.js', import.meta.url), {
    workerData: { port: port2 } satisfies EchoData,
    transferList: [port2],
  });
  try {
    await Promise.race([pingPong(port1, warmup), echo.failed]);
    const samples = await Promise.race([pingPong(port1, roundTrips), echo.failed]);
    assert(samples.length === roundTrips, `expected ${roundTrips} samples, got: ${samples.length}`);
    return { medianUs: median(samples) * 1000, p99Us: percentile(samples, 99) * 1000 };
  } finally {
    port1.close();
    await echo.stop();
  }
}

export const suite: Suite = {
  name: 'ring-round-trip',
  title: 'one small message main → worker → main, next ping on each pong (µs per round trip)',
  baseline: 'postMessage',
  metrics: ['medianUs', 'p99Us'],
  async run({ quick, log }) {
    const roundTrips = quick ? ROUND_TRIPS.quick : ROUND_TRIPS.full;
    const warmup = quick ? WARMUP.quick : WARMUP.full;
    log(`${roundTrips.toLocaleString('en-US')} round trips each (warm-up ${warmup.toLocaleString('en-US')})`);

    const post = await postMessageRoundTrips(roundTrips, warmup);
    log(`postMessage: median ${post.medianUs.toFixed(1)} µs, p99 ${post.p99Us.toFixed(1)} µs`);
    const weft = await runWeft({ roundTrips, quick });
    log(`weft: median ${(weft.medianUs ?? NaN).toFixed(1)} µs, p99 ${(weft.p99Us ?? NaN).toFixed(1)} µs`);

    return {
      results: { postMessage: post, weft },
      config: {
        postMessage: { transport: 'MessageChannel port', roundTrips, warmup },
        weft: { roundTrips },
      },
    };
  },
};
