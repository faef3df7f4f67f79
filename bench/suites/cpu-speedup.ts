/**
 * cpu-speedup: how much faster CPU-bound jobs finish on 2 threads than on 1. 200 jobs of recursive
 * fib (about 10 ms each here), all submitted at once; `speedup` = time on 1 thread / time on 2.
 * weft runs them with `ThreadPool.run`, piscina with `run`, both on the same worker file
 * (bench/workers/fib.ts, piscina's format). On 2 cores the ceiling is 2.0; what a pool loses is
 * its dispatch overhead and any thread left idle while another still has work.
 */
import { ThreadPool } from '../../src/main/index.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { importOptional } from '../peers/optional.js';

const FILE = new URL('../workers/fib.js', import.meta.url);
const JOBS = { full: 200, quick: 40 };
const N = 29;

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
const EXPECTED = fib(N);

interface Pool {
  run(n: number): Promise<unknown>;
  close(): Promise<void>;
}

async function seconds(pool: Pool, jobs: number): Promise<number> {
  await Promise.all(Array.from({ length: 4 }, () => pool.run(N))); // warm up
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: jobs }, () => pool.run(N)));
  const elapsed = (performance.now() - started) / 1000;
  assert(results.every((r) => r === EXPECTED), `fib(${N}) should be ${EXPECTED}`);
  return elapsed;
}

async function weft(threads: number, jobs: number): Promise<number> {
  const pool = new ThreadPool({ filename: FILE, maxThreads: threads });
  await pool.ready();
  try {
    return await seconds({ run: (n) => pool.run(n), close: () => pool.destroy() }, jobs);
  } finally {
    await pool.destroy();
  }
}

async function piscina(Piscina: typeof import('piscina').Piscina, threads: number, jobs: number): Promise<number> {
  const pool = new Piscina({ filename: FILE.href, minThreads: threads, maxThreads: threads });
  try {
    return await seconds({ run: (n) => pool.run(n), close: () => pool.destroy() }, jobs);
  } finally {
    await pool.destroy();
  }
}

export const suite: Suite = {
  name: 'cpu-speedup',
  title: `CPU-bound jobs (fib(${N})), 1 thread vs 2: speedup = time on 1 / time on 2`,
  baseline: 'piscina',
  metrics: ['speedup', 'oneThreadMs', 'twoThreadsMs'],
  better: { oneThreadMs: 'lower', twoThreadsMs: 'lower' },
  async run({ quick, log, skip }) {
    const jobs = quick ? JOBS.quick : JOBS.full;
    const results: Record<string, Metrics> = {};
    const runners: Array<[string, (threads: number, jobs: number) => Promise<number>]> = [['weft', weft]];
    const Piscina = (await importOptional('piscina', () => import('piscina'), skip))?.Piscina;
    if (Piscina !== undefined) runners.push(['piscina', (threads, n) => piscina(Piscina, threads, n)]);
    for (const [name, run] of runners) {
      const one = await run(1, jobs);
      const two = await run(2, jobs);
      results[name] = { speedup: one / two, oneThreadMs: one * 1000, twoThreadsMs: two * 1000 };
      log(`${name}: ${jobs} jobs in ${(one * 1000).toFixed(0)} ms on 1 thread, ${(two * 1000).toFixed(0)} ms on 2`);
    }
    return { results, config: { weft: { api: 'ThreadPool.run', jobs, n: N }, piscina: { api: 'Piscina.run', jobs, n: N } } };
  },
};
