/**
 * pool-blocking: do quick tasks get a thread as soon as one is free? 4 tasks of 200 ms that hold
 * their thread, submitted to `maxThreads: 2` right after construction (before the threads are
 * up), then 100 tiny tasks; the metric is the time until every tiny task is done. A pool that
 * runs the blocking tasks two at a time and then the tiny ones finishes in about 400 ms; one that
 * piles tasks on the first thread up, or queues tiny tasks behind a blocking one while the other
 * thread idles, takes longer. weft's `ThreadPool` and piscina run the same worker file
 * (bench/workers/blocking.ts, piscina's format).
 */
import { ThreadPool } from '../../src/main/index.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { importOptional } from '../peers/optional.js';

const FILE = new URL('../workers/blocking.js', import.meta.url);
const THREADS = 2;
const BLOCKING = 4;
const BLOCK_MS = 200;
const TINY = 100;

interface Pool {
  run(task: unknown, options?: { name: string }): Promise<unknown>;
  destroy(): Promise<void>;
}

/** Submits the blocking tasks then the tiny ones to a pool just made; ms until the tiny ones are all done. */
async function tinyDoneMs(make: () => Pool): Promise<number> {
  const started = performance.now();
  const pool = make();
  try {
    const blocking = Array.from({ length: BLOCKING }, () => pool.run(BLOCK_MS, { name: 'block' }));
    const tiny = await Promise.all(Array.from({ length: TINY }, (_, i) => pool.run(i)));
    const elapsed = performance.now() - started;
    assert(tiny.every((r, i) => r === i + 1), 'every tiny task should answer n + 1');
    assert((await Promise.all(blocking)).every((r) => r === BLOCK_MS), 'every blocking task should answer its ms');
    return elapsed;
  } finally {
    await pool.destroy();
  }
}

export const suite: Suite = {
  name: 'pool-blocking',
  title: `${BLOCKING} × ${BLOCK_MS} ms blocking tasks then ${TINY} tiny ones on ${THREADS} threads, from construction: ms until the tiny ones are done`,
  baseline: 'piscina',
  metrics: ['tinyDoneMs'],
  async run({ log, skip }) {
    const results: Record<string, Metrics> = {};
    const runners: Array<[string, () => Pool]> = [['weft', () => new ThreadPool({ filename: FILE, maxThreads: THREADS })]];
    const Piscina = (await importOptional('piscina', () => import('piscina'), skip))?.Piscina;
    if (Piscina !== undefined) runners.push(['piscina', () => new Piscina({ filename: FILE.href, minThreads: THREADS, maxThreads: THREADS })]);
    for (const [name, make] of runners) {
      const ms = await tinyDoneMs(make);
      results[name] = { tinyDoneMs: ms };
      log(`${name}: tiny tasks done after ${ms.toFixed(0)} ms`);
    }
    const config = { blocking: BLOCKING, blockMs: BLOCK_MS, tiny: TINY, threads: THREADS };
    return { results, config: { weft: { api: 'ThreadPool.run', ...config }, piscina: { api: 'Piscina.run', ...config } } };
  },
};
