/**
 * The calling thread's own CPU time, for suites that report what a worker costs. The event loop's
 * utilisation is only a proxy for it: it counts JavaScript that waits (a blocking `Atomics.wait`)
 * as busy, and what the thread spends outside JavaScript's turns as idle.
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
