/**
 * tinypool: `new Tinypool({ filename })` over `bench/workers/peer-tinypool.ts` (default export
 * `({ a, b }) => a + b`), one `pool.run({ a, b })` per task.
 */
import { Tinypool } from 'tinypool';
import type { AddTask } from '../workers/peer-task.js';
import { boundedClose, failureSignal, packageVersion, ready, workerUrl } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

export interface TinypoolSettings {
  /** Tasks a worker may be given before it has answered the previous ones. */
  concurrentTasksPerWorker: number;
  /** Whether an idle worker blocks in `Atomics.wait` for its next task (tinypool's default: true). */
  useAtomics: boolean;
}

/** Chosen by `tune.ts` on this machine: see `bench/peers/README.md` for the figures. */
export const TINYPOOL_SETTINGS: TinypoolSettings = { concurrentTasksPerWorker: 64, useAtomics: true };

export async function startTinypool(threads: number, settings: TinypoolSettings = TINYPOOL_SETTINGS): Promise<PeerPool> {
  const { failed, fail } = failureSignal();
  let closing = false;
  const tinypool = new Tinypool({
    filename: workerUrl('tinypool').href,
    runtime: 'worker_threads',
    minThreads: threads,
    maxThreads: threads,
    isolateWorkers: false,
    concurrentTasksPerWorker: settings.concurrentTasksPerWorker,
    useAtomics: settings.useAtomics,
  });
  // tinypool emits 'error' (fatal without a listener) for a worker that fails with no task on it, and
  // for an answer to a task it no longer knows
  tinypool.on('error', (err: unknown) => {
    if (!closing) fail(err instanceof Error ? err : new Error(`tinypool: ${String(err)}`));
  });
  // tinypool notices a worker's 'error' but not its plain exit: the calls on a worker that exits stay
  // pending, and destroy() then waits forever for that worker's 'exit' event, which has already
  // fired. Watch the exits ourselves (tinypool starts its `minThreads` workers in the constructor).
  let died = false;
  const exits = tinypool.threads.map(
    (worker) =>
      new Promise<void>((resolve) => {
        worker.once('exit', (code: unknown) => {
          if (!closing) {
            died = true;
            fail(new Error(`tinypool worker ${worker.threadId} exited with code ${String(code)}`));
          }
          resolve();
        });
      }),
  );
  const pool: PeerPool = {
    // tinypool types run() as Promise<any>; the drivers check every answer
    add: (a, b) => tinypool.run({ a, b } satisfies AddTask) as Promise<number>,
    close: boundedClose('tinypool', () => {
      closing = true;
      const destroyed = tinypool.destroy();
      // after a worker died, destroy() never settles: done when every worker has exited instead
      return died ? Promise.race([destroyed, Promise.all(exits)]) : destroyed;
    }),
    failed,
  };
  return ready(pool, threads, 'tinypool');
}

export const tinypoolPeer: PeerSpec = {
  name: 'tinypool',
  start: (threads) => startTinypool(threads),
  config: (threads) => ({ version: packageVersion('tinypool'), threads, ...TINYPOOL_SETTINGS }),
};
