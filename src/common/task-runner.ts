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
import { taskFunction, type TaskFunction } from './task-functions.js';
import { isThenable } from './thenable.js';
import { defineActor, type ActorContext, type CallContext, type ReplyTo } from './actor.js';

/**
 * One task: the function numbered `fn` called with `args`; `id` is main's, unique while it runs (0
 * is never used). The first task of a function on a runner also names it (`module`, `name`), and
 * later ones send only its number: a module URL costs more to encode and decode than a tiny task.
 */
export type TaskCall = [id: number, fn: number, args: unknown[]] | [id: number, fn: number, args: unknown[], module: string, name: string];

/** The task that ends a runner (its dispatcher closed): fn -1. */
export const STOP_TASK: TaskCall = [0, -1, []];

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
  /** Async tasks pending at once, at most (piscina's `concurrentTasksPerWorker`). */
  readonly concurrency: number;
  /** Async tasks pending now, and tasks held back until one settles. */
  pending: number;
  readonly held: Array<[fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown>]>;
}

/**
 * Runs `fn` for the call in hand and answers it now (sync) or when it settles (async). With
 * `concurrency` async tasks pending, it waits its turn (held) and runs when one settles.
 */
function run(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall) {
  if (state.pending >= state.concurrency) {
    state.held.push([fn, task, ctx.from]);
    return ctx.noreply(state);
  }
  const result = start(ctx, state, fn, task, ctx.from);
  return result === NOTHING ? ctx.noreply(state) : { reply: result, state };
}

const NOTHING = Symbol('answered later');

/** Calls `fn`; returns a sync result to reply with, or NOTHING when the answer goes (or went) by ctx.reply. */
function start(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown>): unknown {
  let result: unknown;
  ctx.markTask(task[0]);
  try {
    result = fn(...task[2]);
  } catch (error) {
    ctx.replyError(from, error);
    return NOTHING;
  } finally {
    ctx.markTask(0);
  }
  if (!isThenable(result)) return result;
  state.pending++;
  const settled = () => {
    state.pending--;
    const next = state.held.shift();
    if (next === undefined) return;
    const [heldFn, heldTask, heldFrom] = next;
    const value = start(ctx, state, heldFn, heldTask, heldFrom);
    if (value !== NOTHING) ctx.reply(heldFrom, value);
  };
  result.then(
    (value) => {
      ctx.reply(from, value);
      settled();
    },
    (error: unknown) => {
      ctx.replyError(from, error);
      settled();
    },
  );
  return NOTHING;
}

export default defineActor({
  init: (args: { concurrency: number } | undefined): State => ({ functions: new Map(), concurrency: args?.concurrency ?? Infinity, pending: 0, held: [] }),
  handleCall: (task: TaskCall, state: State, ctx) => {
    const runner = internal(ctx);
    if (task[1] === STOP_TASK[1]) {
      ctx.stop('normal');
      return { reply: null, state };
    }
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
