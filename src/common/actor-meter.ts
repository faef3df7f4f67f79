/**
 * Per-actor figures, opt-in (`start({ metrics: { actors: true } })`): how many messages an actor
 * handled and how long its handlers took, counted by wrapping its behaviour at spawn.
 *
 * Wrapping, rather than a check inside the cell, is what keeps an unmetered system free of any
 * cost: the cell's delivery path is the same code either way, and only a metered actor's callbacks
 * pay for two `performance.now()` reads. An async handler's time runs until its promise settles
 * (its awaits included: that is the time the actor was busy and its mailbox waited).
 */
import { performance } from 'node:perf_hooks';
import { isThenable } from './thenable.js';
import type { ActorBehaviour } from './actor.js';

type Behaviour = ActorBehaviour<unknown, unknown, unknown, unknown, unknown, unknown, unknown, unknown>;

/** One actor's figures as `system.stats()` reports them (counters since the actor started). */
export interface ActorMetrics {
  /** The actor's serial on its thread (its pid is `<node.thread.serial>`). */
  serial: number;
  name: string | null;
  /** Calls, casts and infos handled (those still running included). */
  messages: number;
  /** Time spent in its handlers, ms (an async handler counts until its promise settles). */
  handlerMs: number;
  /** Messages waiting in its mailbox now (the one being handled not counted; system messages counted). */
  mailboxDepth?: number;
  /** The deepest its mailbox has been since it started. */
  mailboxHighWater?: number;
  /** Messages its mailbox bound (`spawn(…, { mailbox })`) refused or dropped since it started. */
  mailboxDropped?: number;
}

export class ActorMeter {
  messages = 0;
  handlerMs = 0;
  constructor(
    readonly serial: number,
    readonly name: string | null,
  ) {}

  report(): ActorMetrics {
    return { serial: this.serial, name: this.name, messages: this.messages, handlerMs: this.handlerMs };
  }

  /** `behaviour` with each handler timed into this meter; a handler it lacks stays missing. */
  wrap(behaviour: Behaviour): Behaviour {
    const timed = <F extends (...args: never[]) => unknown>(handler: F | undefined): F | undefined => {
      if (handler === undefined) return undefined;
      const meter = this;
      return function (this: unknown, ...args: Parameters<F>): unknown {
        meter.messages++;
        const started = performance.now();
        let result: unknown;
        try {
          result = handler.apply(this, args);
        } catch (error) {
          meter.handlerMs += performance.now() - started;
          throw error;
        }
        if (!isThenable(result)) {
          meter.handlerMs += performance.now() - started;
          return result;
        }
        const done = (): void => {
          meter.handlerMs += performance.now() - started;
        };
        // The cell sees the same outcome; only the time is taken on the way.
        return (result as PromiseLike<unknown>).then(
          (value) => {
            done();
            return value;
          },
          (error: unknown) => {
            done();
            throw error;
          },
        );
      } as unknown as F;
    };
    // Over the original (not a copy of its own fields), so a behaviour built as a class keeps its methods.
    const wrapped = Object.create(behaviour) as Behaviour;
    if (behaviour.handleCall !== undefined) wrapped.handleCall = timed(behaviour.handleCall);
    if (behaviour.handleCast !== undefined) wrapped.handleCast = timed(behaviour.handleCast);
    if (behaviour.handleInfo !== undefined) wrapped.handleInfo = timed(behaviour.handleInfo);
    return wrapped;
  }
}
