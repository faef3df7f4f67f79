/**
 * The task runner: the actor that runs plain functions for `ThreadPool.run`, `system.run` and
 * `system.map`. Main starts one per shard and spreads tasks over them (src/main/tasks.ts).
 *
 * A task names a module (a piscina-style worker file: `export default fn`, `module.exports = fn`,
 * or named exports, or a promise of any of these) and an export; the runner imports the module
 * once per thread and calls the function with the task's arguments. A synchronous function's
 * result is the reply; an async one's is sent when it settles, while the runner takes the next
 * task (so `concurrentTasksPerWorker` async tasks overlap). What the function throws or rejects
 * with is what the caller's promise rejects with: the runner itself never crashes on a task.
 */
import { ModuleError } from '../shm/errors.js';
import { isThenable, taskFunction, type TaskFunction } from './task-functions.js';
import { defineActor, type ActorContext, type CallContext, type ReplyTo } from './actor.js';

/**
 * One task: the function numbered `fn` called with `args`; `id` is main's, unique while it runs (0
 * is never used). The first task of a function on a runner also names it (`module`, `name`), and
 * later ones send only its number: a module URL costs more to encode and decode than a tiny task.
 */
export type TaskCall = [id: number, fn: number, args: unknown[]] | [id: number, fn: number, args: unknown[], module: string, name: string];

/** The context's runner-only parts (implemented by the actor cell, not part of the public ctx). */
interface RunnerContext extends CallContext {
  replyError(to: ReplyTo<unknown>, error: unknown): void;
  /** Stores `id` (0: none) as the task this thread is running now (ring-set.ts `taskIndex`). */
  markTask(id: number): void;
}

function internal(ctx: ActorContext): RunnerContext {
  return ctx as unknown as RunnerContext;
}

interface State {
  /** Function number (main's) → the function, once imported. */
  readonly functions: Map<number, TaskFunction>;
}

/** Runs `fn` for the call in hand and answers it now (sync) or when it settles (async). */
function run(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall) {
  const from = ctx.from;
  let result: unknown;
  ctx.markTask(task[0]);
  try {
    result = fn(...task[2]);
  } catch (error) {
    ctx.replyError(from, error);
    return ctx.noreply(state);
  } finally {
    ctx.markTask(0);
  }
  if (!isThenable(result)) return { reply: result, state };
  result.then(
    (value) => ctx.reply(from, value),
    (error: unknown) => ctx.replyError(from, error),
  );
  return ctx.noreply(state);
}

export default defineActor({
  init: (): State => ({ functions: new Map() }),
  handleCall: (task: TaskCall, state: State, ctx) => {
    const runner = internal(ctx);
    const fn = state.functions.get(task[1]);
    if (fn !== undefined) return run(runner, state, fn, task);
    // First task for this function on this thread: import it (the runner waits, once).
    const from = ctx.from;
    if (task.length !== 5) {
      runner.replyError(from, new ModuleError(`task function ${task[1]} was never named to this runner`));
      return ctx.noreply(state);
    }
    return taskFunction(task[3], task[4]).then(
      (loaded) => {
        state.functions.set(task[1], loaded);
        return run(runner, state, loaded, task);
      },
      (error: unknown) => {
        runner.replyError(from, error);
        return ctx.noreply(state);
      },
    );
  },
});
