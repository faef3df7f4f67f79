/**
 * `--compare FILE`: each figure of this run against the same figure in an earlier results file,
 * with the change in percent, turned so that + is better, and a flag on the changes that are larger
 * than the run-to-run noise.
 *
 * The noise of a figure is the spread its repeats showed, (max − min) / median, in either file
 * (the larger of the two): a change inside it is what rerunning the same code gives. A figure
 * measured once (no spread in either file) gets no verdict: rerun with `--repeat 3` to have one.
 */
import { betterOf, type Better, type Suite } from './harness.js';
import { record, suitesOf, type Spread } from './results-file.js';

export interface Change {
  suite: string;
  library: string;
  metric: string;
  before: number;
  after: number;
  /** (after − before) / before, signed so that above 0 is better; undefined if the direction is unknown. */
  gain: number | undefined;
  /** Relative run-to-run spread, or undefined if neither file has repeats of it. */
  noise: number | undefined;
  verdict: 'better' | 'worse' | 'noise' | 'unknown';
}

function relativeSpread(file: Record<string, unknown>, suite: string, library: string, metric: string): number | undefined {
  const s = record(record(record(file.spread)[suite])[library])[metric] as Spread | undefined;
  const repeats = record(record(file.runs)[suite]).repeats;
  if (s === undefined || typeof repeats !== 'number' || repeats < 2 || !(s.median > 0)) return undefined;
  return (s.max - s.min) / s.median;
}

/**
 * Every figure present in both files, in `after`'s order; only the suites in `only` when given (a
 * filtered run's file also holds suites measured earlier). `registry` says which way each metric
 * improves.
 */
export function compareFiles(before: Record<string, unknown>, after: Record<string, unknown>, registry: readonly Pick<Suite, 'name' | 'better'>[], only?: ReadonlySet<string>): Change[] {
  const old = suitesOf(before);
  const changes: Change[] = [];
  for (const [suite, libraries] of Object.entries(suitesOf(after))) {
    if (only !== undefined && !only.has(suite)) continue;
    const declared = registry.find((s) => s.name === suite) ?? {};
    for (const [library, metrics] of Object.entries(libraries)) {
      for (const [metric, value] of Object.entries(metrics)) {
        const prior = old[suite]?.[library]?.[metric];
        if (typeof prior !== 'number' || typeof value !== 'number' || prior === 0) continue;
        const better: Better | undefined = betterOf(declared, metric);
        const raw = (value - prior) / Math.abs(prior);
        const gain = better === undefined ? undefined : better === 'higher' ? raw : -raw;
        const spreads = [relativeSpread(before, suite, library, metric), relativeSpread(after, suite, library, metric)].filter((n): n is number => n !== undefined);
        const noise = spreads.length === 0 ? undefined : Math.max(...spreads);
        const verdict = gain === undefined || noise === undefined ? 'unknown' : Math.abs(raw) <= noise ? 'noise' : gain > 0 ? 'better' : 'worse';
        changes.push({ suite, library, metric, before: prior, after: value, gain, noise, verdict });
      }
    }
  }
  return changes;
}

const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`;

/** The comparison as a table for the terminal. */
export function formatChanges(changes: readonly Change[], label: string): string {
  if (changes.length === 0) return `nothing to compare with ${label}: no suite, library and metric in common`;
  const header = ['suite', 'library', 'metric', 'before', 'after', 'change', 'noise', ''];
  const mark = { better: '▲ better', worse: '▼ worse', noise: 'within noise', unknown: '? (no repeats)' } as const;
  const rows = changes.map((c) => [
    c.suite,
    c.library,
    c.metric,
    formatFigure(c.before),
    formatFigure(c.after),
    c.gain === undefined ? pct((c.after - c.before) / Math.abs(c.before)) : pct(c.gain),
    c.noise === undefined ? '—' : `${(c.noise * 100).toFixed(1)} %`,
    mark[c.verdict],
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i >= 3 && i <= 6 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const flagged = changes.filter((c) => c.verdict === 'better' || c.verdict === 'worse').length;
  return [
    `compared with ${label} (change: + is better; noise: the larger min–max spread of the repeats, ÷ median; a change beyond it is flagged)`,
    line(header),
    line(widths.map((w) => '─'.repeat(w))),
    ...rows.map(line),
    `${flagged} of ${changes.length} figures moved by more than their noise`,
  ].join('\n');
}

function formatFigure(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(4)).toString();
}
