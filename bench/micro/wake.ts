/**
 * Micro-benchmark of the idle wake-up path: where a sparse round trip's time goes when both
 * threads are parked between messages (the `ring-spin` regime: one ping every ~1 ms).
 *
 * Each row sends one ping to a worker, waits for the pong, then sleeps GAP_MS; the figure is the
 * round trip as main sees it. The rows peel the path apart:
 *
 * | row                          | worker waits by                | main waits by                  |
 * |------------------------------|--------------------------------|--------------------------------|
 * | `postMessage`                | its MessagePort ('message')    | its MessagePort                |
 * | `Atomics.wait / spin`        | `Atomics.wait` (blocks the thread; no event loop) | a busy `Atomics.load` loop |
 * | `waitAsync / spin`           | `Atomics.waitAsync` (event loop) | a busy loop                  |
 * | `waitAsync / waitAsync`      | `Atomics.waitAsync`            | `Atomics.waitAsync`            |
 * | `endpoint / spin`            | `Endpoint.wait()` (spin 0)     | a busy `drain` loop            |
 * | `endpoint / endpoint`        | `Endpoint.wait()` (spin 0)     | `Endpoint.wait()` (spin 0, keepAlive) |
 * | `endpoint / endpoint spin 50`| `Endpoint.wait()` (spin 0)     | `Endpoint.wait()` (spin 50 µs) |
 *
 * Run: `npm run build && node dist/bench/micro/wake.js [rounds]`.
 *
 * What it showed (500 rounds, the shared 2-core machine at load average ~9, so ±30 % at least):
 *
 *   postMessage 95 µs · Atomics.wait / spin 30 · waitAsync / spin 39 · waitAsync / waitAsync 49
 *   endpoint / spin 109 · endpoint / endpoint 128 · endpoint / endpoint spin 50: 163
 *
 * A bare waitAsync ping-pong with both threads parked beats postMessage by about 2×, so the wake-up
 * mechanism is not what makes `ring-spin` slow; weft's Endpoint on top of it costs some 60–80 µs
 * more per round trip. Stamping each step (notify → promise resolved → handler → echo published →
 * main sees it) put ~45–55 µs on the worker's wake itself (as bare), 8–11 µs from the wake to the
 * handler (the awaits of park → wait → the loop), 17–27 µs decoding and re-encoding the message
 * (6–13 µs with the codec left out), and 35–45 µs for main, spinning, to see the published pong:
 * on 2 loaded cores a spinning thread is descheduled in favour of the one it waits for, which is
 * also why main's 50 µs spin makes the round trip slower (163 vs 128 µs), not faster.
 *
 * And one trap: a pending `Atomics.waitAsync` does not keep a worker's event loop alive. With no
 * ref'd handle the notify's wake-up task waited milliseconds, or for ever; the Endpoint holds a
 * ref'd timer while parked for this reason (`keepAlive`), and `wake-peer.ts` does the same.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, Worker } from 'node:worker_threads';
import { MessageDecoder, MessageEncoder } from '../../src/shm/codec.js';
import { Endpoint } from '../../src/shm/endpoint.js';
import { RingSet } from '../../src/shm/ring-set.js';
import { median, percentile } from '../harness.js';
import type { WakeData } from './wake-peer.js';

const GAP_MS = 1;
const ROUNDS = Number(process.argv[2] ?? 500);
const PEER = new URL('./wake-peer.js', import.meta.url);

async function spaced(roundTrip: (i: number) => Promise<void> | void): Promise<{ medianUs: number; p99Us: number }> {
  for (let i = 0; i < 50; i++) await roundTrip(i);
  const samples = new Float64Array(ROUNDS);
  for (let i = 0; i < ROUNDS; i++) {
    await sleep(GAP_MS);
    const t0 = performance.now();
    await roundTrip(50 + i);
    samples[i] = performance.now() - t0;
  }
  return { medianUs: median(samples) * 1000, p99Us: percentile(samples, 99) * 1000 };
}

async function started(data: WakeData): Promise<Worker> {
  const worker = new Worker(PEER, { workerData: data });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return worker;
}

async function postMessageRow() {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('../workers/post-echo.js', import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  try {
    return await spaced(
      (i) =>
        new Promise<void>((resolve) => {
          port1.once('message', () => resolve());
          port1.postMessage({ id: i, op: 'add', args: [1, 2] });
        }),
    );
  } finally {
    port1.close();
    await worker.terminate();
  }
}

async function bellsRow(mode: 'wait' | 'waitAsync', mainWaits: 'spin' | 'waitAsync') {
  const words = new SharedArrayBuffer(8);
  const bells = new Int32Array(words);
  const worker = await started({ mode, words });
  try {
    return await spaced(async (i) => {
      const n = i + 1;
      Atomics.store(bells, 0, n);
      Atomics.notify(bells, 0);
      if (mainWaits === 'spin') {
        while (Atomics.load(bells, 1) !== n);
      } else {
        while (Atomics.load(bells, 1) !== n) {
          const r = Atomics.waitAsync(bells, 1, n - 1);
          if (r.async) await r.value;
        }
      }
    });
  } finally {
    Atomics.store(bells, 0, -1);
    Atomics.notify(bells, 0);
    await worker.terminate();
  }
}

async function endpointRow(mainWaits: 'spin' | number) {
  const set = RingSet.create({ threads: 2 });
  const endpoint = new Endpoint(set, 0, { spinMicros: mainWaits === 'spin' ? 0 : mainWaits });
  const worker = await started({ mode: 'endpoint', rings: set.buffer, spinMicros: 0 });
  const encoder = new MessageEncoder();
  const decoder = new MessageDecoder();
  let got = -1;
  const onPong = (_f: number, _k: number, bytes: Uint8Array, start: number, end: number) => {
    got = (decoder.decode(bytes, start, end) as { id: number }).id;
  };
  try {
    return await spaced(async (i) => {
      endpoint.sendMessage(1, 1, { id: i, op: 'add', args: [1, 2] }, encoder);
      if (mainWaits === 'spin') {
        while (endpoint.drain(onPong, 1) === 0);
      } else {
        while (endpoint.drain(onPong, 1) === 0) await endpoint.wait();
      }
      if (got !== i) throw new Error(`pong ${got} for ping ${i}`);
    });
  } finally {
    worker.postMessage('stop');
    await worker.terminate();
  }
}

const rows: Array<[string, () => Promise<{ medianUs: number; p99Us: number }>]> = [
  ['postMessage', postMessageRow],
  ['Atomics.wait / spin', () => bellsRow('wait', 'spin')],
  ['waitAsync / spin', () => bellsRow('waitAsync', 'spin')],
  ['waitAsync / waitAsync', () => bellsRow('waitAsync', 'waitAsync')],
  ['endpoint / spin', () => endpointRow('spin')],
  ['endpoint / endpoint', () => endpointRow(0)],
  ['endpoint / endpoint spin 50', () => endpointRow(50)],
];

console.log(`${ROUNDS} round trips per row, ${GAP_MS} ms apart (µs)`);
for (const [name, row] of rows) {
  const { medianUs, p99Us } = await row();
  console.log(`${name.padEnd(30)} median ${medianUs.toFixed(1).padStart(7)}  p99 ${p99Us.toFixed(1).padStart(8)}`);
}
