/**
 * workerpool: `workerpool.pool(file)` over `bench/workers/peer-workerpool.ts`
 * (`workerpool.worker({ add })`), one `pool.exec('add', [a, b])` per task.
 */
import workerpool from 'workerpool';
import type { Add } from '../workers/peer-task.js';
import { boundedClose, packageVersion, ready, workerPath } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

/**
 * workerpool has no concurrency setting: it hands a task only to a worker that is not busy, so
 * each worker has at most one task at a time and the rest wait in the main thread's queue.
 */
export const WORKERPOOL_SETTINGS = { workerType: 'thread', queueStrategy: 'fifo', tasksPerWorker: 1 } as const;

export async function startWorkerpool(threads: number): Promise<PeerPool> {
  const wp = workerpool.pool(workerPath('workerpool'), {
    minWorkers: threads,
    maxWorkers: threads,
    workerType: WORKERPOOL_SETTINGS.workerType,
    queueStrategy: WORKERPOOL_SETTINGS.queueStrategy,
  });
  const pool: PeerPool = {
    // exec() returns workerpool's own promise class (a thenable with cancel/timeout); adopt it
    add: (a, b) => Promise.resolve(wp.exec<Add>('add', [a, b])),
    // terminate(true): stop the workers now instead of waiting for queued tasks
    close: boundedClose('workerpool', () => wp.terminate(true)),
  };
  return ready(pool, threads, 'workerpool');
}

export const workerpoolPeer: PeerSpec = {
  name: 'workerpool',
  start: (threads) => startWorkerpool(threads),
  config: (threads) => ({ version: packageVersion('workerpool'), threads, ...WORKERPOOL_SETTINGS }),
};
