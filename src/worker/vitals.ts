/**
 * What a shard tells main's watchdog beyond its heartbeat (src/main/hang-watch.ts): its OS thread
 * id, so main can read the thread's own CPU time and tell a thread stuck in a loop (it burns CPU
 * and never beats) from one that is merely starved of a core (it gets no CPU, so it cannot beat);
 * and how full its heap is, so a thread that stalls in garbage collection on its way out of memory
 * is reported as `'out_of_memory'`, not as hung (and how big, for `maxHeapMB`: src/main/recycler.ts).
 */
import { readlinkSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { heapIndex, heapMBIndex, osThreadIndex } from '../shm/ring-set.js';

/** How often the heap is sampled (ms): one cheap V8 call, a few times a second. */
const HEAP_SAMPLE_MS = 200;

/** Stores this thread's OS id once and starts sampling its heap; the timer does not hold the thread open. */
export function reportVitals(words: Int32Array, thread: number): void {
  Atomics.store(words, osThreadIndex(thread), osThreadId());
  const sample = (): void => {
    const heap = getHeapStatistics();
    Atomics.store(words, heapIndex(thread), Math.round((1000 * heap.used_heap_size) / heap.heap_size_limit));
    Atomics.store(words, heapMBIndex(thread), Math.round(heap.used_heap_size / 2 ** 20));
  };
  sample();
  setInterval(sample, HEAP_SAMPLE_MS).unref();
}

/** The calling thread's OS id on Linux (`/proc/thread-self` → `<pid>/task/<tid>`), else 0. */
function osThreadId(): number {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 && tid < 2 ** 31 ? tid : 0;
  } catch {
    return 0;
  }
}
