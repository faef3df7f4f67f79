/**
 * Peer libraries for the suites that compare weft with the worker pools people use today: one
 * adapter per library, all with the same face (`PeerSpec` → `PeerPool`), and the two shared
 * drivers that run a workload on any of them.
 *
 *   for (const peer of peers) {
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
 */
import { comlinkPeer } from './comlink.js';
import { piscinaPeer } from './piscina.js';
import { poolifierPeer } from './poolifier.js';
import { postMessagePeer } from './post-message.js';
import { tinypoolPeer } from './tinypool.js';
import type { PeerSpec } from './types.js';
import { workerpoolPeer } from './workerpool.js';

export type { PeerName, PeerPool, PeerSpec } from './types.js';
export { compareTinyTasks, runRoundTrips, runTinyTasks, STALL_MS, type TinyTasksEntrant } from './drivers.js';

export const peers: readonly PeerSpec[] = Object.freeze([piscinaPeer, tinypoolPeer, poolifierPeer, workerpoolPeer, comlinkPeer, postMessagePeer]);
