/**
 * The thread side of a streamed task (`pool.stream`, `system.stream`): the task runner keeps one
 * `OpenStream` per stream it started, and hands it main's pulls. Main's side is src/common/stream.ts;
 * docs/architecture.md ("Streamed tasks") draws the whole protocol.
 *
 * Credit, not flow: the generator runs only while it holds credit, one value per unit. Main grants
 * credit in its calls (the opening call, then PULLs), at most `highWaterMark` ahead of what its
 * consumer has taken, so the generator never runs further ahead of the consumer than that. Each call
 * is also a slot: the runner answers the oldest open slot with the values made so far (a batch) when
 * its credit runs out, when the generator ends, or at the next turn of the event loop after a value
 * came (a slow generator's values are not held back to fill a batch). Values made while no slot is
 * open wait here for the next one, which main sends as soon as its consumer waits with nothing in
 * hand.
 *
 * ```
 *   main                                       runner (this file)
 *   open(credit 1024) ───────────────────────▶ fn(...args); next() ×1024
 *                   ◀──────────────── [1024 values, more]  credit 0: the generator waits
 *   (consumer takes 256) PULL(credit 256) ───▶ next() ×256
 *                   ◀──────────────── [256 values, more]
 *   (consumer breaks)  CANCEL ───────────────▶ return(): the generator's finally blocks run
 *                   ◀──────────────── (answered once return() has settled)
 * ```
 *
 * An end or a throw is told after the values made before it: `[values, true]` for the end; a throw
 * is the answer to the next slot after the values (REPLY_ERROR), so the consumer sees every value
 * before the error.
 */
import { NotIterableError, describeValue, standInError } from '../shm/errors.js';
import type { ReplyTo } from './actor.js';
import { isThenable } from './thenable.js';
import { replySafely, type Replier } from './safe-reply.js';

/** Grants `credit` more values of stream `id` and opens a slot for them: `[id, STREAM_PULL, [credit]]`. */
export const STREAM_PULL = -20;
/** Ends stream `id` early (its consumer broke off): `[id, STREAM_CANCEL, []]`, answered once the generator's `return()` settled. */
export const STREAM_CANCEL = -21;

/** A runner's answer to a slot: the values made since the last answer, and whether the stream ended after them. */
export type StreamBatch = [values: unknown[], done: boolean];

/** What an open stream needs of its runner's context. */
export interface StreamContext extends Replier {
  /** Stores `id` (0: none) as the task this thread is running now, for main's stall and crash accounting. */
  markTask(id: number): void;
  /**
   * Counts the stream as parked (+1: awaiting, holding no CPU) or no longer (-1), as an async task
   * is (ring-set.ts `parkedIndex`): only while main still counts it in flight, before its opening
   * call is answered, so a stream whose first value is slow to come does not hold its thread's slot.
   */
  parkTask(delta: 1 | -1): void;
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

/** How long a stopping runner waits for its open generators' `return()` (their finally blocks), ms. */
const CLOSE_GRACE_MS = 1_000;

/** The iterator a task function's result streams from; NotIterableError if it is not iterable. */
function iteratorOf(result: unknown, what: string): AnyIterator {
  if (typeof result === 'object' && result !== null) {
    const source = result as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    const asyncIterator = source[Symbol.asyncIterator];
    if (typeof asyncIterator === 'function') return asyncIterator.call(source);
    const iterator = source[Symbol.iterator];
    if (typeof iterator === 'function') return iterator.call(source);
  }
  throw new NotIterableError(`stream() needs a task function that returns an iterable (a generator: function* or async function*); ${what} returned ${describeValue(result)}`);
}

/** One stream being produced on this thread. */
class OpenStream {
  /** Values main may still be sent beyond those made: spent one per `next()` call. */
  private credit: number;
  /** Values made and not yet sent. */
  private made: unknown[] = [];
  /** Main's open calls, oldest first: each is answered once, with a batch (or the error). */
  private readonly slots: Array<ReplyTo<unknown>> = [];
  /** A `next()` of an async iterator is under way (no other is started meanwhile). */
  private producing = false;
  /** The iterator finished (`done`), threw, or was cancelled: no more `next()`. */
  private finished = false;
  /** Set when it threw: sent once the values before it are. */
  private failure: { error: unknown } | undefined;
  /** Main has been told the end (or the error): the stream is forgotten. */
  private told = false;
  /** A batch is due at the next turn (see `answer`). */
  private flushTimer: NodeJS.Immediate | undefined;
  /** The opening call (main counts the stream in flight until it is answered) is not answered yet. */
  private opening = true;
  /** Counted parked on the thread: an async step is under way and the opening call unanswered (see `StreamContext.parkTask`). */
  private parked = false;

