/**
 * Sweeps the settings of the peers that have any, on the tiny-tasks workload, to choose each
 * adapter's default (the figures are in `README.md`):
 *
 *   npx tsc -p tsconfig.json && node dist/bench/peers/tune.js [--rounds N] [--tasks N] [--in-flight N] [--match RE] [lib ...]
 *
 * `--match RE` keeps the variants whose "<lib> <label>" matches the regular expression, e.g.
 * `--match 'piscina ctpw \d+, atomics sync$'`.
 *
 * Each variant is measured `rounds` times (default 3), the variants interleaved round by round so
 * that a burst of background noise does not land on one variant only; each measurement starts a
 * fresh pool with 2 threads, warms it up, runs `runTinyTasks(pool, tasks, inFlight)` and a short
 * `runRoundTrips`, and closes the pool. Printed: the median tasks/s over the rounds with its spread,
 * and the median of the round-trip medians.
 */
import { median, type Metrics } from '../harness.js';
import { runRoundTrips, runTinyTasks } from './drivers.js';
import { startPiscina, type PiscinaSettings } from './piscina.js';
import { startPoolifier, type PoolifierSettings } from './poolifier.js';
import { startTinypool, type TinypoolSettings } from './tinypool.js';
import type { PeerPool } from './types.js';
import { startWorkerpool } from './workerpool.js';
import { startComlink } from './comlink.js';
import { startPostMessage } from './post-message.js';

const THREADS = 2;

