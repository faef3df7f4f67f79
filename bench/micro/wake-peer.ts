/**
 * The worker of `wake.ts`: answers each ping in one of the ways `wake.ts` compares. Words of the
 * shared Int32Array: [0] the worker's bell, [1] main's bell (ping/pong counters).
 */
import { workerData, parentPort } from 'node:worker_threads';
import { MessageDecoder, MessageEncoder } from '../../src/shm/codec.js';
import { Endpoint } from '../../src/shm/endpoint.js';
import { RingSet } from '../../src/shm/ring-set.js';

export type WakeMode = 'waitAsync' | 'wait' | 'endpoint';
export interface WakeData {
  mode: WakeMode;
  words?: SharedArrayBuffer;
  rings?: SharedArrayBuffer;
  spinMicros?: number;
}

const { mode, words, rings, spinMicros } = workerData as WakeData;

if (mode === 'waitAsync' || mode === 'wait') {
  const bells = new Int32Array(words!);
  // A pending waitAsync does not keep the event loop alive: without a ref'd handle the loop has
  // nothing to wait in, and a notify's wake-up task waits for whatever runs it next (milliseconds,
  // or never). The Endpoint holds a timer while parked for the same reason.
  const hold = setInterval(() => {}, 1 << 30);
  let seen = 0;
  parentPort!.postMessage('ready');
  for (;;) {
    if (mode === 'wait') Atomics.wait(bells, 0, seen);
    else {
      const r = Atomics.waitAsync(bells, 0, seen);
      if (r.async) await r.value;
    }
    seen = Atomics.load(bells, 0);
    if (seen < 0) break;
    Atomics.store(bells, 1, seen);
    Atomics.notify(bells, 1);
  }
  clearInterval(hold);
  process.exit(0);
} else {
  const endpoint = new Endpoint(RingSet.attach(rings!), 1, { spinMicros: spinMicros ?? 0 });
  const decoder = new MessageDecoder();
  const encoder = new MessageEncoder();
  let stopping = false;
  parentPort!.on('message', () => {
    stopping = true;
    endpoint.interrupt();
  });
  parentPort!.postMessage('ready');
  const echo = (from: number, kind: number, bytes: Uint8Array, start: number, end: number): void => {
    endpoint.sendMessage(from, kind, decoder.decode(bytes, start, end), encoder);
  };
  while (!stopping) {
    if (endpoint.drain(echo, 1024) === 0) await endpoint.wait();
  }
}
