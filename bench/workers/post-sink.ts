/**
 * The postMessage side of `ring-stream`: a worker that receives small messages on a MessagePort and
 * counts them. Data and control travel on different ports so the counting handler stays one
 * comparison and one increment.
 *
 *   main ──{ expect: n }──────────────► parentPort      resets the count
 *   main ◄─{ ready: true }───────────── parentPort
 *   main ══ n × { id, op, args } ═════► workerData.port  counted; ids checked for order
 *   main ◄─{ done: n, outOfOrder }──── parentPort      when the n-th message has arrived
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

export interface SinkData {
  /** The worker's end of the MessageChannel the stream arrives on. */
  port: MessagePort;
}
export interface SinkControl {
  expect: number;
}
export type SinkReply = { ready: true } | { done: number; outOfOrder: number };

if (parentPort === null) throw new Error('post-sink.js runs as a worker_threads Worker, got: the main thread');
const control = parentPort;
const { port } = workerData as SinkData;

let expected = 0;
let count = 0;
let outOfOrder = 0;

control.on('message', (msg: SinkControl) => {
  expected = msg.expect;
  count = 0;
  outOfOrder = 0;
  control.postMessage({ ready: true } satisfies SinkReply);
});

port.on('message', (msg: { id: number }) => {
  // ids run 0..n-1 in send order; MessagePort delivery is FIFO, so any mismatch is a lost or
  // reordered message and fails the suite
  if (msg.id !== count) outOfOrder++;
  if (++count === expected) control.postMessage({ done: count, outOfOrder } satisfies SinkReply);
});
