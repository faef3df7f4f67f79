/**
 * The run as a picture: one horizontal bar chart per suite, on the suite's first metric, a bar per
 * library (weft's in one colour, the peers' in another), each labelled with its figure and its ratio
 * to the suite's baseline, turned so that above 1 is better (the table's last column). The caption
 * names the machine and the date, since a chart is only worth what the run behind it was.
 *
 *   ring-stream · msgsPerSec (higher is better)
 *   postMessage  ███████                          664,948 · 1.00×
 *   weft         ████████████████████████       2,229,655 · 3.35×
 *
 * Hand-written SVG (no dependency): plain shapes and text, every string escaped; the test parses it.
 */
import { betterOf, formatNumber, formatRatio, ratioToBaseline, type Metrics, type Suite } from './harness.js';
import type { Machine } from './results-file.js';

/** One suite as charted: its declaration and the figures of this run. */
export interface ChartedSuite {
  suite: Pick<Suite, 'name' | 'title' | 'baseline' | 'metrics' | 'better'>;
  results: Record<string, Metrics>;
}

const WIDTH = 820;
const LABEL_WIDTH = 170;
const BAR_WIDTH = 430;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const SUITE_GAP = 26;
const TITLE_HEIGHT = 22;
const CAPTION_HEIGHT = 54;
const WEFT_COLOUR = '#2b6cb0';
const PEER_COLOUR = '#a0aec0';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** weft's own rows (`weft`, `weft corked`, `weft spin 50 µs`, `weft-2-nodes`…) are drawn in weft's colour. */
export function isWeftRow(library: string): boolean {
  return /^weft\b/.test(library);
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x}" y="${y}"${attrs === '' ? '' : ` ${attrs}`}>${escapeXml(content)}</text>`;
}

/** The SVG document for `charted` suites, measured on `machine` at `date` (ISO). */
export function renderChart(charted: readonly ChartedSuite[], machine: Machine, date: string, quick: boolean): string {
  const body: string[] = [];
  let y = CAPTION_HEIGHT;
  for (const { suite, results } of charted) {
    const metric = suite.metrics[0];
    const libraries = Object.keys(results).filter((library) => Number.isFinite(results[library]?.[metric]));
    if (metric === undefined || libraries.length === 0) continue;
    const better = betterOf(suite, metric);
    const how = better === undefined ? '' : ` (${better} is better)`;
    const against = suite.baseline !== undefined && suite.baseline in results ? ` · ratio to ${suite.baseline}, above 1 is better` : '';
    body.push(`<g class="suite" data-suite="${escapeXml(suite.name)}" data-metric="${escapeXml(metric)}">`);
    body.push(text(10, y + 15, `${suite.name} · ${metric}${how}${against}`, 'class="title"'));
    y += TITLE_HEIGHT;
    const top = Math.max(...libraries.map((library) => results[library][metric]));
    for (const library of libraries) {
      const value = results[library][metric];
      const width = top > 0 ? Math.max(1, (value / top) * BAR_WIDTH) : 1;
      const ratio = ratioToBaseline(suite as Suite, results, library, metric);
      const label = ratio === undefined ? formatNumber(value) : `${formatNumber(value)} · ${formatRatio(ratio)}`;
      const colour = isWeftRow(library) ? WEFT_COLOUR : PEER_COLOUR;
      body.push(
        `<g class="bar" data-library="${escapeXml(library)}" data-value="${value}"${ratio === undefined ? '' : ` data-ratio="${Number(ratio.toPrecision(4))}"`}>` +
          text(LABEL_WIDTH - 8, y + 13, library, 'text-anchor="end"') +
          `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colour}"/>` +
          text(LABEL_WIDTH + width + 6, y + 13, label) +
          '</g>',
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    body.push('</g>');
    y += SUITE_GAP;
  }
  const height = y;
  const load = machine.loadAverage.length > 0 ? `, load average ${machine.loadAverage.map((n) => n.toFixed(2)).join(' / ')}` : '';
  const caption = `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, Node ${machine.node} ${machine.platform}-${machine.arch}${load}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(`weft bench, ${date}`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    '<style>.title { font-weight: 600; font-size: 13px; } .caption { fill: #4a5568; }</style>',
    `<g class="caption">`,
    text(10, 20, `weft bench${quick ? ' (quick: small counts, rough figures)' : ''} · ${date.slice(0, 16).replace('T', ' ')} UTC`, 'class="title"'),
    text(10, 38, caption, 'class="caption"'),
    '</g>',
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
