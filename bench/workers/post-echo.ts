/**
 * The postMessage side of `ring-round-trip`: a worker that sends every message it receives on its
 * MessagePort straight back on the same port.
 *
 *   main ──{ id, op, args }──► workerData.port ──► the same object, cloned back ──► main
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { threadCpuNs } from './thread-cpu.js';

export interface EchoData {
  /** The worker's end of the MessageChannel the pings arrive on and the pongs leave by. */
  port: MessagePort;
}

if (isMainThread) throw new Error('post-echo.js runs as a worker_threads Worker, got: the main thread');
const { port } = workerData as EchoData;

port.on('message', (msg: unknown) => port.postMessage(msg));
// `{ cpu: true }` on the worker's own port: its thread's CPU time (ns), as ring-peer answers it.
parentPort?.on('message', () => parentPort?.postMessage({ cpuNs: threadCpuNs() }));
