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
 *
 * A streamed task (its call carries a sixth element, the opening credit) is not held or parked: its
 * generator is kept in the runner's stream table and makes values as main's credit allows
 * (src/common/task-stream.ts).
 *
 * A task main sent ahead, to this thread while it was busy (its id comes negated), is main's to take
 * back until it starts: the runner claims it first (ring-set.ts `claimIndex`), and if main took it
 * back to run on a thread that came free sooner, answers null without running it (main no longer
 * waits for that answer). A claimed one first publishes the answers the thread has sent in this
 * drain: they must not wait behind a long task.
 *
 * A ring task that finds every slot held by a started async task (`concurrency`) is returned to
 * main rather than held: those may never settle, and main runs it on another thread, or here once
 * a slot frees (src/main/tasks.ts). The answer that says so carries main's token (`Returned`), so
 * nothing a task throws can pass for it. Side tasks still wait here for a slot.
 */
import { AbortError, ModuleError } from '../shm/errors.js';
import { taskFunction, type TaskFunction } from './task-functions.js';
import { TaskContext } from './task-signal.js';
import { isThenable } from './thenable.js';
import { replySafely } from './safe-reply.js';
import { defineActor, type ActorContext, type CallContext, type ReplyTo } from './actor.js';
import { STREAM_CANCEL, STREAM_PULL, StreamTable } from './task-stream.js';

/**
 * One task: the function numbered `fn` called with `args`; `id` is main's, unique while it runs (0
 * is never used), negated for a task sent ahead (see the module comment). The first task of a
 * function on a runner also names it (`module`, `name`), and later ones send only its number: a
 * module URL costs more to encode and decode than a tiny task.
 */
export type TaskCall =
  | [id: number, fn: number, args: unknown[]]
  | [id: number, fn: number, args: unknown[], module: string, name: string]
  | StreamCall;

/**
 * A streamed task: the function's iterator is kept here and makes up to `credit` values before
 * main grants more (src/common/task-stream.ts). `module` and `name` are null once the function is named.
 */
export type StreamCall = [id: number, fn: number, args: unknown[], module: string | null, name: string | null, credit: number];

/** The task that ends a runner (its dispatcher closed): fn -1. */
export const STOP_TASK: TaskCall = [0, -1, []];

/**
 * Aborts task `id` after its caller aborted it: fn -2, args `[cause]` (the caller's abort reason,
 * or its description when the reason cannot travel). A held task is dropped (it never runs, and its
 * call rejects with AbortError); a started one awaiting here has its signal aborted with an
 * AbortError whose `cause` is that reason. The answer lists the tasks started and awaiting here.
 */
export const ABORT_FN = -2;

/** What a task returned unstarted is rejected with (see the module comment): `token` is the dispatcher's, given in the runner's args. */
export interface Returned {
  weftReturned: string;
}

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
  /** Claims task `id`, sent ahead to this thread; false if main took it back (ring-set.ts `claimIndex`). */
  claimTask(id: number): boolean;
  /** Publishes the answers sent so far in this drain (`Endpoint.publishCorked`): they must not wait for a long task. */
  flushSends(): void;
}

function internal(ctx: ActorContext): RunnerContext {
  return ctx as unknown as RunnerContext;
}

type Held = [fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown>];

/**
 * A task that came beside the rings (src/worker/side-tasks.ts) for this runner: it takes one of
 * the runner's slots as a ring task does, so `concurrentTasksPerWorker` counts both kinds together.
 * `done` answers it on the port.
 */
export interface SideCall {
  readonly id: number;
  readonly fn: TaskFunction;
  readonly args: unknown[];
  readonly done: (ok: boolean, value: unknown) => void;
  /** Its `{ signal }`, made when it arrived: an abort told while its module loaded is already in it. */
  readonly options: TaskContext;
}

interface State {
  /** Function number (main's) → the function, once imported. */
  readonly functions: Map<number, TaskFunction>;
  /** Async tasks pending at once, at most (piscina's `concurrentTasksPerWorker`). */
  readonly concurrency: number;
  /** The async tasks started and not yet settled (parked), by id, with what aborts them: at most `concurrency`. */
  readonly parked: Map<number, TaskContext>;
  /** Tasks waiting for a slot, in arrival order (ring tasks and side tasks alike). */
  readonly held: Array<Held | SideCall>;
  /** The dispatcher's token for tasks returned unstarted (see the module comment); none: ring tasks are held too. */
  readonly returnToken: string | undefined;
  /** Streamed tasks under way. */
  readonly streams: StreamTable;
}

