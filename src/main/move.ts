/**
 * `ThreadPool.move(value)`, piscina's `move`: marks an ArrayBuffer (or a typed array's buffer, or
 * a MessagePort) to be moved to the thread rather than copied when it is a task, as if it were in
 * `transferList`; returned from a task, the value arrives as it would unmarked (results come back
 * through the rings, as bytes). The value itself is returned, not a wrapper, so code that reads it
 * after `move` (or a task that returns it) sees what it always did.
 */
import { types } from 'node:util';
import type { Transferable } from 'node:worker_threads';

/** What `move` marks (a thread's own marks; they do not travel). */
const marked = new WeakMap<object, Transferable>();

/** A value `move` has marked. */
export type Movable = object;

export function move<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (types.isArrayBufferView(value)) marked.set(value, value.buffer as ArrayBuffer);
  else marked.set(value, value as unknown as Transferable);
  return value;
}

/** True if `value` was marked by `move` (on this thread). */
export function isMovable(value: unknown): value is Movable {
  return typeof value === 'object' && value !== null && marked.has(value);
}

/** What moving a marked `value` transfers. */
export function moved(value: Movable): Transferable {
  return marked.get(value)!;
}
