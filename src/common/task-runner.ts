/**
 * The task runner: the actor that runs plain functions for `ThreadPool.run`, `system.run` and
 * `system.map`. Main starts one per shard and spreads tasks over them (src/main/tasks.ts).
 *
 * A task names a module (a piscina-style worker file: `export default fn`, `module.exports = fn`,
 * or named exports, or a promise of any of these) and an export; the runner imports the module
 * once per thread and calls the function with the task's arguments. A synchronous function's
 * result is the reply; an async one's is sent when it settles, while the runner takes the next
 * task (so `concurrentTasksPerWorker` async tasks overlap; the tasks beyond wait here, held, and
 * start as slots free up). What the function throws or rejects with is what the caller's promise
 * rejects with; a value that cannot travel (a cycle, a Proxy whose traps throw, a Symbol) is
 * replaced by a stand-in error that says what could be read. The runner itself never crashes on
 * a task, whatever it throws, returns or rejects with.
 *
 * Every function gets one more argument after the task's own: `{ signal }` (src/common/task-signal.ts).
 * An ABORT_FN call aborts it for a task that has started and is awaiting; a task still held is
 * dropped instead (it never runs), and one that already answered is not here any more.
 *
 * Every task is in one of three places here, and main's dispatcher may ask which (an abort):
 *
 * ```
 *   ring ──▶ held (waiting for a slot) ──▶ parked (started, awaiting) ──▶ answered
 *                                      └──▶ running (sync: this thread's TASK word) ──▶ answered
 * ```
 */
import { AbortError, ModuleError, standInError } from '../shm/errors.js';
import { taskFunction, type TaskFunction } from './task-functions.js';
import { TaskContext } from './task-signal.js';
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

/**
 * Aborts task `id` after its caller aborted it: fn -2, args `[cause]` (the caller's abort reason,
 * or its description when the reason cannot travel). A held task is dropped (it never runs, and its
 * call rejects with AbortError); a started one awaiting here has its signal aborted with an
 * AbortError whose `cause` is that reason. The answer lists the tasks started and awaiting here.
 */
export const ABORT_FN = -2;

/** The answer to an ABORT_FN call: `started` lists the tasks parked here now (the aborted one among them, if it is). */
export interface AbortAnswer {
  started: number[];
}

/** The context's runner-only parts (implemented by the actor cell, not part of the public ctx). */
interface RunnerContext extends CallContext {
  replyError(to: ReplyTo<unknown>, error: unknown): void;
  /** Stores `id` (0: none) as the task this thread is running now (ring-set.ts `taskIndex`). */
  markTask(id: number): void;
  /** Counts an async task started (+1) or answered (-1) (ring-set.ts `parkedIndex`). */
  parkTask(delta: 1 | -1): void;
}

function internal(ctx: ActorContext): RunnerContext {
  return ctx as unknown as RunnerContext;
}

type Held = [fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown>];

interface State {
  /** Function number (main's) → the function, once imported. */
  readonly functions: Map<number, TaskFunction>;
  /** Async tasks pending at once, at most (piscina's `concurrentTasksPerWorker`). */
  readonly concurrency: number;
  /** The async tasks started and not yet settled (parked), by id, with what aborts them: at most `concurrency`. */
  readonly parked: Map<number, TaskContext>;
  /** Tasks waiting for a slot, in arrival order. */
  readonly held: Held[];
}

/**
 * Answers `from` with `value` (or rejects it with `value` as the error), whatever the value: if it
 * cannot travel, the caller gets a stand-in error; nothing here throws, so no task's answer can
 * take the runner (or an async task's settling, the thread) down.
 */
function answer(ctx: RunnerContext, from: ReplyTo<unknown>, ok: boolean, value: unknown): void {
  try {
    if (ok) ctx.reply(from, value);
    else ctx.replyError(from, value);
  } catch (failure) {
    try {
      ctx.replyError(from, standInError(value, failure));
    } catch {
      // The caller's thread is gone: there is no one left to answer.
    }
  }
}

/**
 * Runs `fn` for the call in hand and answers it now (sync) or when it settles (async). With
 * `concurrency` async tasks pending, it waits its turn (held) and runs when one settles.
 */
