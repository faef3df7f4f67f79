/**
 * cancel: 1,000 tasks that check their `{ signal }` are started on 2 threads (all at once: 500
 * async tasks a thread), then aborted one after another while they run. Measured: ms from
 * `controller.abort()` to the caller's rejection (p50, p99), and how many threads were restarted
 * (an abort ends a thread only if its task ignores the signal for `abortGrace` ms: these honour
 * it, so the target is 0 restarts, p99 <= 5 ms). Checked: every task rejects with AbortError, none
 * answers, and the threads after are the threads before.
 */
import { AbortError, start } from '../../src/main/index.js';
import type { Suite } from '../harness.js';

const WORKER = new URL('../workers/cancel-task.js', import.meta.url);
const THREADS = 2;
const TASKS = { full: 1000, quick: 200 };

export const suite: Suite = {
  name: 'cancel',
  title: `${TASKS.full.toLocaleString('en-US')} running tasks that check their signal, aborted one by one, ${THREADS} threads`,
  metrics: ['abortToRejectP50Ms', 'abortToRejectP99Ms', 'threadsRestarted'],
  better: { threadsRestarted: 'lower' },
  async run({ quick, log }) {
    const tasks = quick ? TASKS.quick : TASKS.full;
    const system = await start({ threads: THREADS });
    try {
      const pool = system.threadPool({ filename: WORKER, concurrentTasksPerWorker: Math.ceil(tasks / THREADS) });
      await pool.ready();
      const threadsBefore = new Set(await Promise.all(Array.from({ length: 20 }, () => pool.run(null, { name: 'where' }))));
      const controllers = Array.from({ length: tasks }, () => new AbortController());
      const running = controllers.map((controller) => {
        const task = pool.run(120_000, { signal: controller.signal });
        task.catch(() => undefined); // each is awaited below, in turn
        return task;
      });
      await new Promise((resolve) => setTimeout(resolve, 300)); // every task started (they are async)
      log(`${tasks} tasks running; aborting them one by one`);
      const latencies: number[] = [];
      for (let i = 0; i < tasks; i++) {
        const began = performance.now();
        controllers[i].abort();
        try {
          await running[i];
          throw new Error(`cancel: task ${i} answered after its abort instead of rejecting`);
        } catch (error) {
          if (!(error instanceof AbortError)) throw new Error(`cancel: task ${i} rejected with ${String(error)}, expected AbortError`);
        }
        latencies.push(performance.now() - began);
      }
      // Past abortGrace (1 s): a task that ignored its signal would have had its thread ended by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const stats = await system.stats();
      const restarted = stats.window.threads.reduce((sum, thread) => sum + thread.restartsTotal, 0);
      const threadsAfter = new Set(await Promise.all(Array.from({ length: 20 }, () => pool.run(null, { name: 'where' }))));
      const kept = [...threadsAfter].every((id) => threadsBefore.has(id));
      log(`restarts: ${restarted}; threads after ${kept ? 'are' : 'are NOT'} the threads before`);
      if ((restarted === 0) !== kept) throw new Error(`cancel: stats() says ${restarted} restarts, yet the thread ids ${kept ? 'did not change' : 'changed'}`);
      latencies.sort((a, b) => a - b);
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
      return {
        results: { weft: { abortToRejectP50Ms: at(0.5), abortToRejectP99Ms: at(0.99), threadsRestarted: restarted } },
        config: { weft: { tasks, threads: THREADS, api: 'system.threadPool run({ signal })', abortGrace: 1000, taskStep: '2 ms, checks signal.throwIfAborted()' } },
      };
    } finally {
      await system.stop();
    }
  },
};