  constructor(
    private readonly ctx: StreamContext,
    private readonly table: StreamTable,
    readonly id: number,
    private readonly iterator: AnyIterator,
    credit: number,
    slot: ReplyTo<unknown>,
  ) {
    this.credit = credit;
    this.slots.push(slot);
  }

  /** A PULL: more credit, and one more slot to answer. */
  pull(credit: number, slot: ReplyTo<unknown>): void {
    this.credit += credit;
    this.slots.push(slot);
    this.drive();
  }

  /**
   * Makes values while there is credit, then answers what it can. Invariant: values made never
   * exceed the credit granted (one unit is spent before each `next()`), at most one `next()` is
   * under way, and none once `finished`.
   */
  drive(): void {
    while (!this.finished && !this.producing && this.credit > 0) {
      this.credit--;
      let step: unknown;
      this.ctx.markTask(this.id);
      try {
        step = this.iterator.next();
      } catch (error) {
        this.fail(error);
        break;
      } finally {
        this.ctx.markTask(0);
      }
      if (isThenable(step)) {
        this.producing = true;
        if (this.opening) this.park(true);
        // A then that throws, or calls back twice: the first word counts.
        let once = false;
        const settle = (ok: boolean, value: unknown) => {
          if (once) return;
          once = true;
          this.producing = false;
          this.park(false);
          if (ok) this.take(value);
          else this.fail(value);
          this.drive();
        };
        try {
          step.then((value) => settle(true, value), (error: unknown) => settle(false, error));
        } catch (error) {
          settle(false, error);
        }
        break;
      }
      this.take(step);
    }
    this.answer(false);
  }

  /** One step's result: a value made, or the end. */
  private take(step: unknown): void {
    if (this.finished) return; // cancelled while the step was under way: its value goes nowhere
    if (typeof step !== 'object' || step === null) {
      this.fail(new TypeError(`an iterator's next() must give an object { value, done }, got: ${describeValue(step)}`));
      return;
    }
    const { done, value } = step as IteratorResult<unknown>;
    if (done === true) this.finished = true;
    else this.made.push(value);
  }

  private fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = { error };
  }

  /**
   * Answers the oldest slots that are due: at the end (the values, then the end or the error), or
   * with the values in hand once no more can come without more credit, or (`soon`: the turn after a
   * value came while an async step is under way) with whatever came by then.
   */
  private answer(soon: boolean): void {
    while (this.slots.length !== 0 && !this.told) {
      if (this.finished) {
        if (this.failure === undefined) this.send(this.made.splice(0), true);
        else if (this.made.length !== 0) this.send(this.made.splice(0), false);
        else this.sendError(this.failure.error);
        continue;
      }
      if (this.made.length === 0) return;
      if (soon || (!this.producing && this.credit === 0)) {
        this.send(this.made.splice(0), false);
        continue;
      }
      this.flushTimer ??= setImmediate(() => {
        this.flushTimer = undefined;
        this.answer(true);
      });
      return;
    }
    if (this.told) this.table.forget(this);
  }

  /** Counts the stream parked on its thread, or no longer (see `StreamContext.parkTask`). */
  private park(on: boolean): void {
    if (on === this.parked) return;
    this.parked = on;
    this.ctx.parkTask(on ? 1 : -1);
  }

  /** The opening call is being answered: main no longer counts the stream in flight, so it is not counted parked either. */
  private opened(): void {
    this.opening = false;
    this.park(false);
  }

  /** Answers the oldest slot with a batch; a value that cannot travel ends the stream with a stand-in error. */
  private send(values: unknown[], done: boolean): void {
    this.opened();
    const slot = this.slots.shift()!;
    try {
      this.ctx.reply(slot, [values, done] satisfies StreamBatch);
    } catch (failure) {
      // The error first: the slots after it are answered (ended) by `cancelled`, and main reads them in order.
      replySafely(this.ctx, slot, false, standInError(values, failure));
      void this.cancelled();
      return;
    }
    if (done) this.ended();
  }

  private sendError(error: unknown): void {
    this.opened();
    replySafely(this.ctx, this.slots.shift()!, false, error);
    this.ended();
  }

