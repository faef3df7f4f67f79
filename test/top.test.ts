/**
 * `weft top` and the inspect endpoint it reads: a system with `inspect` runs in a child process,
 * `weft top` runs in a real terminal (a tmux pane), and the test reads the screen. Skipped, with
 * the reason in its name, where tmux is not installed (CI installs it: .ci/run).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InspectError, start } from '../src/main/index.js';
import { fetchReport, render } from '../src/cli/top.js';
import { fixtureUrl } from './helpers.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/bench/cli.js', import.meta.url));
const SYSTEM = fileURLToPath(fixtureUrl('inspect-system'));
const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
if (!HAS_TMUX) console.warn('test/top.test.ts: tmux is not installed (apt-get install -y tmux): the terminal session test is skipped');

/** Starts the fixture system; resolves with the child and the endpoint's address. */
async function runSystem(socketPath?: string): Promise<{ child: ChildProcess; address: { port: number } | { path: string } }> {
  const child = spawn(process.execPath, [SYSTEM, ...(socketPath === undefined ? [] : [socketPath])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, address: JSON.parse(first) as { port: number } | { path: string } };
}

async function stopSystem(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end(); // the fixture stops its system when its stdin closes
  await exited;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('weft top over a TCP inspect port', () => {
  let child: ChildProcess;
  let port: number;
  beforeAll(async () => {
    const system = await runSystem();
    child = system.child;
    port = (system.address as { port: number }).port;
  }, 30_000);
  afterAll(async () => {
    await stopSystem(child);
  });

  it.skipIf(!HAS_TMUX)(`shows the threads, ELU bars, actors and fuses in a terminal, refreshes, and quits on q${HAS_TMUX ? '' : ' (skipped: tmux is not installed)'}`, async () => {
    const server = `weft-top-${process.pid}`;
    const tmux = (...args: string[]) => run('tmux', ['-L', server, ...args]);
    await tmux('new-session', '-d', '-s', 'top', '-x', '132', '-y', '40', `${process.execPath} ${CLI} top --port ${port}`);
    try {
      const screen = (): Promise<string> => tmux('capture-pane', '-p', '-t', 'top').then(({ stdout }) => stdout);
      const first = await until('a view with both shards and the named actors', async () => {
        const text = await screen();
        return text.includes('shard 2') && text.includes('busy-worker') ? text : undefined;
      });
      expect(first).toMatch(/weft top · node local · pid \d+ · 127\.0\.0\.1:\d+/);
      expect(first).toMatch(/^main +\[[█░]{20}\] +\d+%/m);
      expect(first).toMatch(/^shard 1 +\[[█░]{20}\] +\d+%/m);
      expect(first).toContain('idle-worker');
      expect(first).toMatch(/ACTORS 2 live · 2 named/);
      expect(first).toMatch(/payments +ok/);
      // The busy worker's steady traffic shows as a rate on shard 1 once a full window has passed.
      const busy = await until('a message rate on shard 1', async () => {
        const text = await screen();
        const match = /^shard 1 +\[[█░]{20}\] +\d+% +([\d,]+)/m.exec(text);
        return match !== null && Number(match[1].replace(/,/g, '')) > 0 ? text : undefined;
      });
      // It refreshes: the clock in the header moves on.
      const clock = (text: string) => /· (\d\d:\d\d:\d\d) ·/.exec(text)?.[1];
      const before = clock(busy);
      await until('a refresh', async () => (clock(await screen()) !== before ? true : undefined), 10_000);
      await tmux('send-keys', '-t', 'top', 'q');
      await until('top to quit on q', async () => {
        const { status } = spawnSync('tmux', ['-L', server, 'has-session', '-t', 'top']);
        return status !== 0 ? true : undefined;
      });
    } finally {
      spawnSync('tmux', ['-L', server, 'kill-server']);
    }
  }, 60_000);

  it('--once prints one view and exits 0', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'top', '--port', String(port), '--once']);
    expect(stdout).toMatch(/^shard 2 /m);
    expect(stdout).toContain('busy-worker');
  });

  it('the endpoint serves GET /stats only, on 127.0.0.1', async () => {
    const report = await fetchReport({ port });
    expect(report.node).toBe('local');
    expect(report.stats.window.threads.map((thread) => thread.thread)).toEqual([0, 1, 2]);
    expect(report.names.map((entry) => entry.name).sort()).toEqual(['busy-worker', 'idle-worker']);
    const response = await fetch(`http://127.0.0.1:${port}/other`);
    expect(response.status).toBe(404);
  });
});

describe('weft top over a Unix socket, and when nothing listens', () => {
  it('reads a system whose endpoint is a Unix socket, whose file goes when the system stops', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'weft-top-')), 'inspect.sock');
    const { child } = await runSystem(path);
    try {
      const { stdout } = await run(process.execPath, [CLI, 'top', '--socket', path, '--once']);
      expect(stdout).toContain(`· ${path} ·`);
      expect(stdout).toMatch(/^shard 1 /m);
    } finally {
      await stopSystem(child);
    }
    expect(existsSync(path)).toBe(false);
  }, 30_000);

  it('--once against a closed endpoint exits 1 and says why; bad arguments exit 2', async () => {
    const system = await start({ threads: 1, inspect: { port: 0 } });
    const address = system.inspectAddress as { host: string; port: number };
    expect(address.host).toBe('127.0.0.1');
    await system.stop(); // closes the endpoint
    const closed = await run(process.execPath, [CLI, 'top', '--port', String(address.port), '--once']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(closed?.code).toBe(1);
    expect(closed?.stderr).toMatch(/cannot read 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    const bad = await run(process.execPath, [CLI, 'top', '--port', 'x']).catch((error: { code: number; stderr: string }) => error);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/expected --port to be an integer from 1 to 65535, got: x/);
  }, 30_000);

  it('a taken port fails start() with InspectError, and nothing is left running', async () => {
    const first = await start({ threads: 1, inspect: { port: 0 } });
    try {
      const { port } = first.inspectAddress as { port: number };
      const failed = await start({ threads: 1, inspect: { port } }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(InspectError);
      expect((failed as InspectError).code).toBe('WEFT_ERR_INSPECT');
      expect((failed as Error).message).toMatch(new RegExp(`cannot open the inspect endpoint on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    } finally {
      await first.stop();
    }
  }, 30_000);

  it('render() draws an ELU bar per thread and the cluster line', () => {
    const thread = (n: number, elu: number) => ({ thread: n, elu, messagesInPerSec: 1500, messagesOutPerSec: 10, mailboxDepth: 0, mailboxHighWater: 4, restarts: 1, restartsTotal: 2, parks: 0, deadLetters: 0, actors: 3 });
    const lines = render(
      {
        node: 'a',
        pid: 1,
        at: 0,
        names: [],
        stats: {
          awaitedReplies: 0,
          threads: [],
          fuses: [],
          recycles: { tasks: 0, heap: 0, age: 0 },
          cluster: { node: 'a', creation: 1, nodes: ['a', 'b'], pendingRequests: 0, monitorsOut: 0, monitorsIn: 0, links: 0, foreign: 0, opsSent: 0, batchesSent: 0, publishFailures: 0 } as never,
          window: { ms: 1000, threads: [thread(0, 0), thread(1, 0.5)], actors: [] },
        },
      },
      'x',
    );
    expect(lines.find((line) => line.startsWith('shard 1'))).toMatch(/\[█{10}░{10}\]  50% +1,500 +10 +3 +0 +4 +2 \(\+1\)/);
    expect(lines).toContain('CLUSTER 2 nodes up: a (this), b · pending requests 0 · links 0');
  });
});
