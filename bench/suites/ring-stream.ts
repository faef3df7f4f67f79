/**
 * ring-stream: how many small messages per second one thread can send another, one way.
 *
 * Every library sends the same N objects `{ id: i, op: 'add', args: [1, 2] }` from the main thread
 * to one worker, which counts them; the clock runs from the first send until the main thread hears
 * that the worker has received all N. Each library first does a short warm-up on the same worker so
 * both sides are compiled before the clock starts.
 *
 * - `postMessage`: one `postMessage` per object on a MessageChannel port handed to the worker
 *   (structured clone, one message per call, no batching). The worker's `parentPort` measured the
 *   same within noise (both are MessagePorts underneath); the channel port is what a
 *   postMessage-based actor system would give each link, and it leaves `parentPort` for control.
 * - `weft`: `runWeft` in `ring-stream-weft.ts`, the same objects through a SharedArrayBuffer ring,
 *   published one send at a time (eager), as postMessage posts each message: the headline.
 * - `weft corked`: the same, published once per BATCH sends, as a shard's scheduler publishes what
 *   its actors send in one batch. Its own row, so it is never taken for the like-for-like figure.
 */
import { MessageChannel } from 'node:worker_threads';
import { assert, nextMessage, now, startWorker, type Metrics, type Suite } from '../harness.js';
import type { SinkControl, SinkData, SinkReply } from '../workers/post-sink.js';
import { BATCH, runWeft } from './ring-stream-weft.js';

/** ≈ 5 s for postMessage on the reference 2-core machine (≈ 400k msgs/s). */
const MESSAGES = { full: 2_000_000, quick: 200_000 };
const WARMUP = { full: 100_000, quick: 20_000 };

async function postMessageStream(messages: number, warmup: number): Promise<Metrics> {
  const { port1, port2 } = new MessageChannel();
  const sink = startWorker(new URL('../workers/post-sink.js', import.meta.url), {
    workerData: { port: port2 } satisfies SinkData,
    transferList: [port2],
  });
  const { worker, failed } = sink;

  const streamOnce = async (n: number): Promise<number> => {
    const ready = nextMessage<SinkReply>(worker);
    worker.postMessage({ expect: n } satisfies SinkControl);
    await Promise.race([ready, failed]);
    const done = nextMessage<SinkReply>(worker); // listening before the first send
    const start = now();
    for (let i = 0; i < n; i++) port1.postMessage({ id: i, op: 'add', args: [1, 2] });
    const reply = await Promise.race([done, failed]);
    const ms = now() - start;
    assert('done' in reply && reply.done === n && reply.outOfOrder === 0,
      `post-sink expected ${n} messages in order, got: ${JSON.stringify(reply)}`);
    return (n / ms) * 1000;
  };

  try {
    await streamOnce(warmup);
    return { msgsPerSec: await streamOnce(messages) };
  } finally {
    port1.close();
    await sink.stop();
  }
}

export const suite: Suite = {
  name: 'ring-stream',
  title: "one-way small messages { id, op: 'add', args: [1, 2] }, main thread → one worker, a publish per send (corked: per 256)",
  baseline: 'postMessage',
  metrics: ['msgsPerSec'],
  async run({ quick, log }) {
    const messages = quick ? MESSAGES.quick : MESSAGES.full;
    const warmup = quick ? WARMUP.quick : WARMUP.full;
    log(`${messages.toLocaleString('en-US')} messages each (warm-up ${warmup.toLocaleString('en-US')})`);

    const post = await postMessageStream(messages, warmup);
    log(`postMessage: ${Math.round(post.msgsPerSec).toLocaleString('en-US')} msgs/s`);
    const weft = await runWeft({ messages, quick });
    const rate = (m: Metrics) => `${Math.round(m.msgsPerSec).toLocaleString('en-US')} msgs/s`;
    log(`weft: ${rate(weft.eager)} eager (a publish per send), ${rate(weft.corked)} corked (a publish per ${BATCH})`);

    return {
      results: { postMessage: post, weft: weft.eager, 'weft corked': weft.corked },
      config: {
        postMessage: { transport: 'MessageChannel port', messages, warmup },
        weft: { messages, publish: 'per send' },
        'weft corked': { messages, publish: `per ${BATCH} sends (cork/uncork)` },
      },
    };
  },
};
