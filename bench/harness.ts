/**
 * The benchmark harness: what a suite is, the statistics and timer every suite shares, and the table
 * the runner prints.
 *
 * A suite measures one workload for several libraries in the same process, one after another, so
 * every figure in its table comes from the same machine, the same Node and the same minute. A suite
 * returns plain numbers; the runner (`run.ts`) runs each suite in a process of its own
 * (`suite-process.ts`), prints its table and writes the results file.
 *
 *   suite.run(ctx) ──► { results: { postMessage: { msgsPerSec: 407_000 },
 *                                   weft:        { msgsPerSec: 4_200_000 } },
 *                        config:  { postMessage: { transport: 'MessageChannel port' } } }
 *
 * To add a suite: write `bench/suites/<name>.ts` exporting `suite: Suite`, and add it to the list in
 * `bench/suites/index.ts`. Give it a quick mode (smaller counts, same assertions) so that the whole
 * `--quick` run stays under a minute.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

// ─── the suite contract ──────────────────────────────────────────────────────────────────────────

/** One library's figures in one suite: metric name → finite number. */
export type Metrics = Record<string, number>;

/** What a suite hands back: numbers only in `results`; anything descriptive goes in `config`. */
export interface SuiteResult {
  /** library → metric → value. Every library must report every metric in `Suite.metrics`. */
  results: Record<string, Metrics>;
  /** library → the settings that produced its figures (counts, transport, pool options…). */
  config?: Record<string, Record<string, unknown>>;
}

export interface SuiteContext {
  /** Shrink counts so the whole run finishes in under a minute; keep every check. */
  quick: boolean;
  /** A progress line, printed indented under the suite's heading. */
  log: (line: string) => void;
  /**
   * Says a library's rows are left out of this run, and why (its optional package is not
   * installed): printed, and recorded under `skipped` in the results file.
   */
  skip: (library: string, reason: string) => void;
}

export type Better = 'higher' | 'lower';

export interface Suite {
  /** Stable key: the command-line filter and the key in latest.json. Lower-case, dashes. */
  name: string;
  /** One line saying what is measured, printed above the table. */
  title: string;
  /** The library the ratio column compares against, when the suite has one. */
  baseline?: string;
  /** Metric names in column order; the first is the one the ratio column uses. */
  metrics: string[];
  /**
   * Which way is better, for metrics whose name does not say (see `betterOf`).
   * @default inferred from the name: `…PerSec`, `speedup` → higher; `…Us`, `…Ms`, `…Ns` → lower
   */
  better?: Record<string, Better>;
  /**
   * The runner gives up on the suite (and fails the run) after this long.
   * @default 50_000 in quick mode, 300_000 otherwise
   */
  timeoutMs?: number;
  run(ctx: SuiteContext): Promise<SuiteResult>;
}

/** Top-level keys of latest.json that are not suites; a suite may not take one of these names. */
export const RESERVED_KEYS: readonly string[] = ['machine', 'date', 'quick', 'config', 'runs', 'errors', 'spread', 'skipped'];

/**
 * Thrown by a suite that cannot run here at all (a tool it needs is missing): the runner records it
 * under `skipped` with this message and goes on, and the run does not fail for it.
 */
