/**
 * tiny-tasks: how many tiny tasks per second a pool of 2 worker threads completes with many in
 * flight. The task is `add(a, b)`; the driver (bench/peers/drivers.ts, the same for every library)
 * keeps IN_FLIGHT calls outstanding and checks every result. weft runs it as `call`s to adder
 * actors spread over its shards; each peer in its fastest configuration (see bench/peers/README.md).
 */
import { WARMUP_MS, compareTinyTasks, loadPeers } from '../peers/index.js';
import type { Suite } from '../harness.js';
import { startWeftPool, weftConfig } from './weft-pool.js';

const THREADS = 2;
const TASKS = { full: 200_000, quick: 20_000 };
const IN_FLIGHT = 1024;

export const suite: Suite = {
  name: 'tiny-tasks',
  title: `tiny tasks (add two numbers) with ${IN_FLIGHT} in flight, ${THREADS} worker threads`,
  baseline: 'piscina',
  metrics: ['tasksPerSec'],
  async run({ quick, log, skip }) {
    const tasks = quick ? TASKS.quick : TASKS.full;
    log(`${tasks.toLocaleString('en-US')} tasks per library`);
    const weft = { name: 'weft', start: (threads: number) => startWeftPool(threads), config: (threads: number) => weftConfig(threads) };
    return compareTinyTasks([weft, ...(await loadPeers(skip))], THREADS, tasks, IN_FLIGHT, log, quick ? WARMUP_MS / 5 : WARMUP_MS);
  },
};
