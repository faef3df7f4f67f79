/**
 * piscina: `new Piscina({ filename })` over `bench/workers/peer-piscina.ts` (default export
 * `({ a, b }) => a + b`), one `pool.run({ a, b })` per task.
 */
import { FixedQueue, Piscina } from 'piscina';
import type { AddTask } from '../workers/peer-task.js';
import { boundedClose, failureSignal, packageVersion, ready, workerUrl } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

export interface PiscinaSettings {
  /** Tasks a worker may be given before it has answered the previous ones. */
  concurrentTasksPerWorker: number;
  /** How an idle worker waits for work: blocked in `Atomics.wait` (`sync`), `Atomics.waitAsync`, or message events only. */
  atomics: 'sync' | 'async' | 'disabled';
  /** piscina's default `ArrayTaskQueue` (shift is O(n)) or its `FixedQueue` (a ring of fixed-size blocks). */
  taskQueue: 'array' | 'fixed';
  /** piscina records each task's wait and run time in histograms unless this is false. */
  recordTiming: boolean;
}

/** Chosen by `tune.ts` on this machine: see `bench/peers/README.md` for the figures. */
export const PISCINA_SETTINGS: PiscinaSettings = { concurrentTasksPerWorker: 64, atomics: 'sync', taskQueue: 'fixed', recordTiming: false };

export async function startPiscina(threads: number, settings: PiscinaSettings = PISCINA_SETTINGS): Promise<PeerPool> {
  const { failed, fail } = failureSignal();
  let closing = false;
  const piscina = new Piscina<AddTask, number>({
    filename: workerUrl('piscina').href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: settings.concurrentTasksPerWorker,
    atomics: settings.atomics,
    ...(settings.taskQueue === 'fixed' ? { taskQueue: new FixedQueue() } : {}),
    recordTiming: settings.recordTiming,
  });
  // piscina emits 'error' (fatal without a listener) for a worker that fails with no task on it, and
  // for an answer to a task it no longer knows, which is what tasks still running at destroy() give
  piscina.on('error', (err: unknown) => {
    if (!closing) fail(err instanceof Error ? err : new Error(`piscina: ${String(err)}`));
  });
  const pool: PeerPool = {
    add: (a, b) => piscina.run({ a, b }),
    // destroy(): terminates the workers without waiting for queued tasks (close() would drain them)
    close: boundedClose('piscina', () => {
      closing = true;
      return piscina.destroy();
    }),
    failed,
  };
  return ready(pool, threads, 'piscina');
}

export const piscinaPeer: PeerSpec = {
  name: 'piscina',
  start: (threads) => startPiscina(threads),
  config: (threads) => ({ version: packageVersion('piscina'), threads, ...PISCINA_SETTINGS }),
};
