/**
 * The bench runner behind `npx weft bench` and `npm run bench`: picks the suites, runs each one
 * (each repeat) in a process of its own with a time limit, prints a table per suite and a progress
 * line after it, then writes the results file and the chart, and compares with an earlier file.
 *
 *   weft bench                         every suite, full counts, 3 repeats each
 *   weft bench --quick                 every suite, small counts, once each (the CI smoke run)
 *   weft bench ring-stream round       only the suites named (a name, or part of one)
 *   weft bench --compare               … and compare with bench/results/baseline.json
 *   weft bench --json out.json --svg out.svg --compare before.json
 *
 * A suite that throws, returns a wrong answer or runs past its time limit is reported and ended
 * (its process group killed) and the others still run; the process then exits with code 1 so CI
 * notices. A suite that cannot run here (no nats-server) is skipped, and so are a peer library's
 * rows when the library is not installed; neither fails the run.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { RESERVED_KEYS, betterOf, formatNumber, formatTable, median, stopwatch, type Metrics, type Suite } from './harness.js';
import { renderChart } from './chart.js';
import { PACKAGE_ROOT } from './package-root.js';
import { compareFiles, formatChanges } from './compare.js';
import { killCurrentSuite, runIsolated } from './isolate.js';
import { buildFile, machine, readResultsFile, writeAtomically, type Spread, type SuiteOutcome } from './results-file.js';
import { suites } from './suites/index.js';

const ROOT = PACKAGE_ROOT;
/** A checkout has the bench's sources; an installed package ships only dist/. */
const IN_CHECKOUT = existsSync(join(ROOT, 'bench', 'harness.ts'));
/** Where results go by default: the checkout's (gitignored) bench/results, else ./weft-bench. */
const RESULTS_DIR = IN_CHECKOUT ? join(ROOT, 'bench', 'results') : resolve('weft-bench');
const BASELINE = join(ROOT, 'bench', 'results', 'baseline.json');

export const USAGE = `usage: weft bench [suite ...] [options]
  suite             run only these suites: an exact name, or else every suite whose name contains it
  --quick           small counts, one repeat: the whole run in a minute or two (also WEFT_BENCH_QUICK=1)
  --repeat N        run each suite N times and record min / median / max (default 3, quick 1)
  --json FILE       where to write the results (default ${relative(process.cwd(), join(RESULTS_DIR, 'latest.json')) || 'latest.json'})
  --svg FILE        where to write the chart (default ${relative(process.cwd(), RESULTS_DIR) || '.'}/<date>.svg)
  --compare [FILE]  compare with an earlier results file (default bench/results/baseline.json in a checkout)
  --list            print the suite names and exit`;

export interface BenchOptions {
  quick: boolean;
  filters: string[];
  list: boolean;
  repeat: number;
  json: string;
  svg: string | undefined;
  compare: string | undefined;
}

class UsageError extends Error {}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const flag = env.WEFT_BENCH_QUICK;
  const options: BenchOptions = { quick: flag !== undefined && flag !== '' && flag !== '0' && flag !== 'false', filters: [], list: false, repeat: 0, json: join(RESULTS_DIR, 'latest.json'), svg: undefined, compare: undefined };
  const value = (i: number, name: string): string => {
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('-')) throw new UsageError(`${name} needs a value, got: ${next === undefined ? 'nothing' : `\`${next}\``}`);
    return next;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--json') options.json = resolve(value(i++, '--json'));
    else if (arg === '--svg') options.svg = resolve(value(i++, '--svg'));
    else if (arg === '--repeat') {
      const text = value(i++, '--repeat');
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 1 || n > 100) throw new UsageError(`expected \`--repeat\` to be an integer from 1 to 100, got: \`${text}\``);
      options.repeat = n;
    } else if (arg === '--compare') {
      const next = argv[i + 1];
      if (next !== undefined && next.endsWith('.json')) options.compare = resolve(argv[++i]);
      else if (IN_CHECKOUT) options.compare = BASELINE;
      else throw new UsageError('--compare needs a results file (FILE.json) outside a checkout of weft');
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option \`${arg}\`; accepted: --quick, --repeat, --json, --svg, --compare, --list, --help, or suite names`);
    else options.filters.push(arg);
  }
  if (options.repeat === 0) options.repeat = options.quick ? 1 : 3;
  return options;
}