/**
 * The runners of this thread by their key (main's, one per dispatcher), with their context: where
 * a side task for a runner finds its slots. A runner is here from `init` until it stops.
 */
const runners = new Map<number, { state: State; ctx: RunnerContext }>();

/**
 * Runs side task `call` in the slots of runner `key` on this thread: now if one is free, else when
 * one frees, in turn with the runner's held ring tasks. False if no such runner lives here (its
 * dispatcher closed): the caller runs it alone.
 */
export function runInSlot(key: number, call: SideCall): boolean {
  const runner = runners.get(key);
  if (runner === undefined) return false;
  const { state, ctx } = runner;
  if (state.parked.size >= state.concurrency) state.held.push(call);
  else startSide(ctx, state, call);
  return true;
}

/** Starts side task `call`: its answer goes on the port, now (sync) or when it settles (async). */
function startSide(ctx: RunnerContext, state: State, call: SideCall): void {
  const value = start(ctx, state, call.fn, [call.id, 0, call.args], undefined, call);
  if (value !== NOTHING) call.done(true, value);
}


/**
 * Runs `fn` for the call in hand and answers it now (sync) or when it settles (async). With
 * `concurrency` async tasks pending, it waits its turn (held) and runs when one settles.
 */
function run(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall) {
  if (state.parked.size >= state.concurrency) {
    if (state.returnToken === undefined) {
      state.held.push([fn, task, ctx.from]);
      return ctx.noreply(state);
    }
    // Sent ahead: main may have taken it back already (then it is not ours to return either).
    if (task[0] < 0 && !ctx.claimTask(-task[0])) return { reply: null, state };
    replySafely(ctx, ctx.from, false, { weftReturned: state.returnToken } satisfies Returned);
    return ctx.noreply(state);
  }
  const result = start(ctx, state, fn, task, ctx.from);
  return result === NOTHING ? ctx.noreply(state) : { reply: result, state };
}

const NOTHING = Symbol('answered later');

/**
 * Calls `fn`; returns a sync result to reply with, or NOTHING when the answer goes (or went) by
 * `replySafely` to `from`, or by `side.done` for a side task.
 */
function start(ctx: RunnerContext, state: State, fn: TaskFunction, task: TaskCall, from: ReplyTo<unknown> | undefined, side?: SideCall): unknown {
  let id = task[0];
  if (id < 0) {
    id = -id;
    // Sent ahead: main may have taken it back for a thread that came free first (it runs there).
    if (!ctx.claimTask(id)) {
      replySafely(ctx, from!, true, null);
      return NOTHING;
    }
    // It is a long one (main sends only those ahead), and the answer before it is likely still corked.
    ctx.flushSends();
  }
  let result: unknown;
  let thenable: boolean;
  const options = side?.options ?? new TaskContext();
  ctx.markTask(id);
  try {
    result = fn(...task[2], options);
    // Reading `then` may throw (a Proxy): then the task rejects with that, as `await` would.
    thenable = isThenable(result);
  } catch (error) {
    if (side === undefined) replySafely(ctx, from!, false, error);
    else side.done(false, error);
    return NOTHING;
  } finally {
    ctx.markTask(0);
  }
  if (!thenable) return result;
  state.parked.set(id, options);
  ctx.parkTask(1);
  const settled = (ok: boolean, value: unknown) => {
    state.parked.delete(id);
    ctx.parkTask(-1);
    if (side === undefined) replySafely(ctx, from!, ok, value);
    else side.done(ok, value);
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
    if (!Array.isArray(next)) {
      startSide(ctx, state, next);
      continue;
    }
    const [fn, task, from] = next;
    const value = start(ctx, state, fn, task, from);
    if (value !== NOTHING) replySafely(ctx, from, true, value);
  }
}

