/**
 * Runs the benchmark suites one after another, prints a table per suite and writes
 * `bench/results/latest.json`.
 *
 *   npm run bench                          every suite, full counts
 *   npm run bench -- --quick               every suite, small counts (under a minute; CI smoke run)
 *   npm run bench -- ring-stream           only the suites named (a name, or part of one)
 *   WEFT_BENCH_QUICK=1 npm run bench       same as --quick
 *
 * A suite that throws (or times out) is reported and skipped; the others still run, and the process
 * exits with code 1 at the end so CI notices. A run of every suite rewrites latest.json; a filtered
 * run merges its suites into the existing file and leaves the other suites' figures in place.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RESERVED_KEYS,
  betterOf,
  formatTable,
  stopwatch,
  validateResult,
  withTimeout,
  type Metrics,
  type Suite,
} from './harness.js';
import { suites } from './suites/index.js';

// dist/bench/run.js → <root>/bench/results/latest.json (the source tree, not dist, so it survives a rebuild)
const RESULTS_FILE = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));

/** How long a process that has finished may linger on open handles before it is ended with code 1. */
const EXIT_GRACE_MS = 5_000;

interface Options {
  quick: boolean;
  filters: string[];
  list: boolean;
}

const USAGE = `usage: node dist/bench/run.js [--quick] [--list] [suite ...]
  --quick   small counts, whole run under a minute (also WEFT_BENCH_QUICK=1)
  --list    print the suite names and exit
  suite     run only these suites: an exact name, or else every suite whose name contains it`;

function parseArgs(argv: string[]): Options {
  const env = process.env.WEFT_BENCH_QUICK;
  const options: Options = { quick: env !== undefined && env !== '' && env !== '0' && env !== 'false', filters: [], list: false };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-')) {
      console.error(`unknown option \`${arg}\`; accepted: --quick, --list, --help, or suite names\n${USAGE}`);
      process.exit(2);
    } else options.filters.push(arg);
  }
  return options;
}

/** The suites a filter picks: an exact name wins; otherwise every name containing it. */
function select(all: readonly Suite[], filters: string[]): Suite[] {
  if (filters.length === 0) return [...all];
  const picked = new Set<Suite>();
  for (const filter of filters) {
    const exact = all.filter((s) => s.name === filter);
    const matches = exact.length > 0 ? exact : all.filter((s) => s.name.includes(filter));
    if (matches.length === 0) {
      console.error(`no suite matches \`${filter}\`; suites: ${all.map((s) => s.name).join(', ')}`);
      process.exit(2);
    }
    for (const suite of matches) picked.add(suite);
  }
  return all.filter((s) => picked.has(s)); // registry order, not command-line order
}

/** A registry mistake is a bug in the bench code: say so before measuring anything. */
function checkRegistry(all: readonly Suite[]): void {
  const seen = new Set<string>();
  for (const suite of all) {
    if (seen.has(suite.name)) throw new Error(`two suites are named \`${suite.name}\`; names key latest.json and must be unique`);
    seen.add(suite.name);
    if (RESERVED_KEYS.includes(suite.name)) {
      throw new Error(`suite name \`${suite.name}\` is a reserved key of latest.json (${RESERVED_KEYS.join(', ')})`);
    }
    if (suite.metrics.length === 0) throw new Error(`suite \`${suite.name}\` declares no metric`);
    if (suite.baseline !== undefined && betterOf(suite, suite.metrics[0]) === undefined) {
      throw new Error(
        `suite \`${suite.name}\`: cannot tell whether a higher or lower \`${suite.metrics[0]}\` is better; ` +
          `name it …PerSec / …Us / …Ms, or declare \`better: { ${suite.metrics[0]}: 'higher' | 'lower' }\``,
      );
    }
  }
}

interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  arch: string;
  memoryGB: number;
}

function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryGB: Math.round(totalmem() / 2 ** 30),
  };
}

/** When and how each suite in the file was measured, since a filtered run mixes runs in one file. */
interface RunInfo {
  date: string;
  quick: boolean;
  seconds: number;
}

interface ResultsFile {
  machine: Machine;
  date: string;
  quick: boolean;
  config: Record<string, Record<string, Record<string, unknown>>>;
  runs: Record<string, RunInfo>;
  errors: Record<string, string>;
  [suite: string]: unknown;
}

function readPrevious(): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(RESULTS_FILE, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {}
  console.error(`warning: ${RESULTS_FILE} is not a JSON object; rewriting it with this run's suites only`);
  return {};
}

function record(value: unknown): Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : {};
}

interface Outcome {
  suite: Suite;
  results?: Record<string, Metrics>;
  config?: Record<string, Record<string, unknown>>;
  error?: string;
  run: RunInfo;
}

/**
 * Builds latest.json: suites at the top level (numbers only), descriptive settings under `config`,
 * per-suite date and mode under `runs`, failures under `errors`. A filtered run starts from the
 * previous file; a suite that failed now loses its old figures, which no longer describe the code.
 */