/** The suites a filter picks: an exact name wins; otherwise every name containing it. */
function select(all: readonly Suite[], filters: string[]): Suite[] {
  if (filters.length === 0) return [...all];
  const picked = new Set<Suite>();
  for (const filter of filters) {
    const exact = all.filter((s) => s.name === filter);
    const matches = exact.length > 0 ? exact : all.filter((s) => s.name.includes(filter));
    if (matches.length === 0) throw new UsageError(`no suite matches \`${filter}\`; suites: ${all.map((s) => s.name).join(', ')}`);
    for (const suite of matches) picked.add(suite);
  }
  return all.filter((s) => picked.has(s)); // registry order, not command-line order
}

/** A registry mistake is a bug in the bench code: say so before measuring anything. */
function checkRegistry(all: readonly Suite[]): void {
  const seen = new Set<string>();
  for (const suite of all) {
    if (seen.has(suite.name)) throw new Error(`two suites are named \`${suite.name}\`; names key the results file and must be unique`);
    seen.add(suite.name);
    if (RESERVED_KEYS.includes(suite.name)) throw new Error(`suite name \`${suite.name}\` is a reserved key of the results file (${RESERVED_KEYS.join(', ')})`);
    if (suite.metrics.length === 0) throw new Error(`suite \`${suite.name}\` declares no metric`);
    if (suite.baseline !== undefined && betterOf(suite, suite.metrics[0]) === undefined) {
      throw new Error(
        `suite \`${suite.name}\`: cannot tell whether a higher or lower \`${suite.metrics[0]}\` is better; ` +
          `name it …PerSec / …Us / …Ms, or declare \`better: { ${suite.metrics[0]}: 'higher' | 'lower' }\``,
      );
    }
  }
}

/** The medians of the repeats (the figures), and min / median / max of each. */
export function aggregate(repeats: readonly Record<string, Metrics>[]): { results: Record<string, Metrics>; spread: Record<string, Record<string, Spread>> } {
  const results: Record<string, Metrics> = {};
  const spread: Record<string, Record<string, Spread>> = {};
  for (const library of Object.keys(repeats[0] ?? {})) {
    results[library] = {};
    spread[library] = {};
    for (const metric of Object.keys(repeats[0][library])) {
      const values = repeats.map((r) => r[library]?.[metric]).filter((v): v is number => typeof v === 'number');
      const mid = median(values);
      results[library][metric] = mid;
      spread[library][metric] = { min: Math.min(...values), median: mid, max: Math.max(...values) };
    }
  }
  return { results, spread };
}

/** One suite, `repeat` times, each in a fresh process. */
async function runSuite(suite: Suite, options: BenchOptions): Promise<SuiteOutcome> {
  const elapsed = stopwatch();
  const date = new Date().toISOString();
  const timeoutMs = suite.timeoutMs ?? (options.quick ? 50_000 : 300_000);
  const measured: Record<string, Metrics>[] = [];
  const skipped: Record<string, string> = {};
  let config: Record<string, Record<string, unknown>> | undefined;
  const run = () => ({ date, quick: options.quick, seconds: Math.round(elapsed() / 100) / 10, repeats: measured.length });
  for (let r = 1; r <= options.repeat; r++) {
    if (options.repeat > 1) console.log(`  · repeat ${r} of ${options.repeat}`);
    const outcome = await runIsolated(suite.name, options.quick, timeoutMs);
    if (outcome.type === 'error') return { name: suite.name, skipped, error: outcome.message, run: run() };
    if (outcome.type === 'skipped') return { name: suite.name, skipped: { '*': outcome.reason }, run: run() };
    measured.push(outcome.results);
    Object.assign(skipped, outcome.skipped);
    config ??= outcome.config;
  }
  const { results, spread } = aggregate(measured);
  return { name: suite.name, results, spread, config, skipped, run: run() };
}

