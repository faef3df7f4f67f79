/**
 * Events whose listeners cannot stop the system. Node's EventEmitter runs listeners in the
 * emitter's own stack: a listener that throws ends the emit (later listeners never hear) and the
 * throw climbs into whatever emitted, which for weft is main's receive loop, a NATS subscription,
 * or the root supervisor. A foreign message from the network emits 'deadLetter', so a buggy
 * listener could otherwise be crashed from afar. Here every listener runs under its own guard; a
 * throw is reported (to the 'error' listeners, if any, else as a process warning) and delivery
 * goes on to the next listener.
 */
import { EventEmitter } from 'node:events';
import { describeReason } from '../shm/errors.js';

/** How a throwing listener is reported: `'error'` with this, when anyone listens for it. */
export interface ListenerError {
  /** The event whose listener threw ('frame': main's own handling of a frame from a thread). */
  event: string;
  /** What it threw. */
  error: unknown;
}

type Listener = (...args: unknown[]) => unknown;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own constraint
export class GuardedEmitter<T extends Record<keyof T, any[]>> extends EventEmitter<T> {
  /** Calls every listener of `event` in order; a throw is reported, never propagated. */
  override emit<K>(event: K, ...args: unknown[]): boolean {
    const untyped = this as unknown as EventEmitter;
    const listeners = untyped.rawListeners(event as string) as Listener[];
    if (listeners.length === 0) {
      if (event === 'error') {
        const reported = args[0] as Partial<ListenerError> | undefined;
        warn(reported?.event ?? 'error', reported?.error);
      }
      return false;
    }
    // a copy: a listener that adds or removes listeners changes the list, not this delivery
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (error) {
        this.listenerThrew(String(event), error);
      }
    }
    return true;
  }

  private listenerThrew(event: string, error: unknown): void {
    const untyped = this as unknown as EventEmitter;
    if (event === 'error' || untyped.listenerCount('error') === 0) {
      warn(event, error);
      return;
    }
    (this.emit as (event: string, error: ListenerError) => boolean)('error', { event, error });
  }
}

function warn(event: string, error: unknown): void {
  try {
    const what = event === 'frame' ? "main's handling of a frame" : `a listener of the system's ${JSON.stringify(event)} event`;
    process.emitWarning(`${what} threw; the system runs on: ${describeReason(error)}`, { code: 'WEFT_LISTENER_THREW', detail: error instanceof Error ? error.stack : undefined });
  } catch {
    // a 'warning' listener that throws: nothing more can be said
  }
}
