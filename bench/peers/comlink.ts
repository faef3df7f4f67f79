/**
 * comlink: one Worker per thread running `bench/workers/peer-comlink.ts`
 * (`Comlink.expose({ add }, nodeEndpoint(parentPort))`), each wrapped on the main thread with
 * `Comlink.wrap(nodeEndpoint(worker))`; calls go to the threads in turn (round-robin), one
 * `remote.add(a, b)` per task. comlink itself has no pool and no queue: every call is posted at once.
 */
import { startWorker, type BenchWorker } from '../harness.js';
import type { ComlinkApi } from '../workers/peer-comlink.js';
import { Comlink, nodeEndpoint } from './comlink-imports.js';
import { boundedClose, failureSignal, packageVersion, ready, workerUrl } from './common.js';
import type { PeerPool, PeerSpec } from './types.js';

export async function startComlink(threads: number): Promise<PeerPool> {
  // a comlink call to a worker that died stays pending forever: report the death through `failed`
  const { failed, fail } = failureSignal();
  const workers: BenchWorker[] = [];
  const remotes: Comlink.Remote<ComlinkApi>[] = [];
  for (let i = 0; i < threads; i++) {
    const w = startWorker(workerUrl('comlink'));
    w.failed.catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))));
    workers.push(w);
    // nodeEndpoint's parameter type names DOM event types that lib "ES2023" lacks; a Worker is what
    // comlink's node adapter is written for
    remotes.push(Comlink.wrap<ComlinkApi>(nodeEndpoint(w.worker)));
  }
  let next = 0;
  const pool: PeerPool = {
    add: (a, b) => {
      const remote = remotes[next];
      next = next + 1 === threads ? 0 : next + 1;
      return remote.add(a, b);
    },
    close: boundedClose('comlink', async () => {
      for (const remote of remotes) remote[Comlink.releaseProxy]();
      await Promise.all(workers.map((w) => w.stop()));
    }),
    failed,
  };
  return ready(pool, threads, 'comlink');
}

export const comlinkPeer: PeerSpec = {
  name: 'comlink',
  start: (threads) => startComlink(threads),
  config: (threads) => ({ version: packageVersion('comlink'), threads, workers: 'one Comlink.expose worker per thread', dispatch: 'round-robin', endpoint: 'comlink/dist/umd/node-adapter' }),
};