function printSpread(suite: Suite, outcome: SuiteOutcome): void {
  if (outcome.spread === undefined || outcome.run.repeats < 2) return;
  const metric = suite.metrics[0];
  const parts = Object.entries(outcome.spread).map(([library, s]) => `${library} ${formatNumber(s[metric]?.min)} – ${formatNumber(s[metric]?.max)}`);
  console.log(`  ${metric} over ${outcome.run.repeats} repeats (min – max; the table shows medians): ${parts.join('; ')}`);
}

export async function runBench(argv: readonly string[]): Promise<number> {
  let options: BenchOptions | 'help';
  let selected: Suite[];
  let before: Record<string, unknown> | undefined;
  try {
    options = parseArgs(argv);
    if (options === 'help') {
      console.log(USAGE);
      return 0;
    }
    checkRegistry(suites);
    if (options.list) {
      for (const suite of suites) console.log(`${suite.name.padEnd(20)} ${suite.title}`);
      return 0;
    }
    selected = select(suites, options.filters);
    if (options.compare !== undefined) {
      before = readResultsFile(options.compare);
      if (before === undefined) throw new UsageError(`--compare: ${options.compare} does not exist${options.compare === BASELINE ? ' (no baseline has been recorded in this checkout)' : ''}`);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }

  const m = machine();
  console.log(`weft benchmarks${options.quick ? ' (quick)' : ''}, ${options.repeat} repeat${options.repeat === 1 ? '' : 's'} each: ${selected.map((s) => s.name).join(', ')}`);
  console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node} ${m.platform}-${m.arch}\n`);
  const onSignal = (signal: NodeJS.Signals) => {
    killCurrentSuite();
    console.error(`\n✘ ${signal}: the running suite was killed`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  const outcomes: SuiteOutcome[] = [];
  const total = stopwatch();
  for (const [index, suite] of selected.entries()) {
    const step = `[${index + 1}/${selected.length}]`;
    console.log(`▶ ${step} ${suite.name}: ${suite.title}`);
    const outcome = await runSuite(suite, options);
    outcomes.push(outcome);
    const seconds = `${outcome.run.seconds} s`;
    if (outcome.error !== undefined) {
      console.error(`✘ ${step} ${suite.name} failed after ${seconds}; nothing recorded for it: ${outcome.error}\n`);
    } else if (outcome.results === undefined) {
      console.log(`⊘ ${step} ${suite.name} skipped: ${outcome.skipped['*']}\n`);
    } else {
      console.log(`\n${formatTable(suite, outcome.results)}`);
      printSpread(suite, outcome);
      console.log(`✔ ${step} ${suite.name} (${seconds})\n`);
    }
  }
  process.off('SIGINT', onSignal).off('SIGTERM', onSignal);

  const date = new Date().toISOString();
  // A filtered run adds its suites to the file it writes; a run of every suite starts it afresh.
  const previous = options.filters.length > 0 ? readPreviousQuietly(options.json) : undefined;
  const file = buildFile(outcomes, previous, suites.map((s) => s.name), date, options.quick);
  writeAtomically(options.json, `${JSON.stringify(file, null, 2)}\n`);
  const svg = options.svg ?? join(RESULTS_DIR, `${date.replace(/[:.]/g, '-')}.svg`);
  const charted = outcomes.flatMap((o) => {
    const suite = suites.find((s) => s.name === o.name);
    return o.results === undefined || suite === undefined ? [] : [{ suite, results: o.results }];
  });
  writeAtomically(svg, renderChart(charted, file.machine, date, options.quick));
  console.log(`wrote ${options.json} and ${svg} (${Math.round(total() / 1000)} s in all)`);

  if (before !== undefined && options.compare !== undefined) {
    const measured = new Set(outcomes.filter((o) => o.results !== undefined).map((o) => o.name));
    console.log(`\n${formatChanges(compareFiles(before, file, suites, measured), options.compare)}`);
  }
  const failed = outcomes.filter((o) => o.error !== undefined).map((o) => o.name);
  if (failed.length > 0) console.error(`✘ ${failed.length} suite(s) failed: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

function readPreviousQuietly(file: string): Record<string, unknown> | undefined {
  try {
    return readResultsFile(file);
  } catch (err) {
    console.error(`warning: ${file} is not a results file (${err instanceof Error ? err.message : String(err)}); rewriting it with this run's suites only`);
    return undefined;
  }
}
