/**
 * `npx weft top`: a live view of a running system, read from its inspect endpoint
 * (`start({ inspect: { port } })` or `{ path }`, src/main/inspect-server.ts) once a second.
 *
 *   weft top --port 9229            a system on this machine, endpoint on 127.0.0.1:9229
 *   weft top --socket /tmp/w.sock   endpoint on a Unix socket
 *   weft top --port 9229 --once     print one view and exit (scripts, CI logs)
 *
 * The view is a pure function of the report (`render`), so what it shows is tested without a
 * terminal; the loop around it only fetches, clears the screen and draws. Figures are the
 * endpoint's window: each fetch starts a new one, so rates are per second since the last refresh.
 */
import { request } from 'node:http';
import type { InspectReport } from '../main/inspect-server.js';

export const TOP_USAGE = `usage: weft top (--port N | --socket PATH) [--interval MS] [--once]

  --port N        the system's inspect port on 127.0.0.1 (start({ inspect: { port: N } }))
  --socket PATH   the system's inspect Unix socket (start({ inspect: { path } }))
  --interval MS   refresh period (default 1000)
  --once          print one view and exit (status 1 if the system cannot be reached)

Keys: q or Ctrl-C quits.`;

type Target = { port: number } | { path: string };

interface TopOptions {
  target: Target;
  interval: number;
  once: boolean;
}

function parse(args: string[]): TopOptions | string {
  let target: Target | undefined;
  let interval = 1000;
  let once = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1];
    if (arg === '--once') once = true;
    else if (arg === '--port' && value !== undefined) {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65_535) return `expected --port to be an integer from 1 to 65535, got: ${value}`;
      target = { port };
      i++;
    } else if (arg === '--socket' && value !== undefined) {
      target = { path: value };
      i++;
    } else if (arg === '--interval' && value !== undefined) {
      interval = Number(value);
      if (!Number.isFinite(interval) || interval < 100) return `expected --interval to be a number of ms >= 100, got: ${value}`;
      i++;
    } else return `unknown argument \`${arg}\``;
  }
  if (target === undefined) return 'say where the system is: --port N or --socket PATH';
  return { target, interval, once };
}