interface Variant {
  lib: string;
  label: string;
  start: () => Promise<PeerPool>;
}

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const atomics of ['sync', 'async', 'disabled'] as const) {
    for (const concurrentTasksPerWorker of [1, 4, 16, 64]) {
      const s: PiscinaSettings = { concurrentTasksPerWorker, atomics, taskQueue: 'fixed', recordTiming: false };
      out.push({ lib: 'piscina', label: `ctpw ${concurrentTasksPerWorker}, atomics ${atomics}`, start: () => startPiscina(THREADS, s) });
    }
  }
  for (const [taskQueue, recordTiming] of [['array', true], ['array', false], ['fixed', true]] as const) {
    for (const concurrentTasksPerWorker of [16, 64]) {
      const s: PiscinaSettings = { concurrentTasksPerWorker, atomics: 'sync', taskQueue, recordTiming };
      out.push({ lib: 'piscina', label: `ctpw ${concurrentTasksPerWorker}, atomics sync, ${taskQueue} queue, recordTiming ${recordTiming}`, start: () => startPiscina(THREADS, s) });
    }
  }
  for (const useAtomics of [true, false]) {
    for (const concurrentTasksPerWorker of [1, 4, 16, 64]) {
      const s: TinypoolSettings = { concurrentTasksPerWorker, useAtomics };
      out.push({ lib: 'tinypool', label: `ctpw ${concurrentTasksPerWorker}, useAtomics ${useAtomics}`, start: () => startTinypool(THREADS, s) });
    }
  }
  for (const workerChoiceStrategy of ['ROUND_ROBIN', 'LEAST_USED'] as const) {
    for (const enableEvents of [false, true]) {
      const s: PoolifierSettings = { enableTasksQueue: false, concurrency: 1, workerChoiceStrategy, enableEvents };
      out.push({ lib: 'poolifier', label: `no tasks queue, ${workerChoiceStrategy}, events ${enableEvents}`, start: () => startPoolifier(THREADS, s) });
    }
    for (const concurrency of [1, 4, 16, 64]) {
      const s: PoolifierSettings = { enableTasksQueue: true, concurrency, workerChoiceStrategy, enableEvents: false };
      out.push({ lib: 'poolifier', label: `tasks queue, concurrency ${concurrency}, ${workerChoiceStrategy}, events false`, start: () => startPoolifier(THREADS, s) });
    }
  }
  out.push({ lib: 'workerpool', label: 'defaults (one task per worker)', start: () => startWorkerpool(THREADS) });
  out.push({ lib: 'comlink', label: 'round-robin', start: () => startComlink(THREADS) });
  for (const transport of ['worker', 'channel'] as const) {
    out.push({ lib: 'postMessage', label: `transport ${transport}`, start: () => startPostMessage(THREADS, { transport }) });
  }
  return out;
}

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got: ${argv[i + 1]}`);
  argv.splice(i, 2);
  return value;
}

async function measureOnce(v: Variant, tasks: number, inFlight: number): Promise<Metrics> {
  const pool = await v.start();
  try {
    await runTinyTasks(pool, Math.max(5_000, tasks / 5), inFlight);
    await runRoundTrips(pool, 300);
    const { tasksPerSec } = await runTinyTasks(pool, tasks, inFlight);
    const { medianUs } = await runRoundTrips(pool, 1_000);
    return { tasksPerSec, medianUs };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = option(argv, '--rounds', 3);
  const tasks = option(argv, '--tasks', 100_000);
  const inFlight = option(argv, '--in-flight', 1024);
  const m = argv.indexOf('--match');
  const match = m < 0 ? undefined : new RegExp(argv.splice(m, 2)[1] ?? '');
  const selected = variants().filter((v) => (argv.length === 0 || argv.includes(v.lib)) && (match === undefined || match.test(`${v.lib} ${v.label}`)));
  if (selected.length === 0) throw new Error(`no variant matches ${argv.join(' ')} ${match ?? ''}`);
  console.log(`${selected.length} variants × ${rounds} rounds; runTinyTasks(${tasks}, ${inFlight}), ${THREADS} threads`);
  const figures = new Map<Variant, Metrics[]>(selected.map((v) => [v, []]));
  const failures = new Map<Variant, string[]>(selected.map((v) => [v, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const v of selected) {
      let m: Metrics;
      try {
        m = await measureOnce(v, tasks, inFlight);
      } catch (err) {
        // a variant that loses a call or crashes a worker is reported, not chosen; the sweep goes on
        const message = err instanceof Error ? err.message : String(err);
        failures.get(v)!.push(message);
        console.log(`  round ${round}  ${v.lib.padEnd(11)} ${v.label.padEnd(58)} ✘ ${message}`);
        continue;
      }
      figures.get(v)!.push(m);
      console.log(`  round ${round}  ${v.lib.padEnd(11)} ${v.label.padEnd(58)} ${Math.round(m.tasksPerSec).toLocaleString('en-US').padStart(9)} tasks/s  ${m.medianUs.toFixed(1).padStart(6)} µs`);
    }
  }
  console.log(`\nmedian over ${rounds} rounds:`);
  for (const v of selected) {
    const ms = figures.get(v)!;
    const failed = failures.get(v)!.length;
    if (ms.length === 0) {
      console.log(`  ${v.lib.padEnd(11)} ${v.label.padEnd(58)} ✘ failed in every round: ${failures.get(v)![0]}`);
      continue;
    }
    const note = failed > 0 ? `  ✘ failed in ${failed} of ${rounds} rounds` : '';
    const rates = ms.map((m) => m.tasksPerSec);
    const spread = `${Math.round(Math.min(...rates) / 1000)}k–${Math.round(Math.max(...rates) / 1000)}k`;
    console.log(`  ${v.lib.padEnd(11)} ${v.label.padEnd(58)} ${Math.round(median(rates)).toLocaleString('en-US').padStart(9)} tasks/s (${spread})  rt ${median(ms.map((m) => m.medianUs)).toFixed(1).padStart(5)} µs${note}`);
  }
}

main().then(
  () => {
    setTimeout(() => {
      console.error(`✘ the process did not exit 5 s after the sweep; still open: ${process.getActiveResourcesInfo().join(', ')}`);
      process.exit(1);
    }, 5_000).unref();
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
