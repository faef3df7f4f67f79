/**
 * The results file a run writes (`bench/results/latest.json` from a checkout, `--json FILE` from
 * anywhere): suites at the top level, `library → metric → number` and nothing else, so a script can
 * read `file[suite][library][metric]`; everything else under the reserved keys.
 *
 *   {
 *     "machine": { "cores": 2, "cpu": "…", "node": "v20.20.2", … },
 *     "date": "…", "quick": false,
 *     "ring-stream": { "postMessage": { "msgsPerSec": 664948 }, "weft": { "msgsPerSec": 2229655 } },
 *     "spread":  { "ring-stream": { "weft": { "msgsPerSec": { "min": …, "median": …, "max": … } } } },
 *     "config":  { "ring-stream": { "weft": { "messages": 2000000 } } },
 *     "runs":    { "ring-stream": { "date": "…", "quick": false, "seconds": 6.1, "repeats": 3 } },
 *     "skipped": { "tiny-tasks": { "piscina": "piscina is not installed; …" } },
 *     "errors":  {}
 *   }
 *
 * With repeats, the top-level figure is the median of the repeats and `spread` holds min, median
 * and max, the run-to-run noise that `--compare` weighs a change against.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { RESERVED_KEYS, type Metrics } from './harness.js';

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  arch: string;
  memoryGB: number;
  /**
   * The 1, 5 and 15 minute load averages when the file was written (all zero on Windows): on a
   * shared machine, the first thing to look at before believing a figure.
   */
  loadAverage: number[];
}

export function machine(): Machine {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/** When and how each suite in the file was measured, since a filtered run mixes runs in one file. */
export interface RunInfo {
  date: string;
  quick: boolean;
  /** Wall time of all the repeats together. */
  seconds: number;
  repeats: number;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export type SuiteFigures = Record<string, Metrics>;

export interface ResultsFile {
  machine: Machine;
  date: string;
  quick: boolean;
  spread: Record<string, Record<string, Record<string, Spread>>>;
  config: Record<string, Record<string, Record<string, unknown>>>;
  runs: Record<string, RunInfo>;
  skipped: Record<string, Record<string, string>>;
  errors: Record<string, string>;
  [suite: string]: unknown;
}

/** One suite's part of a run: its figures (the medians), or the error that stopped it. */
export interface SuiteOutcome {
  name: string;
  results?: SuiteFigures;
  spread?: Record<string, Record<string, Spread>>;
  config?: Record<string, Record<string, unknown>>;
  skipped: Record<string, string>;
  error?: string;
  run: RunInfo;
}

/** An object, or `{}` for anything else (so a hand-edited or truncated file is read as empty). */
export function record(value: unknown): Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : {};
}

/** The parsed file, or undefined if it does not exist; throws if it is there but not a JSON object. */
export function readResultsFile(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: expected a JSON object, got: ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  return parsed as Record<string, unknown>;
}

/** The suites of a results file: every top-level key that is not reserved. */
export function suitesOf(file: Record<string, unknown>): Record<string, SuiteFigures> {
  const out: Record<string, SuiteFigures> = {};
  for (const [key, value] of Object.entries(file)) if (!RESERVED_KEYS.includes(key)) out[key] = record(value) as SuiteFigures;
  return out;
}

/**
 * Builds the file: this run's outcomes over `previous` (a filtered run merges into the file it
 * writes; pass undefined to start afresh). A suite that failed now loses its old figures, which no
 * longer describe the code. Suites are listed in `order`, then any the registry no longer has.
 */
export function buildFile(outcomes: readonly SuiteOutcome[], previous: Record<string, unknown> | undefined, order: readonly string[], date: string, quick: boolean): ResultsFile {
  const prev = previous ?? {};
  const suitesOut: Record<string, unknown> = suitesOf(prev);
  const sections = {
    spread: { ...record(prev.spread) },
    config: { ...record(prev.config) },
    runs: { ...record(prev.runs) },
    skipped: { ...record(prev.skipped) },
    errors: { ...record(prev.errors) },
  };
  for (const outcome of outcomes) {
    delete suitesOut[outcome.name];
    for (const section of Object.values(sections)) delete section[outcome.name];
    sections.runs[outcome.name] = outcome.run;
    if (Object.keys(outcome.skipped).length > 0) sections.skipped[outcome.name] = outcome.skipped;
    if (outcome.results !== undefined) {
      suitesOut[outcome.name] = rounded(outcome.results);
      if (outcome.spread !== undefined) sections.spread[outcome.name] = roundedSpread(outcome.spread);
      if (outcome.config !== undefined) sections.config[outcome.name] = outcome.config;
    } else {
      sections.errors[outcome.name] = outcome.error ?? 'failed';
    }
  }
  const { runs } = sections;
  for (const name of Object.keys(runs)) if (!(name in suitesOut) && !(name in sections.errors) && !(name in sections.skipped)) delete runs[name];
  const anyQuick = quick || Object.values(runs).some((r) => record(r).quick === true);
  const rank = (name: string) => {
    const i = order.indexOf(name);
    return i < 0 ? order.length : i;
  };
  const sorted = Object.fromEntries(Object.entries(suitesOut).sort(([a], [b]) => rank(a) - rank(b)));
  return { machine: machine(), date, quick: anyQuick, ...sorted, ...sections };
}

/** Six significant digits for fractional figures: far finer than run-to-run noise, and readable. */
function round(value: number): number {
  return Number.isInteger(value) ? value : Number(value.toPrecision(6));
}

function rounded(results: SuiteFigures): SuiteFigures {
  const out: SuiteFigures = {};
  for (const [library, metrics] of Object.entries(results)) {
    out[library] = {};
    for (const [metric, value] of Object.entries(metrics)) out[library][metric] = round(value);
  }
  return out;
}

function roundedSpread(spread: Record<string, Record<string, Spread>>): Record<string, Record<string, Spread>> {
  const out: Record<string, Record<string, Spread>> = {};
  for (const [library, metrics] of Object.entries(spread)) {
    out[library] = {};
    for (const [metric, s] of Object.entries(metrics)) out[library][metric] = { min: round(s.min), median: round(s.median), max: round(s.max) };
  }
  return out;
}

/** Writes through a temporary file and a rename: a reader (targets.mjs) never sees half a file. */
export function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
