/**
 * A call's `signal` (`ref.call(msg, { signal })`): watched only while the call waits, so a signal
 * shared by many calls (one per request, say) does not collect a listener per finished call.
 */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/** Calls `abort` if `signal` aborts before `waiting` settles; the listener goes when it settles. */
export function onAbortWhileWaiting(signal: AbortSignal, waiting: Promise<unknown>, abort: () => void): void {
  signal.addEventListener('abort', abort, { once: true });
  const done = (): void => signal.removeEventListener('abort', abort);
  waiting.then(done, done);
}

/** `signal` as given to `call`: undefined or an AbortSignal; InvalidArgumentError otherwise. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new InvalidArgumentError(`expected \`signal\` to be an AbortSignal, got: ${describeValue(signal)}`);
}
