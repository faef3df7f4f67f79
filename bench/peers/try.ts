/**
 * Runs every peer once, to check the adapters and see rough figures (nothing is written):
 *
 *   npx tsc -p tsconfig.json && node dist/bench/peers/try.js [--threads N] [peer ...]
 *   node dist/bench/peers/try.js --faults [peer ...]
 *
 * Default mode: for each peer with 2 threads, a warm-up, then `runTinyTasks(pool, 50_000, 1024)`
 * and `runRoundTrips(pool, 2_000)`, then a table. `--faults`: for each peer and each fault that
 * `bench/workers/peer-task.ts` can inject (a wrong answer, a throwing task, a worker that exits),
 * checks that both drivers throw (rather than hang or succeed) and that the pool still closes.
 * Either way the process must then exit by itself; if it has not 5 s later, it names what is open.
 */
import { formatNumber, formatTable, stopwatch, type Metrics, type Suite } from '../harness.js';
import { PEER_NAMES, loadPeers, runRoundTrips, runTinyTasks, type PeerName, type PeerSpec } from './index.js';

const TASKS = 50_000;
const IN_FLIGHT = 1024;
const ROUND_TRIPS = 2_000;
const WARMUP_TASKS = 10_000;
const WARMUP_ROUND_TRIPS = 500;

async function parse(argv: string[]): Promise<{ threads: number; faults: boolean; selected: PeerSpec[] }> {
  let threads = 2;
  let faults = false;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--faults') faults = true;
    else if (arg === '--threads') threads = Number(argv[++i]);
    else names.push(arg);
  }
  if (!Number.isSafeInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got: ${threads}`);
  const unknown = names.filter((n) => !PEER_NAMES.includes(n as PeerName));
  if (unknown.length > 0) throw new Error(`unknown peer(s) ${unknown.join(', ')}; peers: ${PEER_NAMES.join(', ')}`);
  const skip = (library: string, reason: string) => console.log(`  ⊘ ${library} skipped: ${reason}`);
  const selected = await loadPeers(skip, names.length === 0 ? PEER_NAMES : (names as PeerName[]));
  return { threads, faults, selected };
}

async function measure(selected: PeerSpec[], threads: number): Promise<void> {
  const results: Record<string, Metrics> = {};
  for (const peer of selected) {
    const pool = await peer.start(threads);
    try {
      await runTinyTasks(pool, WARMUP_TASKS, IN_FLIGHT);
      await runRoundTrips(pool, WARMUP_ROUND_TRIPS);
      const { tasksPerSec } = await runTinyTasks(pool, TASKS, IN_FLIGHT);
      const { medianUs, p99Us } = await runRoundTrips(pool, ROUND_TRIPS);
      results[peer.name] = { tasksPerSec, medianUs, p99Us };
      console.log(`  ${peer.name}: ${formatNumber(tasksPerSec)} tasks/s, round trip median ${medianUs.toFixed(1)} µs, p99 ${p99Us.toFixed(1)} µs  ${JSON.stringify(peer.config(threads))}`);
    } finally {
      await pool.close();
    }
  }
  const table: Suite = {
    name: 'peers-try',
    title: '',
    baseline: selected.some((p) => p.name === 'postMessage') ? 'postMessage' : undefined,
    metrics: ['tasksPerSec', 'medianUs', 'p99Us'],
    run: () => Promise.reject(new Error('not a suite')),
  };
  console.log(`\n${formatTable(table, results)}`);
}

const FAULTS = ['wrong', 'throw', 'exit'] as const;

/** Whether `run` throws, and after how long: a driver that succeeds despite the fault is a bug. */
async function expectThrow(what: string, run: () => Promise<unknown>): Promise<boolean> {
  const elapsed = stopwatch();
  try {
    await run();
    console.log(`    ✘ ${what}: finished without an error`);
    return false;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.log(`    ✔ ${what}: threw after ${Math.round(elapsed())} ms: ${message.split('\n')[0].slice(0, 150)}`);
    return true;
  }
}

async function faults(selected: PeerSpec[], threads: number): Promise<boolean> {
  let ok = true;
  for (const peer of selected) {
    console.log(`  ${peer.name}`);
    for (const fault of FAULTS) {
      for (const driver of ['runTinyTasks', 'runRoundTrips'] as const) {
        process.env.WEFT_PEER_FAULT = fault; // read by each worker when its task module loads
        process.env.WEFT_PEER_FAULT_AT = '1000';
        const pool = await peer.start(threads);
        delete process.env.WEFT_PEER_FAULT;
        try {
          const threw = await expectThrow(`${fault}, ${driver}`, () => (driver === 'runTinyTasks' ? runTinyTasks(pool, 20_000, 256) : runRoundTrips(pool, 5_000)));
          ok &&= threw;
        } finally {
          const elapsed = stopwatch();
          await pool.close().then(
            () => {},
            (err: unknown) => {
              ok = false;
              console.log(`    ✘ close() after ${fault}: ${err instanceof Error ? err.message : String(err)}`);
            },
          );
          if (elapsed() > 1000) console.log(`      (close took ${Math.round(elapsed())} ms)`);
        }
      }
    }
  }
  return ok;
}

async function main(): Promise<number> {
  const { threads, faults: faultMode, selected } = await parse(process.argv.slice(2));
  console.log(`peers ${faultMode ? 'under injected faults' : 'measured'}: ${selected.map((p) => p.name).join(', ')} (${threads} threads)`);
  if (faultMode) return (await faults(selected, threads)) ? 0 : 1;
  await measure(selected, threads);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => {
      console.error(`✘ the process did not exit 5 s after the last peer; still open: ${process.getActiveResourcesInfo().join(', ')}`);
      process.exit(1);
    }, 5_000).unref();
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
