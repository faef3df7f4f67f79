/**
 * The calling thread's own CPU time, for suites that report what a worker costs. The event loop's
 * utilisation is no proxy for it once a thread may block in `Atomics.wait` (src/worker/idle-block.ts):
 * a blocked loop counts as busy and burns nothing.
 */
import { readFileSync } from 'node:fs';

/** ns on a CPU since the thread started (Linux `/proc/thread-self/schedstat`), or -1 where there is no such file. */
export function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  } catch {
    return -1;
  }
}
