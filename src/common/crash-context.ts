/**
 * Inline mode's stand-in for a thread crash (src/main/inline.ts). On a shard, an exception that
 * escapes an actor's handlers (thrown in a timer callback the actor set) ends the thread, and its
 * actors exit with `{ threadDown }`. On main there is no thread to lose: the same exception would
 * be the process's. So in inline mode every callback of an actor runs inside an async context that
 * names the actor, which the callbacks it schedules (timers, immediates, `process.nextTick`, the
 * continuations of its awaits) inherit; the uncaught exception is then charged to that actor,
 * which crashes with it as if its handler had thrown, and its links, monitors and supervisor see
 * an ordinary crash.
 *
 * Wrapping, as ActorMeter does, keeps the cost off systems that do not ask: only inline mode makes
 * a CrashContext. What it cannot charge: a throw inside a `queueMicrotask` callback, and a stray
 * promise's rejection (neither carries the context to the process's handler).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActorBehaviour } from './actor.js';

type Behaviour = ActorBehaviour<unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown>;

export class CrashContext {
  private readonly actor = new AsyncLocalStorage<number>();

  /** The serial of the actor whose code (or what it scheduled) is running now, if any. */
  current(): number | undefined {
    return this.actor.getStore();
  }

  /** Runs `fn` as actor `serial`'s code. */
  run<T>(serial: number, fn: () => T): T {
    return this.actor.run(serial, fn);
  }

  /** `behaviour` with each callback run as actor `serial`'s code; a callback it lacks stays missing. */
  wrap(behaviour: Behaviour, serial: number): Behaviour {
    const context = this;
    const within = <F extends (...args: never[]) => unknown>(callback: F | undefined): F | undefined =>
      callback === undefined
        ? undefined
        : (function (this: unknown, ...args: Parameters<F>): unknown {
            return context.actor.run(serial, () => callback.apply(this, args));
          } as F);
    // Over the original (not a copy of its own fields), so a behaviour built as a class keeps its methods.
    const wrapped = Object.create(behaviour) as Behaviour;
    if (behaviour.handleCall !== undefined) wrapped.handleCall = within(behaviour.handleCall);
    if (behaviour.handleCast !== undefined) wrapped.handleCast = within(behaviour.handleCast);
    if (behaviour.handleInfo !== undefined) wrapped.handleInfo = within(behaviour.handleInfo);
    if (behaviour.terminate !== undefined) wrapped.terminate = within(behaviour.terminate);
    return wrapped;
  }
}
