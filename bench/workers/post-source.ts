/**
 * The postMessage side of `actor-stream`: a worker that streams `n` small objects to another
 * worker over a MessageChannel port it was given, when main asks.
 *
 *   main ──{ n }──► parentPort          then n × { id, op, args } ══► workerData.port (to the sink worker)
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

export interface SourceData {
  port: MessagePort;
}

if (parentPort === null) throw new Error('post-source.js runs as a worker_threads Worker, got: the main thread');
const { port } = workerData as SourceData;

parentPort.on('message', ({ n }: { n: number }) => {
  for (let id = 0; id < n; id++) port.postMessage({ id, op: 'add', args: [1, 2] });
});
