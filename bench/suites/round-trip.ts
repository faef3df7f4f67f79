/**
 * round-trip: the latency of one tiny task at a time on a pool of 2 worker threads (the next call
 * leaves when the previous answer is back), median and p99 in µs. Same driver for every library
 * (bench/peers/drivers.ts); weft runs it as sequential `call`s to the first adder actor, as a pool
 * gives sequential tasks to its first idle worker.
 */
import { WARMUP_MS, loadPeers, runRoundTrips, type PeerPool } from '../peers/index.js';
import { now, type Metrics, type Suite } from '../harness.js';
import { startWeftPool, weftConfig } from './weft-pool.js';

const THREADS = 2;
const ROUND_TRIPS = { full: 20_000, quick: 2_000 };

/**
 * Each library runs round trips for `warmupMs` (at least 2,000) before it is measured: the figure
 * is a service's steady state (see drivers.ts `WARMUP_MS`). Within weft's first second its p99 was
 * 15-30 times what it is after: V8 still optimizing, and the root supervisor booting its standby
 * thread (~100 ms of CPU, src/main/root-supervisor.ts) on the two cores the calls run on.
 */
async function measure(startPool: () => Promise<PeerPool>, roundTrips: number, warmupMs: number): Promise<Metrics> {
  const pool = await startPool();
  try {
    const warmUntil = now() + warmupMs;
    do await runRoundTrips(pool, Math.min(roundTrips, 2_000));
    while (now() < warmUntil);
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
    const warmupMs = quick ? WARMUP_MS / 5 : WARMUP_MS;
    results.weft = await measure(() => startWeftPool(THREADS, 'first'), roundTrips, warmupMs);
    config.weft = { ...weftConfig(THREADS, 'first'), warmupMs };
    for (const peer of await loadPeers(skip)) {
      results[peer.name] = await measure(() => peer.start(THREADS), roundTrips, warmupMs);
      config[peer.name] = { ...peer.config(THREADS), warmupMs };
    }
    return { results, config };
  },
};