function run(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall) {
  if (state.parked.size >= state.concurrency) {
    state.held.push([fn, task, ctx.from]);
    return ctx.noreply(state);
  }
  const result = start(ctx, state, fn, task, ctx.from);
  return result === NOTHING ? ctx.noreply(state) : { reply: result, state };
}

const NOTHING = Symbol('answered later');

/** Calls `fn`; returns a sync result to reply with, or NOTHING when the answer goes (or went) by `answer`. */
function start(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown>): unknown {
  let result: unknown;
  let thenable: boolean;
  const options = new TaskContext();
  ctx.markTask(task[0]);
  try {
    result = fn(...task[2], options);
    // Reading `then` may throw (a Proxy): then the task rejects with that, as `await` would.
    thenable = isThenable(result);
  } catch (error) {
    answer(ctx, from, false, error);
    return NOTHING;
  } finally {
    ctx.markTask(0);
  }
  if (!thenable) return result;
  const id = task[0];
  state.parked.set(id, options);
  ctx.parkTask(1);
  const settled = (ok: boolean, value: unknown) => {
    state.parked.delete(id);
    ctx.parkTask(-1);
    answer(ctx, from, ok, value);
    startHeld(ctx, state);
  };
  // `then` of a foreign thenable may throw, or call back twice: the first word counts, once.
  let once = false;
  try {
    (result as PromiseLike<unknown>).then(
      (value) => {
        if (once) return;
        once = true;
        settled(true, value);
      },
      (error: unknown) => {
        if (once) return;
        once = true;
        settled(false, error);
      },
    );
  } catch (error) {
    if (!once) {
      once = true;
      settled(false, error);
    }
  }
  return NOTHING;
}

/**
 * Starts held tasks while a slot is free: a held task that turns out synchronous answers at once
 * and frees its slot again, so one settling async task may start several held ones.
 */
function startHeld(ctx: RunnerContext, state: State): void {
  while (state.parked.size < state.concurrency) {
    const next = state.held.shift();
    if (next === undefined) return;
    const [fn, task, from] = next;
    const value = start(ctx, state, fn, task, from);
    if (value !== NOTHING) answer(ctx, from, true, value);
  }
}

/** An ABORT_FN call for task `id`: drops it if held, aborts its signal if parked; says which tasks are parked. */
function aborted(ctx: RunnerContext, state: State, id: number, cause: unknown): AbortAnswer {
  const at = state.held.findIndex(([, task]) => task[0] === id);
  if (at !== -1) answer(ctx, state.held.splice(at, 1)[0][2], false, new AbortError('the task was aborted before it ran', { cause }));
  // Listeners the task added run now, inside this call: what they throw is theirs, not the runner's.
  try {
    state.parked.get(id)?.abort(new AbortError('the caller aborted this task', { cause }));
  } catch {
    // An abort listener threw: the task still sees its signal aborted.
  }
  return { started: [...state.parked.keys()] };
}

export default defineActor({
  init: (args: { concurrency: number } | undefined): State => ({ functions: new Map(), concurrency: args?.concurrency ?? Infinity, parked: new Map(), held: [] }),
  handleCall: (task: TaskCall, state: State, ctx) => {
    const runner = internal(ctx);
    const fnNumber = task[1];
    if (fnNumber < 0) {
      if (fnNumber === ABORT_FN) return { reply: aborted(runner, state, task[0], task[2][0]) as unknown, state };
      ctx.stop('normal');
      return { reply: null, state };
    }
    const fn = state.functions.get(fnNumber);
    if (fn !== undefined) return run(runner, state, fn, task);
    // First task for this function on this thread: import it (the runner waits, once).
    const from = ctx.from;
    if (task.length !== 5) {
      answer(runner, from, false, new ModuleError(`task function ${fnNumber} was never named to this runner`));
      return ctx.noreply(state);
    }
    return taskFunction(task[3], task[4]).then(
      (loaded) => {
        state.functions.set(fnNumber, loaded);
        return run(runner, state, loaded, task);
      },
      (error: unknown) => {
        answer(runner, from, false, error);
        return ctx.noreply(state);
      },
    );
  },
});
