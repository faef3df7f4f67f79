/** Whether a callback's result is a promise (or any thenable) to wait for: how an async handler is told from a sync one. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
