/**
 * A shard's entry point: the worker thread main starts for each of threads 1..N.
 *
 * The loop is the scheduler: drain up to `batch` frames (each handed to its actor at once), run up
 * to `batch` same-thread messages, then let the event loop run, or only settled promises after a
 * single message (loop-turns.ts). When there is nothing to do, spin briefly and park on the
 * doorbell (`Endpoint.wait`; a same-thread send from a settled promise interrupts it), which frees
 * the event loop as well.
 * Main stops the shard with a STOP frame; the loop ends when main terminates the thread.
 *
 * A standby shard (`workerData` is `{ standby: true }`) loads all of this and then waits for main to
 * give it a thread: the root supervisor keeps one ready, so that a shard that dies is replaced in
 * a millisecond rather than the tens a new worker takes to boot and load its modules.
 */
import { availableParallelism } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ShardData } from '../shm/protocol.js';
import { RingSet } from '../shm/ring-set.js';
import { FuseTable } from '../shm/fuse-table.js';
import { ThreadRuntime } from '../common/runtime.js';
import type { ExitReason } from '../common/actor.js';
import { RemoteMain } from './remote-main.js';
import { abortSideTask, isSideAbort, isSideTask, runSideTask } from './side-tasks.js';
import { reportVitals } from './vitals.js';
import { LoopTurns } from './loop-turns.js';
import { setWorkerState } from '../common/worker-state.js';

if (parentPort === null) throw new Error('shard.js runs as a worker thread started by weft, got: the main thread');

const port = parentPort;
const data = (workerData as { standby?: boolean }).standby === true ? await assignment() : (workerData as ShardData);

/**
 * A standby's wait for the thread main gives it (see root-supervisor.ts). It first imports the
 * modules main names (the task runner and the task modules in use), so that the shard it becomes
 * answers its first task warm; one that fails to import is left for the task to report.
 */
async function assignment(): Promise<ShardData> {
  const preload = (urls: unknown) => Promise.all((Array.isArray(urls) ? urls : []).map((url) => (typeof url === 'string' ? import(url).catch(() => undefined) : undefined)));
  await preload((workerData as { preload?: unknown }).preload);
  // Modules first used after it booted come as `{ preload }` while it waits; one listener for all,
  // so no message finds the port without one.
  return new Promise<ShardData>((resolve) => {
    const listen = (message: { shard?: ShardData; preload?: unknown }): void => {
      if (message?.shard === undefined) {
        void preload(message?.preload);
        return;
      }
      port.off('message', listen);
      resolve(message.shard);
    };
    port.on('message', listen);
    port.postMessage('ready');
  });
}

// Before any task module loads: what `import { isWorkerThread, workerData } from 'weft'` reads there.
setWorkerState(data.userData);

// Before the first frame, so a traced call is never handled outside its context.
if (data.openTelemetry === true) await (await import('../common/otel-tracing.js')).installOpenTelemetryTracing();

const { batch } = data;
const turns = new LoopTurns();
const runtime = new ThreadRuntime({
  set: RingSet.attach(data.buffer),
  thread: data.thread,
  node: data.node,
  creation: data.creation,
  spinMicros: data.spinMicros,
  cores: availableParallelism(),
  keepAlive: true,
  callTimeout: data.callTimeout,
  previousDown: data.previousDown as ExitReason | undefined,
  fuses: FuseTable.attach(data.fuses),
  backpressure: data.backpressure,
  actorMetrics: data.actorMetrics,
  main: (self) => new RemoteMain(self),
});
const endpoint = runtime.endpoint;
reportVitals(endpoint.set.words, data.thread);

// Tasks whose data cannot travel in a ring come on the port (side-tasks.ts); the listener also
// keeps the thread alive between frames (a parked waitAsync does not).
port.on('message', (message: unknown) => {
  if (isSideTask(message)) void runSideTask(port, message, (id) => runtime.markTask(id));
  else if (isSideAbort(message)) abortSideTask(message);
});

for (;;) {
  runtime.beat();
  let handled = endpoint.drain(runtime.onFrame, batch);
  // Same-thread messages (queued by actors' sends during the drain, or since) run next, their own
  // sends published in one store per ring as drain's are.
  endpoint.cork();
  handled += runtime.runLocal(batch);
  endpoint.uncork();
  if (handled !== 0) {
    await turns.after(handled);
    continue;
  }
  runtime.parked = true;
  await endpoint.wait();
  runtime.parked = false;
}
