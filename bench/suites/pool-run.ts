/**
 * pool-run: piscina's API, run by weft and by the pools people use: 200,000 tiny `run()` tasks
 * with 1024 in flight on 2 threads. weft's `ThreadPool` runs piscina's own worker file
 * (bench/workers/peer-piscina.ts, unchanged), so the figures compare the same task through the
 * same API; the peers run as in tiny-tasks (their fastest configurations, bench/peers/README.md).
 */
import { ThreadPool } from '../../src/main/index.js';
import { piscinaPeer } from '../peers/piscina.js';
import { poolifierPeer } from '../peers/poolifier.js';
import { tinypoolPeer } from '../peers/tinypool.js';
import { workerpoolPeer } from '../peers/workerpool.js';
import { workerUrl } from '../peers/common.js';
import { measureTinyTasks, type PeerPool } from '../peers/index.js';
import type { Metrics, Suite } from '../harness.js';

const THREADS = 2;
const TASKS = { full: 200_000, quick: 20_000 };
const IN_FLIGHT = 1024;

async function startThreadPool(threads: number): Promise<PeerPool> {
  const pool = new ThreadPool({ filename: workerUrl('piscina'), maxThreads: threads });
  await pool.ready();
  return { add: (a, b) => pool.run({ a, b }) as Promise<number>, close: () => pool.destroy() };
}

export const suite: Suite = {
  name: 'pool-run',
  title: `piscina's run() API: tiny tasks with ${IN_FLIGHT} in flight, ${THREADS} threads, weft's ThreadPool on piscina's own worker file`,
  baseline: 'piscina',
  metrics: ['tasksPerSec'],
  async run({ quick, log }) {
    const tasks = quick ? TASKS.quick : TASKS.full;
    log(`${tasks.toLocaleString('en-US')} tasks per library`);
    const results: Record<string, Metrics> = {};
    const config: Record<string, Record<string, unknown>> = {};
    results.weft = await measureTinyTasks(() => startThreadPool(THREADS), tasks, IN_FLIGHT);
    config.weft = { api: 'ThreadPool.run', threads: THREADS, workerFile: 'bench/workers/peer-piscina.ts (piscina format)' };
    log(`weft: ${Math.round(results.weft.tasksPerSec).toLocaleString('en-US')} tasks/s`);
    for (const peer of [piscinaPeer, tinypoolPeer, poolifierPeer, workerpoolPeer]) {
      results[peer.name] = await measureTinyTasks(() => peer.start(THREADS), tasks, IN_FLIGHT);
      config[peer.name] = peer.config(THREADS);
      log(`${peer.name}: ${Math.round(results[peer.name].tasksPerSec).toLocaleString('en-US')} tasks/s`);
    }
    return { results, config };
  },
};
