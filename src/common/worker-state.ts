/**
 * What a worker file sees of the pool that runs it, as piscina's `isWorkerThread` and `workerData`
 * (`import { isWorkerThread, workerData } from 'weft'` inside a task's module). Node's own
 * `workerData` on a shard is weft's (the ring buffers); the pool's `workerData` option travels
 * beside it and is set here by the shard before any task module loads. Live bindings: a module
 * that imports them reads the values the shard set.
 */
import { isMainThread } from 'node:worker_threads';

/** True inside a pool's thread (a shard), false on main. */
export let isWorkerThread = false;

/** The `workerData` option of the ThreadPool whose thread this is (a copy); undefined elsewhere. */
export let workerData: unknown = undefined;

/** @internal The shard says what its thread is, before anything of the user's runs. */
export function setWorkerState(data: unknown): void {
  isWorkerThread = !isMainThread;
  workerData = data;
}
