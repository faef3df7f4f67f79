/**
 * pool-run: piscina's API, run by weft and by the pools people use: 200,000 tiny `run()` tasks
 * with 1024 in flight on 2 threads. weft's `ThreadPool` runs piscina's own worker file
 * (bench/workers/peer-piscina.ts, unchanged), so the figures compare the same task through the
 * same API; the peers run as in tiny-tasks (their fastest configurations, bench/peers/README.md).
 */
import { ThreadPool } from '../../src/main/index.js';
import { workerUrl } from '../peers/common.js';
import { WARMUP_MS, compareTinyTasks, loadPeers, type PeerPool } from '../peers/index.js';
import type { Suite } from '../harness.js';

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
  async run({ quick, log, skip }) {
    const tasks = quick ? TASKS.quick : TASKS.full;
    log(`${tasks.toLocaleString('en-US')} tasks per library`);
    const weft = { name: 'weft', start: startThreadPool, config: (threads: number) => ({ api: 'ThreadPool.run', threads, workerFile: 'bench/workers/peer-piscina.ts (piscina format)' }) };
    const peers = await loadPeers(skip, ['piscina', 'tinypool', 'poolifier', 'workerpool']);
    return compareTinyTasks([weft, ...peers], THREADS, tasks, IN_FLIGHT, log, quick ? WARMUP_MS / 5 : WARMUP_MS);
  },
};
