/**
 * One suite, in a process of its own (started by `isolate.ts`): runs it, checks what it returned,
 * sends one `SuiteReport` to the runner and exits. Its output goes straight to the runner's.
 *
 *   node dist/bench/suite-process.js <suite> [--quick] [--registry <module URL exporting `suites`>]
 *
 * Every suite stops what it started, so the process should then exit by itself; if a handle keeps
 * it alive, it names the open handles and exits with code 3, which fails the suite.
 */
import { SuiteSkipped, validateResult, type Suite } from './harness.js';
import type { SuiteReport } from './isolate.js';

/** How long a finished suite's process may linger on open handles. */
const EXIT_GRACE_MS = 5_000;

function send(report: SuiteReport): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      console.log(JSON.stringify(report)); // run by hand, without the runner
      resolve();
      return;
    }
    process.send(report, () => resolve());
  });
}

async function main(): Promise<void> {
  const [name, ...flags] = process.argv.slice(2);
  const at = flags.indexOf('--registry');
  const registry = at === -1 ? './suites/index.js' : flags[at + 1];
  const { suites } = (await import(registry)) as { suites: readonly Suite[] };
  const suite = suites.find((s) => s.name === name);
  if (suite === undefined) throw new Error(`no suite named \`${name}\`; suites: ${suites.map((s) => s.name).join(', ')}`);
  const skipped: Record<string, string> = {};
  const ctx = {
    quick: flags.includes('--quick'),
    log: (line: string) => console.log(`  ${line}`),
    skip: (library: string, reason: string) => {
      skipped[library] = reason;
      console.log(`  ⊘ ${library} skipped: ${reason}`);
    },
  };
  let report: SuiteReport;
  try {
    const result = await suite.run(ctx);
    validateResult(suite, result);
    report = { type: 'result', results: result.results, config: result.config, skipped };
  } catch (err) {
    if (err instanceof SuiteSkipped) report = { type: 'skipped', reason: err.message };
    else {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      report = { type: 'error', message: err instanceof Error ? err.message : String(err) };
    }
  }
  await send(report);
  process.disconnect?.();
  setTimeout(() => {
    console.error(`✘ suite \`${name}\` finished, but its process did not exit within ${EXIT_GRACE_MS} ms; still open: ${process.getActiveResourcesInfo().join(', ')} (a worker left running may not be listed)`);
    process.exit(3);
  }, EXIT_GRACE_MS).unref();
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  await send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
