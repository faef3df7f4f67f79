/**
 * actor-stream: one-way small messages from an actor on shard 1 to an actor on shard 2.
 *
 * - `weft`: a source actor casts `{ id, op: 'add', args: [1, 2] }` to a sink actor on the other
 *   shard (bench/actors/stream-*.ts); the clock runs from main's `stream` cast until the sink
 *   answers that it has all N, in order. Eager framing: the casts leave from outside any handler,
 *   so each is its own publish, as each postMessage is its own message (the headline).
 * - `weft corked`: the same casts from the source's handler, which its shard corks: what a chunk
 *   of casts sends goes out in a few publishes.
 * - `postMessage`: the same objects from one worker to another over a MessageChannel (one
 *   `postMessage` each), the sink worker (workers/post-sink.ts) telling main when it has all N.
 */
import { MessageChannel } from 'node:worker_threads';
import { start } from '../../src/main/index.js';
import { assert, nextMessage, now, startWorker, type Metrics, type Suite } from '../harness.js';
import type Sink from '../actors/stream-sink.js';
import type Source from '../actors/stream-source.js';
import type { SinkControl, SinkData, SinkReply } from '../workers/post-sink.js';
import type { SourceData } from '../workers/post-source.js';

const MESSAGES = { full: 2_000_000, quick: 200_000 };

async function weft(n: number, eager: boolean): Promise<Metrics> {
  const system = await start({ threads: 2 });
  try {
    const sink = await system.spawn<typeof Sink>(new URL('../actors/stream-sink.js', import.meta.url), { thread: 2 });
    const source = await system.spawn<typeof Source>(new URL('../actors/stream-source.js', import.meta.url), { thread: 1 });
    const once = async (count: number): Promise<number> => {
      await sink.call({ type: 'expect', n: count });
      const done = sink.call({ type: 'wait' }, { timeout: 120_000 });
      const started = now();
      source.cast({ type: 'stream', sink: sink.pid, n: count, eager });
      const result = await done;
      const ms = now() - started;
      assert(result.count === count && result.outOfOrder === 0, `sink expected ${count} messages in order, got: ${JSON.stringify(result)}`);
      return (count / ms) * 1000;
    };
    await once(Math.min(n, 100_000));
    return { msgsPerSec: await once(n) };
  } finally {
    await system.stop();
  }
}

async function postMessage(n: number): Promise<Metrics> {
  const { port1, port2 } = new MessageChannel();
  const sink = startWorker(new URL('../workers/post-sink.js', import.meta.url), { workerData: { port: port2 } satisfies SinkData, transferList: [port2] });
  const source = startWorker(new URL('../workers/post-source.js', import.meta.url), { workerData: { port: port1 } satisfies SourceData, transferList: [port1] });
  const once = async (count: number): Promise<number> => {
    const ready = nextMessage<SinkReply>(sink.worker);
    sink.worker.postMessage({ expect: count } satisfies SinkControl);
    await Promise.race([ready, sink.failed]);
    const done = nextMessage<SinkReply>(sink.worker);
    const started = now();
    source.worker.postMessage({ n: count });
    const reply = await Promise.race([done, sink.failed, source.failed]);
    const ms = now() - started;
    assert('done' in reply && reply.done === count && reply.outOfOrder === 0, `post-sink expected ${count} in order, got: ${JSON.stringify(reply)}`);
    return (count / ms) * 1000;
  };
  try {
    await once(Math.min(n, 100_000));
    return { msgsPerSec: await once(n) };
  } finally {
    await Promise.all([sink.stop(), source.stop()]);
  }
}

export const suite: Suite = {
  name: 'actor-stream',
  title: "one-way small messages { id, op: 'add', args: [1, 2] } between two worker threads (actor → actor), a publish per cast (corked: per batch)",
  baseline: 'postMessage',
  metrics: ['msgsPerSec'],
  async run({ quick, log }) {
    const n = quick ? MESSAGES.quick : MESSAGES.full;
    log(`${n.toLocaleString('en-US')} messages each`);
    const post = await postMessage(n);
    log(`postMessage: ${Math.round(post.msgsPerSec).toLocaleString('en-US')} msgs/s`);
    const eager = await weft(n, true);
    const corked = await weft(n, false);
    const rate = (m: Metrics) => `${Math.round(m.msgsPerSec).toLocaleString('en-US')} msgs/s`;
    log(`weft: ${rate(eager)} eager (a publish per cast), ${rate(corked)} corked (casts from a handler)`);
    return {
      results: { postMessage: post, weft: eager, 'weft corked': corked },
      config: {
        weft: { shards: 2, chunk: 1024, framing: 'eager: casts from setImmediate, a publish per cast' },
        'weft corked': { shards: 2, chunk: 1024, framing: 'corked: casts from the handler, published per batch' },
        postMessage: { transport: 'MessageChannel between two workers' },
      },
    };
  },
};