/** Starts a streamed task: its first values answer this call (src/common/task-stream.ts). */
function openStream(ctx: RunnerContext, state: State, fn: TaskFunction, task: StreamCall) {
  state.streams.start(ctx, task[0], fn, task[2], task[5], ctx.from, `task function ${fn.name === '' ? task[1] : fn.name}`);
  return ctx.noreply(state);
}

/** An ABORT_FN call for task `id`: drops it if held, aborts its signal if parked; says which tasks are parked. */
function aborted(ctx: RunnerContext, state: State, id: number, cause: unknown): AbortAnswer {
  const at = state.held.findIndex((held) => Array.isArray(held) && held[1][0] === id);
  if (at !== -1) replySafely(ctx, (state.held.splice(at, 1)[0] as Held)[2], false, new AbortError('the task was aborted before it ran', { cause }));
  abortParked(state, id, cause);
  return { started: [...state.parked.keys()] };
}

/** Aborts the signal of task `id` if it is parked in `state`; true if it was. */
function abortParked(state: State, id: number, cause: unknown): boolean {
  const options = state.parked.get(id);
  if (options === undefined) return false;
  // Listeners the task added run now, inside this call: what they throw is theirs, not the runner's.
  try {
    options.abort(new AbortError('the caller aborted this task', { cause }));
  } catch {
    // An abort listener threw: the task still sees its signal aborted.
  }
  return true;
}

/**
 * Aborts side task `id`'s signal if it runs, awaiting, in a runner's slot here (src/worker/side-tasks.ts
 * runs side tasks in the slots of their dispatcher's runner); true if it did. A held one is dropped.
 */
export function abortInSlot(id: number, cause: unknown): boolean {
  for (const { state } of runners.values()) {
    const at = state.held.findIndex((held) => !Array.isArray(held) && held.id === id);
    if (at !== -1) {
      (state.held.splice(at, 1)[0] as SideCall).done(false, new AbortError('the task was aborted before it ran', { cause }));
      return true;
    }
    if (abortParked(state, id, cause)) return true;
  }
  return false;
}

export default defineActor({
  init: (args: { concurrency: number; key?: number; returnToken?: string } | undefined, ctx): State => {
    const state: State = { functions: new Map(), concurrency: args?.concurrency ?? Infinity, parked: new Map(), held: [], returnToken: args?.returnToken, streams: new StreamTable() };
    if (args?.key !== undefined) runners.set(args.key, { state, ctx: internal(ctx) });
    return state;
  },
  handleCall: (task: TaskCall, state: State, ctx) => {
    const runner = internal(ctx);
    const fnNumber = task[1];
    if (fnNumber < 0) {
      if (fnNumber === ABORT_FN) return { reply: aborted(runner, state, task[0], task[2][0]) as unknown, state };
      if (fnNumber === STREAM_PULL) {
        state.streams.pull(runner, task[0], (task[2] as [number])[0], ctx.from);
        return ctx.noreply(state);
      }
      if (fnNumber === STREAM_CANCEL) {
        state.streams.cancel(runner, task[0], ctx.from);
        return ctx.noreply(state);
      }
      for (const [key, entry] of runners) if (entry.state === state) runners.delete(key);
      ctx.stop('normal');
      return { reply: null, state };
    }
    const fn = state.functions.get(fnNumber);
    if (fn !== undefined) return task.length === 6 ? openStream(runner, state, fn, task) : run(runner, state, fn, task);
    // First task for this function on this thread: import it (the runner waits, once).
    const from = ctx.from;
    if (typeof task[3] !== 'string' || typeof task[4] !== 'string') {
      replySafely(runner, from, false, new ModuleError(`task function ${fnNumber} was never named to this runner`));
      return ctx.noreply(state);
    }
    return taskFunction(task[3], task[4]).then(
      (loaded) => {
        state.functions.set(fnNumber, loaded);
        return task.length === 6 ? openStream(runner, state, loaded, task) : run(runner, state, loaded, task);
      },
      (error: unknown) => {
        replySafely(runner, from, false, error);
        return ctx.noreply(state);
      },
    );
  },
  // Open generators end with their runner (their finally blocks run), before the thread's teardown.
  terminate: (_reason, state) => state.streams.closeAll(),
});
