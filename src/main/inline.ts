/**
 * Inline mode, `start({ threads: 0 })`: no shard at all; main, thread 0, runs every actor and every
 * task, so a debugger attached to the one thread steps through all of it (a breakpoint in a
 * handler is hit; Node's debugger does not follow worker threads well: node #26609, #56343).
 *
 * Most of it is the machinery that already hosts actors on main: placement sends every actor to
 * thread 0 (src/shm/placement.ts), where the runtime runs it as a shard would, copying every
 * message through the codec, in order, in turns of main's scheduler. Tasks go through the same
 * dispatcher, whose one lane's task runner is an actor on main (src/main/tasks.ts), so a task runs
 * in a later turn, never inside `run()`. What cannot be the same, because there is one thread:
 *
 * - A CPU-bound handler or task blocks main (and everything else) while it runs.
 * - An aborted task that has started cannot be ended with its thread: it rejects with AbortError at
 *   once, as always, and runs on to its end, its result dropped.
 * - No thread crashes. An exception that escapes an actor (thrown in a timer it set), which on a
 *   shard would end the thread, crashes that actor alone, with the exception as its reason
 *   (src/common/crash-context.ts charges it to the actor). One that no actor's code threw is the
 *   process's, as without weft. `hangTimeout` and `resourceLimits` have no shard to watch.
 *
 * This file holds the pieces with no counterpart on main: tasks that travel beside the rings, and
 * the charging of uncaught exceptions to actors.
 */
import { EncodeError, describeReason } from '../shm/errors.js';
import type { Transferable } from 'node:worker_threads';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CrashContext } from '../common/crash-context.js';
import { taskFunction } from '../common/task-functions.js';

/**
 * A task with a `transferList` or a SharedArrayBuffer, run on main as a shard would run it: its
 * arguments copied by structured clone with the transfers moved (an ArrayBuffer in the list is
 * detached for the caller, as after `postMessage`), in a later turn, its result copied back.
 * `markTask` says which task main is running, as a shard's TASK word does (the dispatcher reads it).
 */
export async function runBesideInline(id: number, module: string, name: string, args: unknown[], transferList: readonly Transferable[], markTask: (id: number) => void, unsendable?: EncodeError): Promise<unknown> {
  let copied: unknown[];
  try {
    copied = structuredClone(args, { transfer: transferList as Transferable[] });
  } catch (error) {
    // As a shard's side path says it (src/main/side-tasks.ts): the ring encoder's error, naming the path.
    throw unsendable ?? new EncodeError(`the task cannot be sent to a thread: ${describeReason(error)}`, '', { cause: error });
  }
  await nextTurn();
  const fn = await taskFunction(module, name);
  markTask(id);
  let result: unknown;
  try {
    result = fn(...copied);
  } finally {
    markTask(0);
  }
  return structuredClone(await result);
}

/**
 * Charges the process's uncaught exceptions to the actors whose code threw them, while an inline
 * system runs: the actor crashes (`crash(serial, error)` true). An exception no live actor threw is
 * left as Node leaves it: if no other listener takes it, it is printed and the process exits with 1,
 * as it would without this listener. Returns the function that removes the listener (at stop).
 */
export function chargeUncaught(crash: (serial: number, error: unknown) => boolean): { context: CrashContext; release: () => void } {
  const context = new CrashContext();
  const listener = (error: unknown): void => {
    const serial = context.current();
    if (serial !== undefined && crash(serial, error)) return;
    if (process.listenerCount('uncaughtException') > 1) return; // another listener takes it, as it would without weft
    process.off('uncaughtException', listener);
    console.error('Uncaught', error);
    process.exit(1);
  };
  process.on('uncaughtException', listener);
  return { context, release: () => process.off('uncaughtException', listener) };
}
