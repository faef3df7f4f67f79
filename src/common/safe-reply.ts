/**
 * Answering a call whatever the answer is: the task runner's replies and a stream's batches both
 * carry values user code made, which may not travel between threads. Nothing here throws, so no
 * answer can take the runner (or, from an async task's settling, the thread) down.
 */
import { standInError } from '../shm/errors.js';
import type { ReplyTo } from './actor.js';

/** The part of an actor's context that answers calls. */
export interface Replier {
  reply(to: ReplyTo<unknown>, value: unknown): void;
  replyError(to: ReplyTo<unknown>, error: unknown): void;
}

/**
 * Answers `to` with `value` (or rejects it with `value` as the error, whatever the value): if it
 * cannot travel, the caller gets a stand-in error that says what could be read; if even that
 * cannot be sent (the caller's thread is gone), there is no one left to answer.
 */
export function replySafely(ctx: Replier, to: ReplyTo<unknown>, ok: boolean, value: unknown): void {
  try {
    if (ok) ctx.reply(to, value);
    else ctx.replyError(to, value);
  } catch (failure) {
    try {
      ctx.replyError(to, standInError(value, failure));
    } catch {
      // The caller's thread is gone: there is no one left to answer.
    }
  }
}
