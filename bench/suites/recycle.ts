/**
 * recycle: tiny-task throughput (`ThreadPool.run`, 1024 in flight, 2 threads, piscina's worker
 * file) with `maxTasksPerThread: 10000` against the same pool without it. Each thread is replaced
 * every 10,000 tasks by the pre-booted standby; the target is at least 0.9x of the pool that never
 * recycles. Every answer is checked (the shared tiny-task driver), and so is the number of recycles.
 */
import { start, type System } from '../../src/main/index.js';
import { workerUrl } from '../peers/common.js';
import { runTinyTasks, type PeerPool } from '../peers/index.js';
import type { Suite } from '../harness.js';

const THREADS = 2;
const LIMIT = 10_000;
const TASKS = { full: 200_000, quick: 60_000 };
const IN_FLIGHT = 1024;
const ROUNDS = { full: 2, quick: 1 };

async function measure(tasks: number, maxTasksPerThread: number): Promise<{ tasksPerSec: number; recycles: number }> {
  const system: System = await start({ threads: THREADS, maxTasksPerThread });
  try {
    const pool = system.threadPool({ filename: workerUrl('piscina') });
    await pool.ready();
    const peer: PeerPool = { add: (a, b) => pool.run({ a, b }) as Promise<number>, close: async () => undefined };
    const { tasksPerSec } = await runTinyTasks(peer, tasks, IN_FLIGHT);
    const { recycles } = await system.stats();
    return { tasksPerSec, recycles: recycles.tasks };
  } finally {
    await system.stop();
  }
}

export const suite: Suite = {
  name: 'recycle',
  title: `tiny tasks with ${IN_FLIGHT} in flight on ${THREADS} threads: maxTasksPerThread ${LIMIT.toLocaleString('en-US')} against never recycling`,
  baseline: 'weft',
  metrics: ['tasksPerSec', 'recycles'],
  better: { recycles: 'higher' },
  async run({ quick, log }) {
    const tasks = quick ? TASKS.quick : TASKS.full;
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    let plain = { tasksPerSec: 0, recycles: 0 };
    let recycled = { tasksPerSec: 0, recycles: 0 };
    // Alternated, best of each: the machine's load drifts between runs.
    for (let round = 0; round < rounds; round++) {
      const a = await measure(tasks, Infinity);
      const b = await measure(tasks, LIMIT);
      log(`round ${round + 1}: ${Math.round(a.tasksPerSec).toLocaleString('en-US')}/s never recycled, ${Math.round(b.tasksPerSec).toLocaleString('en-US')}/s recycled ${b.recycles} times`);
      if (a.tasksPerSec > plain.tasksPerSec) plain = a;
      if (b.tasksPerSec > recycled.tasksPerSec) recycled = b;
    }
    // One thread is recycled at a time, and only with a standby booted (a thread works on past its
    // limit while it waits): how many fit in a run depends on the machine, but there must be some.
    const expected = 1;
    if (recycled.recycles < expected) throw new Error(`recycle: ${recycled.recycles} recycles for ${tasks} tasks at ${LIMIT} a thread; expected at least ${expected}`);
    if (plain.recycles !== 0) throw new Error(`recycle: the pool without limits recycled ${plain.recycles} times`);
    return {
      results: { weft: plain, [`weft maxTasksPerThread ${LIMIT}`]: recycled },
      config: { weft: { tasks, threads: THREADS, inFlight: IN_FLIGHT, rounds }, [`weft maxTasksPerThread ${LIMIT}`]: { tasks, threads: THREADS, inFlight: IN_FLIGHT, maxTasksPerThread: LIMIT, rounds } },
    };
  },
};
