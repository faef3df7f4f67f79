/**
 * The `cancel` suite's task: works in 2 ms steps for up to `ms`, checking its `{ signal }` (the
 * argument after its own) between steps, as a task that honours cancellation does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';

export default async function steps(ms: number, { signal }: { signal: AbortSignal }): Promise<number> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    signal.throwIfAborted();
    await sleep(2);
  }
  return threadId;
}

/** The thread it runs on. */
export function where(): number {
  return threadId;
}
