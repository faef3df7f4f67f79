/**
 * Runs one suite in a process of its own, so that a suite past its time limit can be ended for
 * good before the next one starts: its worker threads die with the process, and the process is the
 * leader of a process group that also holds every process it started (the nats-server of the
 * cluster suites, their peer node processes), so one `kill(-pgid, SIGKILL)` ends them all.
 *
 *   run.ts ──fork(detached)──► suite-process.js <suite> [--quick]     (new process group)
 *                                 ├─ worker threads
 *                                 ├─ nats-server                       (same group)
 *                                 └─ bench/cluster/peer.js …           (same group)
 *          ◄──── IPC: one SuiteReport ────
 *
 * A fresh process per suite (and per repeat) also keeps one suite's JIT state, heap and leftover
 * timers out of the next one's figures.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Metrics } from './harness.js';

const SUITE_PROCESS = fileURLToPath(new URL('./suite-process.js', import.meta.url));
/** How long a process group may take to vanish after SIGKILL before we say so and go on. */
const REAP_MS = 5_000;

/** What the suite process sends back, once. */
export type SuiteReport =
  | { type: 'result'; results: Record<string, Metrics>; config?: Record<string, Record<string, unknown>>; skipped: Record<string, string> }
  | { type: 'skipped'; reason: string }
  | { type: 'error'; message: string; stack?: string };

export type IsolatedOutcome =
  | { type: 'result'; results: Record<string, Metrics>; config?: Record<string, Record<string, unknown>>; skipped: Record<string, string> }
  | { type: 'skipped'; reason: string }
  | { type: 'error'; message: string };

/** The suite process running now, for the runner's SIGINT handler. */
let current: { pgid: number } | undefined;

/** Kills the running suite's whole process group (if any). For Ctrl-C on the runner. */
export function killCurrentSuite(): void {
  if (current !== undefined) killGroup(current.pgid);
}

function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once no process of the group is left, or after REAP_MS (then says so on stderr). */
async function reaped(pgid: number, suite: string): Promise<void> {
  const until = Date.now() + REAP_MS;
  while (groupAlive(pgid)) {
    if (Date.now() > until) {
      console.error(`  ! suite \`${suite}\`: processes of its group ${pgid} still exist ${REAP_MS} ms after SIGKILL (zombies not yet reaped?)`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Runs `suite` in a suite process and settles with its report. `registry`: a module exporting
 * `suites` to find it in (default: bench/suites/index.js; tests pass their own). Past `timeoutMs`, kills the suite
 * process's group and reports an error; either way, nothing the suite started is left running
 * when this settles (whatever is still in the group after the suite process exits is killed too).
 */
export async function runIsolated(suite: string, quick: boolean, timeoutMs: number, registry?: URL): Promise<IsolatedOutcome> {
  const args = [suite, ...(quick ? ['--quick'] : []), ...(registry === undefined ? [] : ['--registry', registry.href])];
  const child = fork(SUITE_PROCESS, args, {
    detached: true, // its own process group: see the picture above
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pgid = child.pid;
  if (pgid === undefined) return { type: 'error', message: `could not start a process for suite \`${suite}\`` };
  current = { pgid };
  let report: SuiteReport | undefined;
  child.on('message', (message: SuiteReport) => {
    report ??= message;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pgid);
  }, timeoutMs);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  clearTimeout(timer);
  // 'close' comes once the IPC channel is drained too, so a report sent just before the exit is in
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  // Anything the suite left behind (a server, a peer process) goes with it, before the next suite.
  if (killGroup(pgid)) await reaped(pgid, suite);
  current = undefined;
  if (timedOut) {
    return { type: 'error', message: `suite \`${suite}\` did not finish within ${timeoutMs.toLocaleString('en-US')} ms; its process, threads and child processes were killed` };
  }
  if (report === undefined) {
    return { type: 'error', message: `the process of suite \`${suite}\` exited (${exit.signal ?? `code ${exit.code}`}) without a result` };
  }
  if (report.type === 'error') return { type: 'error', message: report.message };
  if (exit.code !== 0) {
    return { type: 'error', message: `the process of suite \`${suite}\` finished the suite but exited with ${exit.signal ?? `code ${exit.code}`} (something it started was still running: see above)` };
  }
  return report;
}
