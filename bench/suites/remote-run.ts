/**
 * remote-run: tasks/s of `runOn('any', …)` from this process (node 'a', which serves nothing) with
 * two node processes serving the task module, against one node process alone, in the same run.
 * Each task is fib(FIB_N) (about 2 ms here: the work, not the messaging, should bound it); WINDOW
 * tasks in flight. The queue group spreads them; the ratio says what the second node adds.
 */
import { start } from '../../src/main/index.js';
import { assert, type Metrics, type Suite } from '../harness.js';
import { withCluster } from '../cluster/peers.js';

const FIB = new URL('../workers/fib.js', import.meta.url).href;
const FIB_N = 25;
const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
const EXPECTED = fib(FIB_N);
const WINDOW = 64;
const TASKS = { full: 4_000, quick: 400 };

async function measure(url: string, servers: string[], total: number): Promise<Metrics> {
  const system = await start({ threads: 1, node: { name: 'a', nats: { servers: url }, globalNames: false } });
  try {
    for (const node of servers) await system.awaitNode(node, 10_000);
    const run = async (): Promise<void> => {
      const result = await system.runOn('any', 'fib', 'default', FIB_N);
      assert(result === EXPECTED, `runOn('any', 'fib', 'default', ${FIB_N}) answered ${JSON.stringify(result)}, expected ${EXPECTED}`);
    };
    await Promise.all(Array.from({ length: WINDOW }, run)); // warm-up: every server has loaded fib
    let next = 0;
    let done = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next++ < total) {
          await run();
          done++;
        }
      }),
    );
    assert(done === total, `${done} of ${total} tasks completed`);
    return { tasksPerSec: (total / (performance.now() - began)) * 1000 };
  } finally {
    await system.stop();
  }
}

export const suite: Suite = {
  name: 'remote-run',
  title: `runOn('any') of fib(${FIB_N}) over nats-server queue groups, ${WINDOW} in flight: two serving node processes vs one`,
  baseline: 'weft-1-node',
  metrics: ['tasksPerSec'],
  async run({ quick, log }) {
    const total = quick ? TASKS.quick : TASKS.full;
    const results: Record<string, Metrics> = {};
    results['weft-1-node'] = await withCluster([(url) => ['weft', 'b', url, FIB]], (url) => measure(url, ['b'], total));
    results['weft-2-nodes'] = await withCluster([(url) => ['weft', 'b', url, FIB], (url) => ['weft', 'c', url, FIB]], (url) => measure(url, ['b', 'c'], total));
    log(`1 node ${Math.round(results['weft-1-node'].tasksPerSec).toLocaleString('en-US')}/s, 2 nodes ${Math.round(results['weft-2-nodes'].tasksPerSec).toLocaleString('en-US')}/s`);
    const config = { tasks: total, window: WINDOW, task: `fib(${FIB_N})`, threadsPerNode: 1 };
    return { results, config: { 'weft-1-node': config, 'weft-2-nodes': config } };
  },
};
