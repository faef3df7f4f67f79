/**
 * The weft side of `ring-stream` and `ring-round-trip`: a worker that attaches to the ring set main
 * made and runs a receive loop shaped like a shard's scheduler (src/worker/shard.ts: drain a
 * bounded batch, decoding every message; then the shard's own LoopTurns; spin then park when idle).
 *
 *   mode 'sink': counts `{ id }` messages, checks the ids arrive in order, and tells main on
 *                parentPort when it has the number main asked for (control stays off the rings so
 *                the measured path is one-way).
 *   mode 'echo': decodes each message and sends it straight back, encoded again, on the ring to main.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MessageDecoder, MessageEncoder } from '../../src/shm/codec.js';
import { Endpoint } from '../../src/shm/endpoint.js';
import { RingSet } from '../../src/shm/ring-set.js';
import { LoopTurns } from '../../src/worker/loop-turns.js';
import { threadCpuNs } from './thread-cpu.js';
import { type RingPeerControl, type RingPeerData, type RingPeerReply } from './ring-peer-protocol.js';

/** Messages handled per batch before the loop yields to the event loop, as a shard's scheduler does. */
const BATCH = 1024;

if (parentPort === null) throw new Error('ring-peer.js runs as a worker_threads Worker, got: the main thread');
const control = parentPort;
const { buffer, mode, spinMicros } = workerData as RingPeerData;
const endpoint = new Endpoint(RingSet.attach(buffer), 1, { spinMicros });
const decoder = new MessageDecoder();
const encoder = new MessageEncoder();

let expected = -1;
let count = 0;
let outOfOrder = 0;
let stopping = false;
/** Endpoint counters when the current stream began, so a reply reports this stream's alone. */
let base = { parks: 0, notifies: 0 };

control.on('message', (msg: RingPeerControl) => {
  if ('stop' in msg) {
    stopping = true;
    endpoint.interrupt();
    return;
  }
  if ('cpu' in msg) {
    control.postMessage({ cpuNs: threadCpuNs() } satisfies RingPeerReply);
    return;
  }
  expected = msg.expect;
  count = 0;
  outOfOrder = 0;
  base = { parks: endpoint.stats.parks, notifies: endpoint.stats.notifies };
  control.postMessage({ ready: true } satisfies RingPeerReply);
});

const onMessage =
  mode === 'sink'
    ? (_from: number, _kind: number, bytes: Uint8Array, start: number, end: number): void => {
        const msg = decoder.decode(bytes, start, end) as { id: number };
        if (msg.id !== count) outOfOrder++;
        if (++count === expected) {
          const parks = endpoint.stats.parks - base.parks;
          const notifies = endpoint.stats.notifies - base.notifies;
          control.postMessage({ done: count, outOfOrder, parks, notifies } satisfies RingPeerReply);
        }
      }
    : (from: number, kind: number, bytes: Uint8Array, start: number, end: number): void => {
        endpoint.sendMessage(from, kind, decoder.decode(bytes, start, end), encoder);
      };

const turns = new LoopTurns();
while (!stopping) {
  const handled = endpoint.drain(onMessage, BATCH);
  if (handled === 0) await endpoint.wait();
  else await turns.after(handled);
}
