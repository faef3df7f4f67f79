/**
 * poolifier: `new FixedThreadPool(threads, file)` over `bench/workers/peer-poolifier.ts` (a
 * `ThreadWorker` around `({ a, b }) => a + b`), one `pool.execute({ a, b })` per task.
 */
import { once } from 'node:events';
import { FixedThreadPool, type WorkerChoiceStrategy } from 'poolifier';
import type { AddTask } from '../workers/peer-task.js';
import { boundedClose, failureSignal, packageVersion, ready, workerPath } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

export interface PoolifierSettings {
  /**
   * Off (poolifier's default): each task is posted to a worker chosen by the strategy at once, with
   * no limit per worker. On: each worker node gets a queue and at most `concurrency` tasks at a time.
   */
  enableTasksQueue: boolean;
  /** Tasks a worker node runs at once when the tasks queue is on. */
  concurrency: number;
  workerChoiceStrategy: WorkerChoiceStrategy;
  /** poolifier emits pool events (busy, full, …) through an async-resource emitter unless this is false. */
  enableEvents: boolean;
}

/** Chosen by `tune.ts` on this machine: see `bench/peers/README.md` for the figures. */
export const POOLIFIER_SETTINGS: PoolifierSettings = { enableTasksQueue: false, concurrency: 1, workerChoiceStrategy: 'ROUND_ROBIN', enableEvents: false };

export async function startPoolifier(threads: number, settings: PoolifierSettings = POOLIFIER_SETTINGS): Promise<PeerPool> {
  // poolifier replaces a worker that errors or exits, but the tasks it held stay pending forever:
  // report the death through `failed` instead
  const { failed, fail } = failureSignal();
  let closing = false;
  const fixed = new FixedThreadPool<AddTask, number>(threads, workerPath('poolifier'), {
    enableEvents: settings.enableEvents,
    enableTasksQueue: settings.enableTasksQueue,
    ...(settings.enableTasksQueue ? { tasksQueueOptions: { concurrency: settings.concurrency } } : {}),
    workerChoiceStrategy: settings.workerChoiceStrategy,
    errorHandler: (err) => fail(err instanceof Error ? err : new Error(`poolifier worker error: ${String(err)}`)),
  });
  // A worker's answers can still be queued on its port when its 'exit' event arrives; poolifier has
  // removed the worker by then and throws from its port listener ("received from unknown worker"),
  // an uncaught exception that would end the process. So on an unexpected exit, after poolifier's
  // own handler (registered first, when it created the worker), detach poolifier's listener from
  // that port: the answers are lost either way, and `failed` says why.
  for (const node of fixed.workerNodes) {
    const port = node.messageChannel?.port1;
    node.worker.once('exit', (code: number) => {
      if (closing) return;
      port?.removeAllListeners('message');
      fail(new Error(`poolifier worker exited with code ${code}`));
    });
  }
  const pool: PeerPool = {
    add: (a, b) => fixed.execute({ a, b }),
    close: boundedClose('poolifier', () => {
      closing = true;
      // poolifier 5.3's destroy() sends each worker a kill message, which the worker answers and then
      // exits on; only afterwards does it listen for the worker's 'exit' and terminate() it. When the
      // worker is quicker, that 'exit' has already fired and destroy() never settles (seen in about
      // one close in ten here). So: done when destroy() is, or when every worker has exited.
      const exited = Promise.all(fixed.workerNodes.map(({ worker }) => (worker.threadId === -1 ? undefined : once(worker, 'exit'))));
      return Promise.race([fixed.destroy(), exited]);
    }),
    failed,
  };
  return ready(pool, threads, 'poolifier');
}

export const poolifierPeer: PeerSpec = {
  name: 'poolifier',
  start: (threads) => startPoolifier(threads),
  config: (threads) => {
    const { enableTasksQueue, concurrency, ...rest } = POOLIFIER_SETTINGS;
    return { version: packageVersion('poolifier'), threads, pool: 'FixedThreadPool', enableTasksQueue, ...(enableTasksQueue ? { concurrency } : {}), ...rest };
  },
};
