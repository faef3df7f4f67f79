/**
 * What the adapters in `bench/peers/` share: where the worker files are, a readiness check, and a
 * close that cannot hang.
 */
import { fileURLToPath } from 'node:url';
import { assert, withTimeout } from '../harness.js';
import type { PeerPool } from './types.js';

/** How long `start()` may take to get correct answers from every thread, and `close()` to finish. */
export const START_TIMEOUT_MS = 15_000;
export const CLOSE_TIMEOUT_MS = 10_000;

/** The compiled worker file of a peer: `dist/bench/workers/peer-<lib>.js`. */
export function workerUrl(lib: string): URL {
  return new URL(`../workers/peer-${lib}.js`, import.meta.url);
}

/** The same, as a file system path (for the libraries that want a path rather than a URL). */
export function workerPath(lib: string): string {
  return fileURLToPath(workerUrl(lib));
}

/**
 * Resolves once `pool` has answered `4 × threads` concurrent calls correctly, so that the pool is up
 * (workers spawned, worker files loaded) before a suite starts its clock: the libraries start their
 * workers asynchronously, and some lazily. Suites still warm up on their own. On a wrong answer, a
 * failure or `START_TIMEOUT_MS`, closes the pool and throws, so a broken pool never reaches a suite.
 */
export async function ready(pool: PeerPool, threads: number, name: string): Promise<PeerPool> {
  try {
    const calls = Array.from({ length: 4 * threads }, (_, i) => pool.add(i, 1));
    const all = Promise.all(calls);
    const results = await withTimeout(pool.failed === undefined ? all : Promise.race([all, pool.failed]), START_TIMEOUT_MS, `${name}: first answers from ${threads} threads`);
    results.forEach((r, i) => assert(r === i + 1, `${name}: add(${i}, 1) returned ${String(r)}, expected ${i + 1}`));
    return pool;
  } catch (err) {
    await pool.close().catch(() => {});
    throw err;
  }
}

/** `close()` for a pool: the library's own shutdown (a promise or any thenable), bounded by `CLOSE_TIMEOUT_MS`; calling it again returns the same promise. */
export function boundedClose(name: string, shutdown: () => unknown): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= withTimeout(Promise.resolve().then(shutdown), CLOSE_TIMEOUT_MS, `${name}: close()`).then(() => {}));
}

/**
 * A promise that rejects with the first worker failure reported to `fail`, for `PeerPool.failed`.
 * Never resolves; marked handled so that it is never an unhandled rejection when nobody races it.
 */
export function failureSignal(): { failed: Promise<never>; fail: (err: Error) => void } {
  let fail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  return { failed, fail };
}

export { packageVersion } from './optional.js';