  /** Main knows the stream is over: slots still open get an empty last batch. */
  private ended(): void {
    this.opened();
    this.told = true;
    clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    for (const slot of this.slots.splice(0)) replySafely(this.ctx, slot, true, [[], true] satisfies StreamBatch);
    this.table.forget(this);
  }

  /**
   * Its maker is gone (an actor that exited): the slots still open are handed back, for the caller
   * to answer with why, and the iterator is ended as `cancelled` ends it.
   */
  abandon(): Array<ReplyTo<unknown>> {
    this.opened();
    const slots = this.slots.splice(0);
    void this.cancelled();
    return slots;
  }

  /** Stops making values: the iterator is ended (`return()`: its finally blocks run); resolves once that settled. */
  cancelled(): Promise<void> {
    const wasFinished = this.finished;
    this.finished = true;
    this.made.length = 0;
    if (!this.told) this.ended();
    if (wasFinished) return Promise.resolve();
    try {
      const ended = this.iterator.return?.();
      return isThenable(ended) ? Promise.resolve(ended).then(noop, noop) : Promise.resolve();
    } catch {
      return Promise.resolve(); // its finally threw: the consumer broke off, there is no one to tell
    }
  }
}


function noop(): void {}

/** A runner's open streams, by task id. */
export class StreamTable {
  private readonly open = new Map<number, OpenStream>();

  /**
   * Starts stream `id`: calls `fn(...args)` (awaiting a promise it returns), takes its iterator and
   * makes up to `credit` values for `slot`. A throw, or a result that is not iterable, answers `slot`
   * with the error.
   */
  start(ctx: StreamContext, id: number, fn: (...args: unknown[]) => unknown, args: unknown[], credit: number, slot: ReplyTo<unknown>, what: string): void {
    const refuse = (error: unknown) => replySafely(ctx, slot, false, error);
    const begin = (result: unknown) => {
      let iterator: AnyIterator;
      try {
        iterator = iteratorOf(result, what);
      } catch (error) {
        refuse(error);
        return;
      }
      const stream = new OpenStream(ctx, this, id, iterator, credit, slot);
      this.open.set(id, stream);
      stream.drive();
    };
    let result: unknown;
    ctx.markTask(id);
    try {
      result = fn(...args);
      if (isThenable(result)) {
        // Awaiting what the function resolves to holds no CPU: parked, as an async task is.
        ctx.parkTask(1);
        Promise.resolve(result).then(
          (resolved) => {
            ctx.parkTask(-1);
            begin(resolved);
          },
          (error: unknown) => {
            ctx.parkTask(-1);
            refuse(error);
          },
        );
        return;
      }
    } catch (error) {
      refuse(error);
      return;
    } finally {
      ctx.markTask(0);
    }
    begin(result);
  }

  /** A PULL for stream `id`; one the runner no longer knows (ended, cancelled) gets an empty last batch. */
  pull(ctx: StreamContext, id: number, credit: number, slot: ReplyTo<unknown>): void {
    const stream = this.open.get(id);
    if (stream !== undefined) stream.pull(credit, slot);
    else replySafely(ctx, slot, true, [[], true] satisfies StreamBatch);
  }

  /** A CANCEL for stream `id`: answered (`true`) once its `return()` settled, at once if it is not open. */
  cancel(ctx: StreamContext, id: number, slot: ReplyTo<unknown>): void {
    const stream = this.open.get(id);
    const answered = () => replySafely(ctx, slot, true, true);
    if (stream === undefined) answered();
    else void stream.cancelled().then(answered);
  }

  /** True if stream `id` is open here. */
  has(id: number): boolean {
    return this.open.has(id);
  }

  /** Every stream's maker is gone: each is ended, and the slots still open are returned, to be answered with why. */
  abandonAll(): Array<ReplyTo<unknown>> {
    const slots: Array<ReplyTo<unknown>> = [];
    for (const stream of [...this.open.values()]) slots.push(...stream.abandon());
    this.open.clear();
    return slots;
  }

  forget(stream: OpenStream): void {
    if (this.open.get(stream.id) === stream) this.open.delete(stream.id);
  }

  /** The runner stops: every open generator is ended (its finally blocks run), waited for at most CLOSE_GRACE_MS. */
  async closeAll(): Promise<void> {
    const ending = [...this.open.values()].map((stream) => stream.cancelled());
    if (ending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ending), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
  }
}
