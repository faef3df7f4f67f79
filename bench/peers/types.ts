/**
 * The uniform face every peer library gets in `bench/peers/`, so that a suite can run all of them
 * the same way: start a pool, `add(a, b)` many times, close it. Re-exported by `index.ts`.
 */

export type PeerName = 'piscina' | 'tinypool' | 'poolifier' | 'workerpool' | 'comlink' | 'postMessage';

export interface PeerPool {
  /** Runs the task `add(a, b)` on a worker thread and resolves with a + b. */
  add(a: number, b: number): Promise<number>;
  /** Terminates every worker; the process must be able to exit afterwards. */
  close(): Promise<void>;
  /**
   * Rejects when the pool fails outside any one call: a worker dies in a library that would leave
   * the calls it held pending forever (comlink, poolifier), or the library reports an error that
   * belongs to no call (piscina's and tinypool's 'error' events). Never resolves. The drivers race
   * it once per run (not once per call), so such a failure ends the run with its cause instead of
   * the stall watchdog's "no call completed". Not part of the suites' contract: a suite may ignore it.
   */
  readonly failed?: Promise<never>;
}

export interface PeerSpec {
  name: PeerName;
  /** Starts a pool with `threads` worker threads in its fastest honest configuration for many tiny tasks in flight. */
  start(threads: number): Promise<PeerPool>;
  /** The settings used (e.g. { concurrentTasksPerWorker: 16 }), recorded in latest.json's config. */
  config(threads: number): Record<string, unknown>;
}
