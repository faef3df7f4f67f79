/**
 * The bench runs each suite in a process group of its own (bench/isolate.ts): a suite past its time
 * limit is ended with everything it started (threads, child processes, its nats-server) before the
 * next suite starts, and a suite that returns a wrong shape, leaves something running or cannot run
 * here is reported as such. Real processes, a real nats-server; the suites are fixtures
 * (test/fixtures/bench/suites.ts) run by the real suite process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureUrl } from './helpers.js';

// The compiled runner: it forks dist/bench/suite-process.js beside itself.
const { runIsolated } = (await import(new URL('../dist/bench/isolate.js', import.meta.url).href)) as typeof import('../bench/isolate.js');

const REGISTRY = fixtureUrl('bench/suites');
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-isolate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function withPidsFile<T>(name: string, body: (file: string) => Promise<T>): Promise<T> {
  const file = join(dir, `${name}.json`);
  process.env.WEFT_TEST_PIDS_FILE = file;
  return body(file).finally(() => delete process.env.WEFT_TEST_PIDS_FILE);
}

describe('a suite in its own process group', () => {
  it('past its time limit, is killed with its threads, its child processes and its nats-server', async () => {
    await withPidsFile('hang', async (file) => {
      // long enough for the suite to start all three on a loaded machine and write their pids
      const outcome = await runIsolated('hang', true, 12_000, REGISTRY);
      expect(outcome).toMatchObject({ type: 'error', message: expect.stringMatching(/did not finish within 12,000 ms; its process, threads and child processes were killed/) });
      const pids = JSON.parse(readFileSync(file, 'utf8')) as { suite: number; child: number; natsPort: number };
      // runIsolated settles only once the group is gone: nothing of the suite runs into the next one
      expect(alive(pids.suite)).toBe(false);
      expect(alive(pids.child)).toBe(false);
      expect(await listening(pids.natsPort)).toBe(false);
    });
  });

  it('that finishes but leaves a process running fails, and the process is killed', async () => {
    await withPidsFile('leaky', async (file) => {
      const outcome = await runIsolated('leaky', true, 30_000, REGISTRY);
      expect(outcome).toMatchObject({ type: 'error', message: expect.stringMatching(/finished the suite but exited with code 3/) });
      const pids = JSON.parse(readFileSync(file, 'utf8')) as { child: number };
      expect(alive(pids.child)).toBe(false);
    });
  });

  it('that returns a result without a declared metric fails, naming the metric', async () => {
    const outcome = await runIsolated('wrong', true, 30_000, REGISTRY);
    expect(outcome).toMatchObject({ type: 'error', message: expect.stringMatching(/library `weft`: metric `opsPerSec` is missing/) });
  });

  it('that cannot run here is skipped with its reason, and one that works hands back its figures', async () => {
    expect(await runIsolated('skipped', true, 30_000, REGISTRY)).toEqual({ type: 'skipped', reason: 'needs a tool this machine lacks' });
    expect(await runIsolated('ok', true, 30_000, REGISTRY)).toMatchObject({ type: 'result', results: { weft: { opsPerSec: 1 } }, skipped: {} });
  });
});
