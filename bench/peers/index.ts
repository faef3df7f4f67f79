/**
 * Peer libraries for the suites that compare weft with the worker pools people use today: one
 * adapter per library, all with the same face (`PeerSpec` → `PeerPool`), and the two shared
 * drivers that run a workload on any of them.
 *
 *   for (const peer of await loadPeers(ctx.skip)) {
 *     const pool = await peer.start(2);
 *     try {
 *       results[peer.name] = await runTinyTasks(pool, 1_000_000, 1024);
 *       config[peer.name] = peer.config(2);
 *     } finally {
 *       await pool.close();
 *     }
 *   }
 *
 * Each adapter uses its library's own worker-file format (`bench/workers/peer-<lib>.ts`) in the
 * configuration that was fastest for many tiny tasks in flight on this machine; `README.md` here
 * gives the settings tried and the figures behind each choice. `try.ts` runs every peer once.
 *
 * The adapters are loaded on demand: each imports its library, an optional peer dependency of
 * weft, so a library that is not installed leaves its rows out (`loadPeers` says so) instead of
 * failing the import of every suite.
 */
import { importOptional } from './optional.js';
import type { PeerName, PeerSpec } from './types.js';

export type { PeerName, PeerPool, PeerSpec } from './types.js';
export { WARMUP_MS, compareTinyTasks, runRoundTrips, runTinyTasks, STALL_MS, type TinyTasksEntrant } from './drivers.js';

interface PeerEntry {
  name: PeerName;
  /** The npm package the adapter needs; none for postMessage (Node's own). */
  pkg?: string;
  load(): Promise<PeerSpec>;
}

/** Every peer, in the order the suites run and print them. */
const ENTRIES: readonly PeerEntry[] = [
  { name: 'piscina', pkg: 'piscina', load: async () => (await import('./piscina.js')).piscinaPeer },
  { name: 'tinypool', pkg: 'tinypool', load: async () => (await import('./tinypool.js')).tinypoolPeer },
  { name: 'poolifier', pkg: 'poolifier', load: async () => (await import('./poolifier.js')).poolifierPeer },
  { name: 'workerpool', pkg: 'workerpool', load: async () => (await import('./workerpool.js')).workerpoolPeer },
  { name: 'comlink', pkg: 'comlink', load: async () => (await import('./comlink.js')).comlinkPeer },
  { name: 'postMessage', load: async () => (await import('./post-message.js')).postMessagePeer },
];

export const PEER_NAMES: readonly PeerName[] = ENTRIES.map((e) => e.name);

/**
 * The adapters of `names` (default: every peer) whose library is installed, in registry order; each
 * missing one is reported through `skip(name, reason)`.
 */
export async function loadPeers(skip: (library: string, reason: string) => void, names: readonly PeerName[] = PEER_NAMES): Promise<PeerSpec[]> {
  const loaded: PeerSpec[] = [];
  for (const entry of ENTRIES) {
    if (!names.includes(entry.name)) continue;
    const spec = entry.pkg === undefined ? await entry.load() : await importOptional(entry.pkg, entry.load, skip, entry.name);
    if (spec !== undefined) loaded.push(spec);
  }
  return loaded;
}
