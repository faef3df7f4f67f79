/**
 * What may abort a task: a DOM `AbortSignal`, or an EventEmitter that emits `'abort'` (piscina
 * takes both, and older code passes an emitter with an `aborted` flag). The dispatcher sees one
 * shape: `aborted`, `reason`, and a way to listen once and stop listening. Anything else is
 * refused with a TypeError before the task is sent, never a throw later from a listener call.
 */
import { InvalidOptionTypeError, describeValue } from '../shm/errors.js';
import type { StreamOptions } from '../common/stream.js';
import { fromAbortSignal, type Abortable } from '../common/abortable.js';

export type { Abortable };

/** An EventEmitter-style signal: `once('abort', fn)`, `removeListener('abort', fn)`, and `aborted` if it keeps one. */
export interface AbortEmitter {
  readonly aborted?: boolean;
  once(event: 'abort', listener: () => void): unknown;
  removeListener(event: 'abort', listener: () => void): unknown;
}

/** What `run(task, { signal })` accepts. */
export type TaskSignal = AbortSignal | AbortEmitter;

function isAbortSignalLike(signal: object): signal is AbortSignal {
  return typeof (signal as AbortSignal).addEventListener === 'function' && typeof (signal as AbortSignal).removeEventListener === 'function';
}

/** `signal` as an Abortable; a TypeError (InvalidOptionTypeError) if it is neither kind. */
export function abortable(signal: unknown): Abortable {
  if (typeof signal === 'object' && signal !== null) {
    if (isAbortSignalLike(signal)) return fromAbortSignal(signal);
    const emitter = signal as Partial<AbortEmitter>;
    if (typeof emitter.once === 'function' && typeof emitter.removeListener === 'function') {
      return {
        get aborted() {
          return emitter.aborted === true;
        },
        reason: undefined,
        listen: (listener) => {
          emitter.once!('abort', listener);
          return () => emitter.removeListener!('abort', listener);
        },
      };
    }
  }
  throw new InvalidOptionTypeError(`expected \`signal\` to be an AbortSignal or an EventEmitter (once/removeListener), got: ${describeValue(signal)}`);
}

/** Options of `system.runWith` (the task's arguments go before, as an array). */
export interface SystemRunOptions {
  /**
   * Aborts the task: `AbortError` at once; the task's own `{ signal }` aborts in its thread, and
   * only a task that ignores it for `abortGrace` ms has its thread ended. An `AbortSignal`, or an
   * EventEmitter that emits `'abort'`.
   * @example { signal: AbortSignal.timeout(500) }
   */
  signal?: TaskSignal;
}

/** Options of `system.streamWith` (the task's arguments go before, as an array). */
export interface SystemStreamOptions extends StreamOptions {
  /**
   * Ends the stream: the waiting (or next) `next()` rejects with `AbortError`, and the generator on
   * its thread is ended as `break` ends it. An `AbortSignal`, or an EventEmitter that emits `'abort'`.
   */
  signal?: TaskSignal;
}

/**
 * `signal`, heard from now on through one listener of its own, which passes the abort on to those
 * listening to the latch (`first`, if given, before them). Two uses:
 * - a task that reaches its dispatcher later (run while the pool is still starting): an
 *   EventEmitter keeps no `aborted` flag to read by then, so an 'abort' emitted meanwhile would be
 *   lost and the task would run as if never aborted; the latch remembers it;
 * - many tasks under one signal (`system.map`'s items): an AbortSignal warns past ten listeners.
 * `release()` stops listening to `signal` once the tasks settled.
 */
export function latched(signal: Abortable, first?: () => void): Abortable & { release(): void } {
  let fired = signal.aborted;
  const listeners = new Set<() => void>();
  const release = fired
    ? () => undefined
    : signal.listen(() => {
        fired = true;
        first?.();
        const heard = [...listeners];
        listeners.clear();
        for (const listener of heard) listener();
      });
  return {
    get aborted() {
      return fired || signal.aborted;
    },
    get reason() {
      return signal.reason;
    },
    listen: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    release,
  };
}
