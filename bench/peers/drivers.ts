/**
 * The two workloads the peer suites run, the same code for every peer (re-exported by `index.ts`):
 *
 * - `runTinyTasks`: throughput with many tiny tasks in flight. `inFlight` calls of `add(a, b)` are
 *   started at once and each completion starts the next, until `tasks` have completed. Timed from
 *   the first call to the last answer.
 * - `runRoundTrips`: latency with one call in flight. Each `add(a, b)` is awaited before the next
 *   one leaves, and each is timed on its own (from the call to the resumption after its `await`).
 *
 * Every answer is checked against a + b (each call has its own operands, so a pool that mixed up
 * replies would fail too), and a wrong one makes the driver throw. A driver never hangs: it fails
 * when the pool rejects a call, when the pool's `failed` signal fires (a dead worker), or when no
 * call has completed for `STALL_MS` (a call lost by a library that neither answers nor rejects).
 * The watchdog is one interval timer per run, not a timer per call, so it does not weigh on the
 * figures.
 */
import { assert, median, now, percentile } from '../harness.js';
import type { PeerPool } from './types.js';

/** A run fails when no call has completed for this long. */
export const STALL_MS = 10_000;
const WATCHDOG_TICK_MS = 500;
/**
 * After a failure, how long a driver waits for the calls still in flight to settle before it throws,
 * so that the caller's `close()` does not tear the pool down under answers still on their way
 * (poolifier throws an uncaught error for an answer from a worker it has already removed).
 */
export const DRAIN_MS = 2_000;

/** Distinct operands per call, small enough that every sum is exact. */
const operandA = (i: number) => i;
const operandB = (i: number) => (i * 7919) % 65_536;

function wrongAnswer(what: string, a: number, b: number, got: unknown): Error {
  return new Error(`${what}: add(${a}, ${b}) resolved with ${JSON.stringify(got)} (${typeof got}), expected ${a + b}`);
}

/** Resolves when `outstanding()` is 0, or after `ms` if it never gets there. Only on the failure path. */
async function drain(outstanding: () => number, ms: number): Promise<void> {
  const deadline = now() + ms;
  while (outstanding() > 0 && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * Settles with `work`, unless the pool reports a dead worker or `progress()` stops moving for
 * `STALL_MS` first. On any failure, waits up to `DRAIN_MS` for `outstanding()` calls to settle,
 * then throws the failure.
 */
async function guarded<T>(pool: PeerPool, work: Promise<T>, progress: () => number, outstanding: () => number, what: string): Promise<T> {
  try {
    return await watched(pool, work, progress, what);
  } catch (err) {
    await drain(outstanding, DRAIN_MS);
    throw err;
  }
}

function watched<T>(pool: PeerPool, work: Promise<T>, progress: () => number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    let last = progress();
    let lastMoved = now();
    timer = setInterval(() => {
      const p = progress();
      if (p !== last) {
        last = p;
        lastMoved = now();
      } else if (now() - lastMoved >= STALL_MS) {
        reject(new Error(`${what}: no call completed for ${STALL_MS.toLocaleString('en-US')} ms after ${p.toLocaleString('en-US')} completions (a worker died or a call was lost)`));
      }
    }, WATCHDOG_TICK_MS);
  });
  const racers: Promise<T>[] = [work, stalled];
  if (pool.failed !== undefined) racers.push(pool.failed);
  return Promise.race(racers).finally(() => clearInterval(timer));
}

/**
 * Keeps `inFlight` `add()` calls outstanding until `tasks` have completed; checks every result and
 * throws on a wrong one. Returns completed tasks per second, from the first call to the last answer.
 */