function buildFile(outcomes: Outcome[], merge: boolean, date: string, quick: boolean): ResultsFile {
  const previous = merge ? readPrevious() : {};
  const suitesOut: Record<string, unknown> = {};
  const config = { ...record(previous.config) };
  const runs = { ...record(previous.runs) };
  const errors = { ...record(previous.errors) };
  for (const [key, value] of Object.entries(previous)) if (!RESERVED_KEYS.includes(key)) suitesOut[key] = value;
  for (const { suite, results, config: suiteConfig, error, run } of outcomes) {
    delete suitesOut[suite.name];
    delete config[suite.name];
    delete errors[suite.name];
    runs[suite.name] = run;
    if (results !== undefined) {
      suitesOut[suite.name] = rounded(results);
      if (suiteConfig !== undefined) config[suite.name] = suiteConfig;
    } else {
      errors[suite.name] = error ?? 'failed';
    }
  }
  for (const name of Object.keys(runs)) if (!(name in suitesOut) && !(name in errors)) delete runs[name];
  const anyQuick = quick || Object.values(runs).some((r) => record(r).quick === true);
  // suites in registry order, then any the registry no longer lists (kept from an earlier run)
  const order = (name: string) => {
    const i = suites.findIndex((s) => s.name === name);
    return i < 0 ? suites.length : i;
  };
  const sorted = Object.fromEntries(Object.entries(suitesOut).sort(([a], [b]) => order(a) - order(b)));
  return { machine: machine(), date, quick: anyQuick, ...sorted, config, runs, errors };
}

/**
 * Six significant digits for fractional figures (`347894.886044` → `347895`, `29.258499999` →
 * `29.2585`): far finer than run-to-run noise, and the file stays readable. Integers are kept exact.
 */
function rounded(results: Record<string, Metrics>): Record<string, Metrics> {
  const out: Record<string, Metrics> = {};
  for (const [library, metrics] of Object.entries(results)) {
    out[library] = {};
    for (const [metric, value] of Object.entries(metrics)) {
      out[library][metric] = Number.isInteger(value) ? value : Number(value.toPrecision(6));
    }
  }
  return out;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file); // readers (targets.mjs) never see half a file
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  checkRegistry(suites);
  if (options.list) {
    for (const suite of suites) console.log(`${suite.name.padEnd(20)} ${suite.title}`);
    return 0;
  }
  const selected = select(suites, options.filters);
  const m = machine();
  console.log(`weft benchmarks${options.quick ? ' (quick)' : ''}: ${selected.map((s) => s.name).join(', ')}`);
  console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node} ${m.platform}-${m.arch}\n`);

  const outcomes: Outcome[] = [];
  const total = stopwatch();
  for (const suite of selected) {
    console.log(`▶ ${suite.name}: ${suite.title}`);
    const elapsed = stopwatch();
    const date = new Date().toISOString();
    const ctx = { quick: options.quick, log: (line: string) => console.log(`  ${line}`) };
    // The timeout's timer also holds the event loop open: without it, a suite awaiting a promise
    // that nothing will ever settle would let Node exit mid-run with code 0 and no latest.json.
    const timeoutMs = suite.timeoutMs ?? (options.quick ? 50_000 : 300_000);
    try {
      const result = await withTimeout(suite.run(ctx), timeoutMs, `suite \`${suite.name}\``);
      validateResult(suite, result);
      const seconds = Math.round(elapsed() / 100) / 10;
      console.log(`\n${formatTable(suite, result.results)}\n  (${seconds} s)\n`);
      outcomes.push({ suite, results: result.results, config: result.config, run: { date, quick: options.quick, seconds } });
    } catch (err) {
      const seconds = Math.round(elapsed() / 100) / 10;
      console.error(`\n✘ suite \`${suite.name}\` failed after ${seconds} s; nothing recorded for it:`);
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      console.error('');
      const message = err instanceof Error ? err.message : String(err);
      outcomes.push({ suite, error: message, run: { date, quick: options.quick, seconds } });
    }
  }

  const file = buildFile(outcomes, options.filters.length > 0, new Date().toISOString(), options.quick);
  writeAtomically(RESULTS_FILE, `${JSON.stringify(file, null, 2)}\n`);
  const failed = outcomes.filter((o) => o.error !== undefined).map((o) => o.suite.name);
  console.log(`wrote ${RESULTS_FILE} (${Math.round(total() / 1000)} s in all)`);
  if (failed.length > 0) console.error(`✘ ${failed.length} suite(s) failed: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Every suite stops its workers, so the process should now exit on its own. If a handle keeps it
    // alive (a worker left running, a timed-out suite), say what it is and end the run as failed
    // rather than hang CI. unref(): this timer alone does not keep the process alive.
    setTimeout(() => {
      console.error(`✘ the process did not exit ${EXIT_GRACE_MS} ms after the last suite; still open: ${process.getActiveResourcesInfo().join(', ')} (a worker left running may not be listed)`);
      process.exit(1);
    }, EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
