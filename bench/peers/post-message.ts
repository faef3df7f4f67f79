/**
 * postMessage: the plain pool a user would write by hand, as the floor every library adds to.
 * `threads` workers running `bench/workers/peer-post.ts`; each task is one `postMessage({ id, a, b })`
 * to the next worker in turn (round-robin), on a MessageChannel port per worker (or the Worker
 * itself: see `PostMessageSettings`), the worker answers `{ id, result }` on the same port, and the
 * answer settles the call's promise, found by id in a Map of pending calls.
 * No batching: one message each way per task. A worker that errors or exits rejects every call
 * still pending (on any worker: the pool is broken) and every later one.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { startWorker, type BenchWorker } from '../harness.js';
import type { PostReply, PostTask, PostWorkerData } from '../workers/peer-post.js';
import { boundedClose, ready, workerUrl } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

interface Pending {
  resolve: (result: number) => void;
  reject: (err: Error) => void;
}

export interface PostMessageSettings {
  /**
   * `worker`: `worker.postMessage()` out, the Worker's 'message' event back (`parentPort` inside).
   * `channel`: a MessageChannel per worker, its port1 kept by the pool and port2 handed to the worker.
   */
  transport: 'worker' | 'channel';
}

/** Chosen by `tune.ts` on this machine: see `bench/peers/README.md` for the figures. */
export const POST_MESSAGE_SETTINGS: PostMessageSettings = { transport: 'channel' };

/** Where the pool posts tasks to one worker and hears its answers. */
interface Link {
  postMessage(task: PostTask): void;
}

export async function startPostMessage(threads: number, settings: PostMessageSettings = POST_MESSAGE_SETTINGS): Promise<PeerPool> {
  const pending = new Map<number, Pending>();
  let broken: Error | undefined;
  const breakPool = (err: Error) => {
    if (broken !== undefined) return;
    broken = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const onReply = (reply: PostReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return breakPool(new Error(`postMessage pool: a reply for unknown call id ${reply.id}, got: ${JSON.stringify(reply)}`));
    pending.delete(reply.id);
    p.resolve(reply.result);
  };
  const workers: BenchWorker[] = [];
  const links: Link[] = [];
  const ports: MessagePort[] = [];
  for (let i = 0; i < threads; i++) {
    let w: BenchWorker;
    if (settings.transport === 'channel') {
      const { port1, port2 } = new MessageChannel();
      w = startWorker(workerUrl('post'), { workerData: { port: port2 } satisfies PostWorkerData, transferList: [port2] });
      port1.on('message', onReply);
      ports.push(port1);
      links.push(port1);
    } else {
      w = startWorker(workerUrl('post'));
      w.worker.on('message', onReply);
      links.push(w.worker);
    }
    w.failed.catch((err: unknown) => breakPool(err instanceof Error ? err : new Error(String(err))));
    workers.push(w);
  }
  let nextId = 0;
  let next = 0;
  const pool: PeerPool = {
    add: (a, b) =>
      new Promise<number>((resolve, reject) => {
        if (broken !== undefined) return reject(broken);
        const id = nextId++;
        pending.set(id, { resolve, reject });
        links[next].postMessage({ id, a, b });
        next = next + 1 === threads ? 0 : next + 1;
      }),
    close: boundedClose('postMessage', async () => {
      for (const port of ports) port.close();
      await Promise.all(workers.map((w) => w.stop()));
      breakPool(new Error('postMessage pool closed'));
    }),
  };
  return ready(pool, threads, 'postMessage');
}

export const postMessagePeer: PeerSpec = {
  name: 'postMessage',
  start: (threads) => startPostMessage(threads),
  config: (threads) => ({
    threads,
    transport: POST_MESSAGE_SETTINGS.transport === 'channel' ? 'a MessageChannel per worker' : 'worker.postMessage / parentPort',
    dispatch: 'round-robin',
    messagesPerTask: '1 each way',
    batching: false,
  }),
};
