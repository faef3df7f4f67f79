/**
 * A signal as weft listens to it, whatever it was given as: `aborted`, `reason`, and a way to
 * listen once and stop listening. Streams on any thread take it (src/common/stream.ts); main's
 * tasks turn an AbortSignal or an EventEmitter into one (src/main/task-signal.ts `abortable`).
 */

export interface Abortable {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `listener` once on abort; returns what stops listening. */
  listen(listener: () => void): () => void;
}

/** An AbortSignal (or an object with its `addEventListener`/`removeEventListener`) as an Abortable. */
export function fromAbortSignal(signal: AbortSignal): Abortable {
  return {
    get aborted() {
      return signal.aborted === true;
    },
    get reason() {
      return signal.reason;
    },
    listen: (listener) => {
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}
