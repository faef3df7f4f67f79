/**
 * What a task function gets after its own arguments: `{ signal }`, an AbortSignal that aborts, in
 * the task's thread, when the caller's signal aborts (main sends the runner an ABORT_FN call over the
 * ring; src/common/task-runner.ts). A task that checks it and ends is answered and keeps its thread;
 * one that ignores it for `abortGrace` ms has its thread ended (src/main/tasks.ts).
 *
 * ```ts
 * // worker.js
 * export default async function crunch(input, { signal }) {
 *   for (const chunk of input.chunks) {
 *     signal.throwIfAborted();      // rejects with the abort reason: the thread lives on
 *     await step(chunk);
 *   }
 * }
 * ```
 *
 * The AbortController behind it is made only when a task reads `signal`, or when an abort comes
 * first: a tiny task that never looks costs one small object, not a controller and its event target.
 */

/** The second argument of every task function (after its own arguments). */
export interface TaskOptions {
  /** Aborts when the caller aborts the task (its `signal`); `reason` is an AbortError. Never aborts for a task no one can abort. */
  readonly signal: AbortSignal;
}

/** Set as `reason` until the task is aborted (an abort's reason may be any value, undefined included). */
const NOT_ABORTED: unique symbol = Symbol('not aborted');

export class TaskContext implements TaskOptions {
  private controller: AbortController | undefined;
  private reason: unknown = NOT_ABORTED;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== NOT_ABORTED) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** True once aborted: asks without making the signal (a side task checks it before it starts). */
  get aborted(): boolean {
    return this.reason !== NOT_ABORTED;
  }

  /** Aborts the task's signal with `reason` (once; later calls do nothing). Its listeners run now. */
  abort(reason: unknown): void {
    if (this.reason !== NOT_ABORTED) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
