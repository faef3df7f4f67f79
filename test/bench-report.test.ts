/**
 * What a bench run reports besides its tables: the SVG chart (parsed back with a real XML parser),
 * the `--compare` verdicts against the repeats' spread, the medians of repeats, and the command
 * line's checks. Pure functions of the bench (bench/chart.ts, compare.ts, run.ts), no suite run.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderChart, type ChartedSuite } from '../bench/chart.js';
import { compareFiles, formatChanges } from '../bench/compare.js';
import { aggregate, parseArgs } from '../bench/run.js';
import type { Machine } from '../bench/results-file.js';

const MACHINE: Machine = { cores: 2, cpu: 'Test CPU @ 2.50GHz', node: 'v20.20.2', platform: 'linux', arch: 'x64', memoryGB: 8, loadAverage: [1.5, 1, 0.25] };
const DATE = '2026-12-04T14:00:00.000Z';

interface Node {
  [key: string]: unknown;
}
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (name) => name === 'g' || name === 'text' || name === 'rect' });

function parse(svg: string): Node {
  expect(XMLValidator.validate(svg)).toBe(true);
  return parser.parse(svg) as Node;
}

function textOf(node: unknown): string {
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  return String((node as Node)['#text'] ?? '');
}

const stream: ChartedSuite = {
  suite: { name: 'ring-stream', title: 'one-way', baseline: 'postMessage', metrics: ['msgsPerSec'] },
  results: { postMessage: { msgsPerSec: 500_000 }, weft: { msgsPerSec: 2_000_000 }, 'weft corked': { msgsPerSec: 3_000_000 } },
};
const latency: ChartedSuite = {
  suite: { name: 'round-trip', title: 'latency', baseline: 'piscina', metrics: ['medianUs', 'p99Us'] },
  results: { weft: { medianUs: 5, p99Us: 9 }, piscina: { medianUs: 30, p99Us: 80 } },
};

describe('the chart', () => {
  it('is well-formed SVG with one chart per suite and one bar per library, labelled with its ratio', () => {
    const svg = parse(renderChart([stream, latency], MACHINE, DATE, false)).svg as Node;
    const suites = (svg.g as Node[]).filter((g) => g['@class'] === 'suite');
    expect(suites.map((g) => g['@data-suite'])).toEqual(['ring-stream', 'round-trip']);
    const bars = (suites[0].g as Node[]).map((g) => ({ library: g['@data-library'], ratio: Number(g['@data-ratio']), width: Number((g.rect as Node[])[0]['@width']), label: textOf((g.text as Node[])[1]) }));
    expect(bars.map((b) => b.library)).toEqual(['postMessage', 'weft', 'weft corked']);
    expect(bars.map((b) => b.ratio)).toEqual([1, 4, 6]);
    // bar lengths in proportion to the figures: the longest is the largest
    expect(bars[1].width / bars[2].width).toBeCloseTo(2 / 3, 2);
    expect(bars[1].label).toBe('2,000,000 · 4.00×');
    // a latency: lower is better, so weft's ratio to piscina is 30 / 5
    const weft = (suites[1].g as Node[]).find((g) => g['@data-library'] === 'weft')!;
    expect(Number(weft['@data-ratio'])).toBe(6);
    expect(textOf((suites[1].text as Node[])[0])).toContain('medianUs (lower is better)');
  });

  it('names the machine and the date in its caption', () => {
    const svg = parse(renderChart([stream], MACHINE, DATE, true)).svg as Node;
    const caption = (svg.g as Node[]).find((g) => g['@class'] === 'caption')!;
    const lines = (caption.text as Node[]).map(textOf);
    expect(lines[0]).toContain('2026-12-04 14:00 UTC');
    expect(lines[0]).toContain('quick');
    expect(lines[1]).toBe('Test CPU @ 2.50GHz, 2 cores, 8 GB, Node v20.20.2 linux-x64, load average 1.50 / 1.00 / 0.25');
  });

  it('escapes what it prints, so any library name keeps the document well-formed', () => {
    const odd: ChartedSuite = { suite: { name: 'x<y>', title: '', metrics: ['opsPerSec'] }, results: { 'a<b & "c"': { opsPerSec: 1 } } };
    const svg = parse(renderChart([odd], { ...MACHINE, cpu: 'R&D <cpu>' }, DATE, false)).svg as Node;
    const suite = (svg.g as Node[]).find((g) => g['@class'] === 'suite')!;
    // the parser decodes the entities: what comes back is what went in
    expect(suite['@data-suite']).toBe('x<y>');
    expect(textOf(((suite.g as Node[])[0].text as Node[])[0])).toBe('a<b & "c"');
    const caption = (svg.g as Node[]).find((g) => g['@class'] === 'caption')!;
    expect(textOf((caption.text as Node[])[1])).toContain('R&D <cpu>');
  });
});

const file = (figure: number, spread?: [number, number], repeats = 3) => ({
  machine: MACHINE,
  'ring-stream': { weft: { msgsPerSec: figure } },
  'round-trip': { weft: { medianUs: figure / 100_000 } },
  spread: spread === undefined ? {} : { 'ring-stream': { weft: { msgsPerSec: { min: spread[0], median: figure, max: spread[1] } } } },
  runs: { 'ring-stream': { repeats }, 'round-trip': { repeats: 1 } },
});
const registry = [{ name: 'ring-stream' }, { name: 'round-trip' }];

describe('--compare', () => {
  it('flags a change larger than the spread of the repeats, and calls a smaller one noise', () => {
    const before = file(1_000_000, [950_000, 1_050_000]); // 10 % spread
    const [better] = compareFiles(before, file(1_200_000, [1_150_000, 1_250_000]), registry);
    expect(better).toMatchObject({ suite: 'ring-stream', library: 'weft', metric: 'msgsPerSec', verdict: 'better' });
    expect(better.gain).toBeCloseTo(0.2);
    expect(better.noise).toBeCloseTo(0.1);
    expect(compareFiles(before, file(1_050_000, [1_000_000, 1_100_000]), registry)[0].verdict).toBe('noise');
    expect(compareFiles(before, file(800_000, [790_000, 810_000]), registry)[0].verdict).toBe('worse');
  });

  it('compares only the suites measured now when told which', () => {
    const changes = compareFiles(file(1_000_000), file(500_000), registry, new Set(['round-trip']));
    expect(changes.map((c) => c.suite)).toEqual(['round-trip']);
  });

  it('turns a latency so that a lower figure is a gain, and gives no verdict without repeats', () => {
    const changes = compareFiles(file(1_000_000), file(500_000), registry);
    const latency = changes.find((c) => c.suite === 'round-trip')!;
    expect(latency.gain).toBeCloseTo(0.5); // 10 µs → 5 µs
    expect(latency.verdict).toBe('unknown');
    const text = formatChanges(changes, 'before.json');
    expect(text).toContain('compared with before.json');
    expect(text).toContain('? (no repeats)');
    expect(text).toContain('0 of 2 figures moved by more than their noise');
  });
});

describe('repeats and the command line', () => {
  it('records the median of the repeats as the figure, with min and max beside it', () => {
    const { results, spread } = aggregate([{ weft: { msgsPerSec: 3 } }, { weft: { msgsPerSec: 1 } }, { weft: { msgsPerSec: 2 } }]);
    expect(results).toEqual({ weft: { msgsPerSec: 2 } });
    expect(spread).toEqual({ weft: { msgsPerSec: { min: 1, median: 2, max: 3 } } });
  });

  it('repeats each suite 3 times by default and once in quick mode', () => {
    expect(parseArgs([], {})).toMatchObject({ repeat: 3, quick: false });
    expect(parseArgs(['--quick'], {})).toMatchObject({ repeat: 1, quick: true });
    expect(parseArgs(['--quick', '--repeat', '2', 'ring'], {})).toMatchObject({ repeat: 2, filters: ['ring'] });
    expect(parseArgs([], { WEFT_BENCH_QUICK: '1' })).toMatchObject({ quick: true });
  });

  it('refuses a bad option with a message that echoes it', () => {
    expect(() => parseArgs(['--repeat', '0'], {})).toThrow('expected `--repeat` to be an integer from 1 to 100, got: `0`');
    expect(() => parseArgs(['--json'], {})).toThrow('--json needs a value, got: nothing');
    expect(() => parseArgs(['--svg', '--quick'], {})).toThrow('--svg needs a value, got: `--quick`');
    expect(() => parseArgs(['--fast'], {})).toThrow('unknown option `--fast`');
  });

  it('compares with the committed baseline when --compare names no file, in a checkout', () => {
    expect((parseArgs(['--compare'], {}) as { compare: string }).compare).toMatch(/bench\/results\/baseline\.json$/);
    expect((parseArgs(['--compare', 'old.json'], {}) as { compare: string }).compare).toMatch(/\/old\.json$/);
  });
});

describe('where a run writes', () => {
  const ignored = (path: string): boolean => {
    try {
      execFileSync('git', ['check-ignore', '-q', path], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
      return true;
    } catch {
      return false;
    }
  };

  it('writes its default files where git ignores them, so `npm run bench` changes no tracked file', () => {
    const options = parseArgs([], {}) as { json: string };
    expect(options.json).toMatch(/bench\/results\/latest\.json$/);
    expect(ignored('bench/results/latest.json')).toBe(true);
    expect(ignored('bench/results/2026-12-04T14-00-00-000Z.svg')).toBe(true);
    // the baseline is committed on purpose
    expect(ignored('bench/results/baseline.json')).toBe(false);
    expect(ignored('bench/results/baseline.svg')).toBe(false);
  });
});
