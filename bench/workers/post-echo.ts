/**
 * The postMessage side of `ring-round-trip`: a worker that sends every message it receives on its
 * MessagePort straight back on the same port.
 *
 *   main ──{ id, op, args }──► workerData.port ──► the same object, cloned back ──► main
 */
import { isMainThread, workerData, type MessagePort } from 'node:worker_threads';

export interface EchoData {
  /** The worker's end of the MessageChannel the pings arrive on and the pongs leave by. */
  port: MessagePort;
}

if (isMainThread) throw new Error('post-echo.js runs as a worker_threads Worker, got: the main thread');
const { port } = workerData as EchoData;

port.on('message', (msg: unknown) => port.postMessage(msg));