/** GET /stats from the endpoint. */
export function fetchReport(target: Target, timeoutMs = 5000): Promise<InspectReport> {
  return new Promise((resolve, reject) => {
    const where = 'path' in target ? { socketPath: target.path } : { host: '127.0.0.1', port: target.port };
    const req = request({ ...where, path: '/stats', method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as InspectReport | { error: string };
          if (res.statusCode !== 200 || 'error' in body) reject(new Error(`the endpoint answered ${res.statusCode}: ${'error' in body ? body.error : 'no report'}`));
          else resolve(body);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const BAR = 20;

/** An ELU bar: `[██████░░░░]  37%`. */
export function bar(share: number, width = BAR): string {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0));
  const full = Math.round(clamped * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.round(clamped * 100)).padStart(3)}%`;
}

const count = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(rows: string[][], right: Set<number>): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (right.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd());
}

/** The view of one report (and of the other nodes' reports, when the endpoint gathered them), as lines. */
export function render(report: InspectReport, target: string): string[] {
  const clock = new Date(report.at).toISOString().slice(11, 19);
  const lines = [`weft top · node ${report.node} · pid ${report.pid} · ${target} · ${clock} · window ${(report.stats.window.ms / 1000).toFixed(2)} s · q quits`, ''];
  lines.push(...renderNode(report));
  for (const peer of report.peers ?? []) {
    lines.push('', `── node ${peer.node} ${'─'.repeat(Math.max(3, 60 - peer.node.length))}`);
    if ('error' in peer) lines.push(`  no report: ${peer.error}`);
    else lines.push(`pid ${peer.pid} · window ${(peer.stats.window.ms / 1000).toFixed(2)} s`, '', ...renderNode(peer));
  }
  return lines;
}

/** One node's threads, actors, fuses and cluster line. */
function renderNode(report: InspectReport): string[] {
  const { stats } = report;
  const { window } = stats;
  const lines: string[] = [];
  const rows = [['THREAD', 'ELU', 'IN/s', 'OUT/s', 'ACTORS', 'MAILBOX', 'PEAK', 'RESTARTS', 'PARKS', 'DEAD']];
  for (const thread of window.threads) {
    rows.push([
      thread.thread === 0 ? 'main' : `shard ${thread.thread}`,
      bar(thread.elu),
      count(thread.messagesInPerSec),
      count(thread.messagesOutPerSec),
      String(thread.actors),
      String(thread.mailboxDepth),
      String(thread.mailboxHighWater),
      thread.restarts === 0 ? String(thread.restartsTotal) : `${thread.restartsTotal} (+${thread.restarts})`,
      String(thread.parks),
      String(thread.deadLetters),
    ]);
  }
  lines.push(...table(rows, new Set([2, 3, 4, 5, 6, 7, 8, 9])));
  const total = window.threads.reduce((sum, thread) => sum + thread.actors, 0);
  lines.push('');
  lines.push(`ACTORS ${total} live · ${report.names.length} named · awaited replies ${stats.awaitedReplies}`);
  const metered = new Map(window.actors.map((actor) => [`${actor.thread}.${actor.serial}`, actor]));
  const named = [...report.names].sort((a, b) => a.name.localeCompare(b.name));
  if (named.length !== 0 || metered.size !== 0) {
    const actorRows = [['NAME', 'PID', 'MSG/s', 'BUSY', 'HANDLER ms']];
    const shown = new Set<string>();
    for (const { name, pid } of named) {
      const [, thread, serial] = /\.(\d+)\.(\d+)>$/.exec(pid) ?? [];
      const key = `${thread}.${serial}`;
      const figures = metered.get(key);
      shown.add(key);
      actorRows.push([name, pid, figures ? count(figures.messagesPerSec) : '-', figures ? `${Math.round(figures.busy * 100)}%` : '-', figures ? figures.handlerMs.toFixed(1) : '-']);
    }
    // Then the busiest unnamed metered actors.
    const unnamed = window.actors.filter((actor) => !shown.has(`${actor.thread}.${actor.serial}`)).sort((a, b) => b.handlerMs - a.handlerMs || b.messagesPerSec - a.messagesPerSec);
    for (const actor of unnamed.slice(0, 10)) {
      actorRows.push(['', `<${report.node}.${actor.thread}.${actor.serial}>`, count(actor.messagesPerSec), `${Math.round(actor.busy * 100)}%`, actor.handlerMs.toFixed(1)]);
    }
    lines.push(...table(actorRows, new Set([2, 3, 4])).map((line) => `  ${line}`));
  }
  if (stats.fuses.length !== 0) {
    lines.push('');
    lines.push('FUSES');
    lines.push(...table([['NAME', 'STATE', 'MELTS', 'BLOWS', 'HEALS'], ...stats.fuses.map((fuse) => [fuse.name, fuse.state, String(fuse.melts), String(fuse.blows), String(fuse.heals)])], new Set([2, 3, 4])).map((line) => `  ${line}`));
  }
  if (stats.cluster !== undefined) {
    lines.push('');
    lines.push(`CLUSTER ${stats.cluster.nodes.length} nodes up: ${stats.cluster.nodes.map((node) => (node === report.node ? `${node} (this)` : node)).join(', ')} · pending requests ${stats.cluster.pendingRequests} · links ${stats.cluster.links}`);
  }
  return lines;
}

/** Runs `weft top` with the arguments after `top`; resolves with the exit status. */
export async function runTop(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(TOP_USAGE);
    return 0;
  }
  const options = parse(args);
  if (typeof options === 'string') {
    console.error(`${options}\n\n${TOP_USAGE}`);
    return 2;
  }
  const label = 'path' in options.target ? options.target.path : `127.0.0.1:${options.target.port}`;
  if (options.once) {
    try {
      console.log(render(await fetchReport(options.target), label).join('\n'));
      return 0;
    } catch (error) {
      console.error(`cannot read ${label}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  return live(options, label);
}

/** Redraws every `interval` ms until q or Ctrl-C (or SIGINT/SIGTERM). */
function live(options: TopOptions, label: string): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  // The alternate screen keeps the user's scrollback as it was; the cursor hides while we draw.
  out.write('\x1b[?1049h\x1b[?25l');
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      out.write('\x1b[?25h\x1b[?1049l');
      resolve(0);
    };
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', (key: Buffer) => {
        const text = key.toString('utf8');
        if (text === 'q' || text === 'Q' || text === '\x03') finish();
      });
    }
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    const tick = async (): Promise<void> => {
      let lines: string[];
      try {
        lines = render(await fetchReport(options.target), label);
      } catch (error) {
        lines = [`weft top · ${label} · cannot read the endpoint: ${error instanceof Error ? error.message : String(error)}`, '', 'retrying every second; q quits'];
      }
      if (done) return;
      const width = out.columns ?? 200;
      out.write('\x1b[H\x1b[2J' + lines.map((line) => (line.length > width ? line.slice(0, width) : line)).join('\n') + '\n');
      timer = setTimeout(() => void tick(), options.interval);
    };
    void tick();
  });
}
