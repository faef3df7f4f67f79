/**
 * round-trip: the latency of one tiny task at a time on a pool of 2 worker threads (the next call
 * leaves when the previous answer is back), median and p99 in µs. Same driver for every library
 * (bench/peers/drivers.ts); weft runs it as sequential `call`s to the first adder actor, as a pool
 * gives sequential tasks to its first idle worker.
 */
import { loadPeers, runRoundTrips, type PeerPool } from '../peers/index.js';
import type { Metrics, Suite } from '../harness.js';
import { startWeftPool, weftConfig } from './weft-pool.js';

const THREADS = 2;
const ROUND_TRIPS = { full: 20_000, quick: 2_000 };

async function measure(startPool: () => Promise<PeerPool>, roundTrips: number): Promise<Metrics> {
  const pool = await startPool();
  try {
    await runRoundTrips(pool, Math.min(roundTrips, 2_000)); // warm-up
    return await runRoundTrips(pool, roundTrips);
  } finally {
    await pool.close();
  }
}

export const suite: Suite = {
  name: 'round-trip',
  title: `one tiny task at a time (add two numbers), ${THREADS} worker threads: µs per round trip`,
  baseline: 'piscina',
  metrics: ['medianUs', 'p99Us'],
  async run({ quick, log, skip }) {
    const roundTrips = quick ? ROUND_TRIPS.quick : ROUND_TRIPS.full;
    log(`${roundTrips.toLocaleString('en-US')} sequential round trips per library`);
    const results: Record<string, Metrics> = {};
    const config: Record<string, Record<string, unknown>> = {};
    results.weft = await measure(() => startWeftPool(THREADS, 'first'), roundTrips);
    config.weft = weftConfig(THREADS, 'first');
    for (const peer of await loadPeers(skip)) {
      results[peer.name] = await measure(() => peer.start(THREADS), roundTrips);
      config[peer.name] = peer.config(THREADS);
    }
    return { results, config };
  },
};
