/**
 * comlink's worker format: `Comlink.expose(api, endpoint)`, with Node's `parentPort` turned into an
 * endpoint by comlink's own node adapter. The main thread `Comlink.wrap`s the Worker the same way.
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { Comlink, nodeEndpoint } from '../peers/comlink-imports.js';
import { add } from './peer-task.js';

if (isMainThread || parentPort === null) throw new Error('peer-comlink.js runs as a worker_threads Worker, got: the main thread');

export interface ComlinkApi {
  add(a: number, b: number): number;
}

Comlink.expose({ add } satisfies ComlinkApi, nodeEndpoint(parentPort));
