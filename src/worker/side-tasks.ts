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
import { describeReason, AbortError, EncodeError, standInError } from '../shm/errors.js';
import { abortInSlot, runInSlot } from '../common/task-runner.js';
import { TaskContext } from '../common/task-signal.js';

/** What main posts (src/main/side-tasks.ts). */
export interface SideTask {
  /** `key`: the dispatcher's, whose runner on this thread lends the task one of its slots. */
  weftTask: { side: number; id: number; module: string; name: string; args: unknown[]; key: number };
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

/** The side tasks this thread runs alone (their runner gone), by task id, with what aborts them. */
const running = new Map<number, TaskContext>();

/** Aborts side task `weftTaskAbort`'s signal, if it is still running here (in a runner's slot, or alone). */
export function abortSideTask({ weftTaskAbort: id, cause }: SideAbort): void {
  if (abortInSlot(id, cause)) return;
  running.get(id)?.abort(new AbortError('the caller aborted this task', { cause }));
}

/**
 * Runs one side task in a slot of its dispatcher's runner here (so it counts against
 * `concurrentTasksPerWorker` with the ring tasks; it waits its turn if none is free), marked as the
 * task this thread runs (for aborts), and answers on `port`. With no such runner (its dispatcher
 * closed meanwhile) it runs at once, alone.
 */
export async function runSideTask(port: MessagePort, { weftTask: task }: SideTask, markTask: (id: number) => void): Promise<void> {
  const answer = (message: SideAnswer) => {
    try {
      port.postMessage(message);
    } catch (failure) {
      // The result or error cannot be cloned (a function, a symbol): the caller gets an Error that
      // says what it was, with an EncodeError saying why as its cause. A DOMException (what
      // postMessage throws) would itself arrive as `{}`, so only weft's own errors go across.
      const value = message.ok ? message.value : message.error;
      const why = new EncodeError(`the task's ${message.ok ? 'result' : 'error'} cannot be cloned: ${describeReason(failure)}`, message.ok ? 'result' : 'error');
      try {
        port.postMessage({ weftTaskDone: task.side, ok: false, error: standInError(value, why) });
      } catch {
        port.postMessage({ weftTaskDone: task.side, ok: false, error: new Error(describeReason(value)) });
      }
    }
  };
  const options = new TaskContext();
  running.set(task.id, options);
  try {
    const fn = await taskFunction(task.module, task.name);
    const done = (ok: boolean, value: unknown) => answer(ok ? { weftTaskDone: task.side, ok, value } : { weftTaskDone: task.side, ok, error: value });
    // Aborted while its module loaded: it never runs (its caller has had its AbortError already).
    if (options.aborted) return answer({ weftTaskDone: task.side, ok: false, error: options.signal.reason });
    if (runInSlot(task.key, { id: task.id, fn, args: task.args, done, options })) return;
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