export class SuiteSkipped extends Error {
  override readonly name = 'SuiteSkipped';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Which way a metric improves: the suite's override, else the unit its name ends with. */
export function betterOf(suite: Pick<Suite, 'better'>, metric: string): Better | undefined {
  const declared = suite.better?.[metric];
  if (declared !== undefined) return declared;
  if (/PerSec$|^speedup$|Speedup$/.test(metric)) return 'higher';
  if (/(Us|Ms|Ns)$/.test(metric)) return 'lower';
  return undefined;
}

/**
 * Checks what a suite returned against what it declared, so a broken suite fails loudly instead of
 * writing `null`s (JSON has no NaN) or a missing column into latest.json.
 */
export function validateResult(suite: Suite, result: SuiteResult): void {
  assert(typeof result === 'object' && result !== null && typeof result.results === 'object' && result.results !== null,
    `suite \`${suite.name}\` must return { results: { <library>: { <metric>: number } } }, got: ${describe(result)}`);
  const libraries = Object.keys(result.results);
  assert(libraries.length > 0, `suite \`${suite.name}\` returned no library, got: {}`);
  for (const library of libraries) {
    const metrics = result.results[library];
    assert(typeof metrics === 'object' && metrics !== null,
      `suite \`${suite.name}\`, library \`${library}\`: expected an object of numbers, got: ${describe(metrics)}`);
    for (const metric of suite.metrics) {
      assert(metric in metrics, `suite \`${suite.name}\`, library \`${library}\`: metric \`${metric}\` is missing, got: ${describe(metrics)}`);
    }
    for (const [metric, value] of Object.entries(metrics)) {
      assert(typeof value === 'number' && Number.isFinite(value),
        `suite \`${suite.name}\`, library \`${library}\`: \`${metric}\` must be a finite number, got: ${describe(value)}`);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || value === undefined || value === null) return `${String(value)} (${value === null ? 'null' : typeof value})`;
  try {
    return `${JSON.stringify(value)} (${typeof value})`;
  } catch {
    return `${String(value)} (${typeof value})`;
  }
}

// ─── time ────────────────────────────────────────────────────────────────────────────────────────

/**
 * Monotonic milliseconds with sub-microsecond resolution (`performance.now()`, which Node does not
 * coarsen). Cheaper per call than `process.hrtime.bigint()`, which allocates a BigInt: that matters
 * when a loop takes one reading per few-microsecond round trip.
 */
export const now: () => number = () => performance.now();

/** Starts a stopwatch; the returned function gives the milliseconds elapsed since. */
export function stopwatch(): () => number {
  const start = performance.now();
  return () => performance.now() - start;
}

// ─── statistics ──────────────────────────────────────────────────────────────────────────────────

function sortedCopy(values: ArrayLike<number>): Float64Array {
  let sorted = true;
  for (let i = 1; i < values.length; i++) {
    if (values[i - 1] > values[i]) {
      sorted = false;
      break;
    }
  }
  const copy = Float64Array.from(values);
  // a Float64Array sorts numerically (no comparator, no string conversion)
  return sorted ? copy : copy.sort();
}

/**
 * The `p`-th percentile (0 < p ≤ 100) by nearest rank: the smallest sample with at least p % of the
 * samples at or below it, so the answer is always a value that was measured. Sorts a copy unless the
 * input is already sorted.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  assert(values.length > 0, 'percentile() needs at least one sample, got: 0 samples');
  assert(p > 0 && p <= 100, `percentile() expects 0 < p <= 100, got: ${p}`);
  const sorted = sortedCopy(values);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The median; the mean of the two middle samples when the count is even. */
export function median(values: ArrayLike<number>): number {
  assert(values.length > 0, 'median() needs at least one sample, got: 0 samples');
  const sorted = sortedCopy(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ─── workers ─────────────────────────────────────────────────────────────────────────────────────

export interface BenchWorker {
  readonly worker: Worker;
  /**
   * Rejects when the worker throws or exits before `stop()`; never resolves. Race it against every
   * wait on the worker so a dead worker fails the suite instead of hanging it.
   */
  readonly failed: Promise<never>;
  /** Terminates the worker (safe to call twice), so the benchmark process can exit by itself. */
  stop(): Promise<void>;
}

/** Starts a worker from a compiled file, e.g. `new URL('../workers/post-sink.js', import.meta.url)`. */
export function startWorker(file: URL, options?: WorkerOptions): BenchWorker {
  const worker = new Worker(file, options);
  let stopping = false;
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', (err) => reject(err));
    worker.once('exit', (code) => {
      if (!stopping) reject(new Error(`worker ${file.pathname} exited early with code ${code}`));
    });
  });
  failed.catch(() => {}); // handled by whoever races it; never an unhandled rejection
  return {
    worker,
    failed,
    async stop() {
      if (stopping) return;
      stopping = true;
      await worker.terminate();
    },
  };
}

/** The next message on a port or worker. Attach it before the send that provokes the reply. */
export function nextMessage<T>(source: { once(event: 'message', listener: (value: any) => void): unknown }): Promise<T> {
  return new Promise<T>((resolve) => source.once('message', resolve as (value: any) => void));
}

/** Rejects with a message naming `what` if `promise` has not settled after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms.toLocaleString('en-US')} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ─── formatting ──────────────────────────────────────────────────────────────────────────────────

/**
 * A figure for people: thousands separators from 1,000 up, then fewer decimals the larger the value
 * (`4,213,377`, `312.4`, `21.4`, `1.27`, `0.0831`); integers stay integers.
 */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  let digits: number;
  if (Number.isInteger(value) || abs >= 1000) digits = 0;
  else if (abs >= 10) digits = 1;
  else if (abs >= 1) digits = 2;
  else return Number(value.toPrecision(3)).toString();
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `3.21×`; `—` when either side is missing. Above 1 means better than the baseline. */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  return ratio >= 100 ? `${Math.round(ratio).toLocaleString('en-US')}×` : `${ratio.toFixed(2)}×`;
}

/**
 * How many times better than the baseline `library` is on `metric`, whichever way the metric
 * improves: `lib / base` for a rate, `base / lib` for a latency. Undefined when it cannot be said.
 */
export function ratioToBaseline(suite: Suite, results: Record<string, Metrics>, library: string, metric: string): number | undefined {
  if (suite.baseline === undefined) return undefined;
  const base = results[suite.baseline]?.[metric];
  const value = results[library]?.[metric];
  const better = betterOf(suite, metric);
  if (base === undefined || value === undefined || better === undefined || base === 0 || value === 0) return undefined;
  return better === 'higher' ? value / base : base / value;
}

/**
 * The table printed for one suite: a row per library, a column per metric (declared ones first, then
 * any extra a library reported), and a ratio column against the baseline on the first metric.
 *
 *   library        msgsPerSec  × postMessage
 *   ───────────  ────────────  ─────────────
 *   postMessage       407,018          1.00×
 *   weft            4,213,377         10.77×
 */
export function formatTable(suite: Suite, results: Record<string, Metrics>): string {
  const columns = [...suite.metrics];
  for (const metrics of Object.values(results)) {
    for (const metric of Object.keys(metrics)) if (!columns.includes(metric)) columns.push(metric);
  }
  const primary = suite.metrics[0];
  const withRatio = suite.baseline !== undefined && primary !== undefined;
  const header = ['library', ...columns, ...(withRatio ? [`× ${suite.baseline}`] : [])];
  const rows = Object.entries(results).map(([library, metrics]) => [
    library,
    ...columns.map((metric) => formatNumber(metrics[metric])),
    ...(withRatio ? [formatRatio(ratioToBaseline(suite, results, library, primary))] : []),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  const out = [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)];
  if (withRatio) {
    const better = betterOf(suite, primary);
    const how = better === 'lower' ? `${suite.baseline}'s ${primary} ÷ the library's` : `the library's ${primary} ÷ ${suite.baseline}'s`;
    out.push(`(× ${suite.baseline}: ${how}; above 1 is better)`);
  }
  return out.join('\n');
}
