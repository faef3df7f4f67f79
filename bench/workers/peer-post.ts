/**
 * The plain-postMessage peer's worker: each `{ id, a, b }` is answered with `{ id, result: a + b }`
 * on the same port, one message each way per task. The port is `workerData.port` (a MessageChannel
 * port handed over by the pool) when there is one, else `parentPort`.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { add } from './peer-task.js';

export interface PostTask {
  id: number;
  a: number;
  b: number;
}

export interface PostReply {
  id: number;
  result: number;
}

export interface PostWorkerData {
  /** The worker's end of a MessageChannel; without it the worker uses `parentPort`. */
  port?: MessagePort;
}

if (isMainThread || parentPort === null) throw new Error('peer-post.js runs as a worker_threads Worker, got: the main thread');
const port: MessagePort = (workerData as PostWorkerData | undefined)?.port ?? parentPort;

port.on('message', (task: PostTask) => {
  port.postMessage({ id: task.id, result: add(task.a, task.b) } satisfies PostReply);
});
