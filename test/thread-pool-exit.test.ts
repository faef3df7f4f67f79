/**
 * The process exits when the user is done with a pool, as it does under piscina: each scenario runs
 * as a child process (test/fixtures/pool-exit.ts), against weft and against piscina as the
 * reference, and the test measures that the child exits by itself, and what it printed. Bounds are
 * generous (a loaded 2-core machine): they tell "exits" from "never exits", not fast from slow.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixtureUrl } from './helpers.js';

/** Exits by itself well within this, or it is taken as never exiting (killed). */
const EXIT_BOUND_MS = 20_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  ms: number;
}

function runScript(lib: string, mode: string): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, [fixtureUrl('pool-exit').pathname, lib, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_BOUND_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines: out.trim().split('\n'), ms: performance.now() - started });
    });
  });
}

describe.each(['weft', 'piscina'])('%s: the process exits when the user is done', (lib) => {
  it('a pool never destroyed does not keep the process alive once its tasks are done', async () => {
    const run = await runScript(lib, 'idle');
    expect(run.signal).toBe(null); // not killed at the bound: it exited by itself
    expect(run.code).toBe(0);
    expect(run.lines).toEqual(['ran']);
  }, 30_000);

  it('tasks in flight (through the rings and beside them) hold the process until they answer', async () => {
    const run = await runScript(lib, 'busy');
    expect(run.signal).toBe(null);
    expect(run.code).toBe(0);
    expect(run.lines.sort()).toEqual(['ring task done', 'side task done']);
  }, 30_000);

  it('destroy() with a thread stuck in a synchronous task ends it at once', async () => {
    const run = await runScript(lib, 'stuck');
    expect(run.signal).toBe(null);
    expect(run.code).toBe(0);
    expect(run.lines[1]).toBe('rejected true');
    // Ended, not waited out: weft used to ask the thread to stop and wait 10 s for an answer.
    expect(Number(run.lines[0].split(' ')[1])).toBeLessThan(3000);
  }, 30_000);

  it('after a thread runs out of memory, destroy() leaves nothing that holds the process (3 runs)', async () => {
    const runs = await Promise.all([runScript(lib, 'oom'), runScript(lib, 'oom'), runScript(lib, 'oom')]);
    for (const run of runs) {
      expect(run.signal).toBe(null);
      expect(run.code).toBe(0);
      expect(run.lines).toEqual(['ERR_WORKER_OUT_OF_MEMORY', 'destroyed']);
    }
  }, 60_000);
});
