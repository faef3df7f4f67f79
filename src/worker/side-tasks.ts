/**
 * Tasks that travel beside the rings: those whose data holds what bytes cannot carry (a
 * SharedArrayBuffer, shared with the thread; an ArrayBuffer or MessagePort in a `transferList`,
 * moved to it). Main posts them to the shard's port; the shard runs them here, as the task runner
 * runs ring tasks, and posts the answer back. Order against ring messages does not matter: each
 * task is on its own.
 */
import type { MessagePort } from 'node:worker_threads';
import { taskFunction } from '../common/task-functions.js';
import { isThenable } from '../common/thenable.js';
import { TaskContext } from '../common/task-signal.js';
import { AbortError } from '../shm/errors.js';

/** What main posts (src/main/side-tasks.ts). */
export interface SideTask {
  weftTask: { side: number; id: number; module: string; name: string; args: unknown[] };
}

/** What the shard posts back. */
export type SideAnswer = { weftTaskDone: number; ok: true; value: unknown } | { weftTaskDone: number; ok: false; error: unknown };

/** What main posts when the caller of side task `id` aborts it: its signal aborts here. */
export interface SideAbort {
  weftTaskAbort: number;
  cause: unknown;
}

export function isSideTask(message: unknown): message is SideTask {
  return typeof message === 'object' && message !== null && 'weftTask' in message;
}

export function isSideAbort(message: unknown): message is SideAbort {
  return typeof message === 'object' && message !== null && 'weftTaskAbort' in message;
}

/** The side tasks this thread runs now, by task id, with what aborts them. */
const running = new Map<number, TaskContext>();

/** Aborts side task `weftTaskAbort`'s signal, if it is still running here. */
export function abortSideTask({ weftTaskAbort: id, cause }: SideAbort): void {
  running.get(id)?.abort(new AbortError('the caller aborted this task', { cause }));
}

/** Runs one side task, marking it as the one this thread runs (for aborts), and answers on `port`. */
export async function runSideTask(port: MessagePort, { weftTask: task }: SideTask, markTask: (id: number) => void): Promise<void> {
  const answer = (message: SideAnswer) => {
    try {
      port.postMessage(message);
    } catch (error) {
      // The result cannot be cloned (a function in it): the caller gets why.
      port.postMessage({ weftTaskDone: task.side, ok: false, error });
    }
  };
  const options = new TaskContext();
  running.set(task.id, options);
  try {
    const fn = await taskFunction(task.module, task.name);
    markTask(task.id);
    let result: unknown;
    try {
      result = fn(...task.args, options);
    } finally {
      markTask(0);
    }
    answer({ weftTaskDone: task.side, ok: true, value: isThenable(result) ? await result : result });
  } catch (error) {
    answer({ weftTaskDone: task.side, ok: false, error });
  } finally {
    running.delete(task.id);
  }
}