export async function runTinyTasks(pool: PeerPool, tasks: number, inFlight: number): Promise<{ tasksPerSec: number }> {
  assert(Number.isSafeInteger(tasks) && tasks > 0, `runTinyTasks: tasks must be a positive integer, got: ${tasks}`);
  assert(Number.isSafeInteger(inFlight) && inFlight > 0, `runTinyTasks: inFlight must be a positive integer, got: ${inFlight}`);
  let started = 0;
  let completed = 0;
  let settled = 0; // answered or rejected, including after a failure
  let startedAt = 0;
  let endedAt = 0;
  const work = new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const launch = (): void => {
      const i = started++;
      const a = operandA(i);
      const b = operandB(i);
      let answer: Promise<number>;
      try {
        answer = pool.add(a, b);
      } catch (err) {
        fail(err);
        return;
      }
      answer.then((r) => {
        settled++;
        if (failed) return;
        if (r !== a + b) return fail(wrongAnswer('runTinyTasks', a, b, r));
        if (++completed === tasks) {
          endedAt = now();
          resolve();
        } else if (started < tasks) {
          launch();
        }
      }, (err: unknown) => {
        settled++;
        fail(err);
      });
    };
    startedAt = now();
    const initial = Math.min(inFlight, tasks);
    for (let k = 0; k < initial && !failed; k++) launch();
  });
  await guarded(pool, work, () => completed, () => started - settled, `runTinyTasks(${tasks}, ${inFlight})`);
  return { tasksPerSec: tasks / ((endedAt - startedAt) / 1000) };
}

/**
 * `roundTrips` sequential `add()` calls, each awaited before the next and each timed; checks every
 * result. Returns the median and 99th percentile (nearest rank) of the samples, in microseconds.
 */
export async function runRoundTrips(pool: PeerPool, roundTrips: number): Promise<{ medianUs: number; p99Us: number }> {
  assert(Number.isSafeInteger(roundTrips) && roundTrips > 0, `runRoundTrips: roundTrips must be a positive integer, got: ${roundTrips}`);
  const samples = new Float64Array(roundTrips);
  let completed = 0;
  let inFlight = 0;
  const work = (async () => {
    for (let i = 0; i < roundTrips; i++) {
      const a = operandA(i);
      const b = operandB(i);
      let r: number;
      inFlight = 1;
      const t0 = now();
      try {
        r = await pool.add(a, b);
      } finally {
        inFlight = 0;
      }
      samples[i] = now() - t0;
      if (r !== a + b) throw wrongAnswer('runRoundTrips', a, b, r);
      completed = i + 1;
    }
  })();
  await guarded(pool, work, () => completed, () => inFlight, `runRoundTrips(${roundTrips})`);
  return { medianUs: median(samples) * 1000, p99Us: percentile(samples, 99) * 1000 };
}

/** One library for `compareTinyTasks`: a peer, or weft in the suite's own way. */
export interface TinyTasksEntrant {
  name: string;
  start(threads: number): Promise<PeerPool>;
  config(threads: number): Record<string, unknown>;
}

/**
 * How long each library runs tiny tasks before it is measured (ms; quick runs a fifth of it).
 * The figure is a service's steady state: V8 optimizes a library's JavaScript on background
 * threads over its first few hundred ms, and after 20,000 tasks (what this was before) weft's main
 * thread still spent twice the CPU per task it spends a second later (1.2 µs against 0.6). A peer
 * whose path is mostly C++ (postMessage) gains little from the same warm-up, but gets it too.
 */
export const WARMUP_MS = 1_000;
/** Tasks per warm-up batch, and the fewest a warm-up runs. */
const WARMUP_BATCH = 20_000;

/**
 * The tiny-task comparison both tiny-tasks and pool-run make: each library in turn, in a pool
 * started afresh with `threads` threads, warmed up for `warmupMs` (at least WARMUP_BATCH tasks),
 * then measured on `tasks` with `inFlight` outstanding, and closed; its rate and settings recorded
 * under its name.
 */
export async function compareTinyTasks(
  entrants: readonly TinyTasksEntrant[],
  threads: number,
  tasks: number,
  inFlight: number,
  log: (line: string) => void,
  warmupMs: number = WARMUP_MS,
): Promise<{ results: Record<string, { tasksPerSec: number }>; config: Record<string, Record<string, unknown>> }> {
  const results: Record<string, { tasksPerSec: number }> = {};
  const config: Record<string, Record<string, unknown>> = {};
  for (const entrant of entrants) {
    const pool = await entrant.start(threads);
    try {
      const warmUntil = now() + warmupMs;
      do await runTinyTasks(pool, Math.min(tasks, WARMUP_BATCH), inFlight);
      while (now() < warmUntil);
      results[entrant.name] = await runTinyTasks(pool, tasks, inFlight);
    } finally {
      await pool.close();
    }
    config[entrant.name] = { ...entrant.config(threads), warmupMs };
    log(`${entrant.name}: ${Math.round(results[entrant.name].tasksPerSec).toLocaleString('en-US')} tasks/s`);
  }
  return { results, config };
}
