/**
 * The actor's side of `ref.stream(msg)`: an actor's `handleStream` answers with a generator whose
 * values stream back under credit. The machinery is the task streams' (src/common/task-stream.ts:
 * `StreamTable`, `OpenStream`, the same batches and credit); what differs is who is asked and
 * when the generator may run.
 *
 * Who: the consumer's calls are STREAM frames (`[op, id, credit, msg]`, src/shm/protocol.ts) to the
 * actor itself, answered as calls are. A stream is known here by `threadKey(consumer's thread, id)`.
 *
 * When: an actor handles one message at a time, and its generator is its code too, so each step
 * of the generator (one `next()`) is handled as a message is (`ActorCell.runTurn`): at once when
 * the actor is idle or is handling the STREAM call that asks for it; otherwise behind what waits
 * in the mailbox. A step that awaits holds the actor busy until it settles, as an async handler
 * does. So a generator never runs while a handler does, and calls are answered between its steps.
 *
 * ```
 *   consumer                                actor (a cell and its ActorStreams)
 *   STREAM [OPEN, id, H, msg] ────────────▶ handleStream(msg, state, ctx): a generator; steps while credit
 *                    ◀──────────────────── [values, done?]
 *   STREAM [PULL, id, H/4] ───────────────▶ more steps, each a turn of the actor
 *   STREAM [CANCEL, id] ──────────────────▶ return(): the generator's finally blocks run
 * ```
 *
 * A throw in `handleStream` or in a step crashes the actor (as a throw in `handleCall` does): the
 * cell's exit takes the slots its streams hold (`abandonAll`) and answers them with its ExitError,
 * and nothing else answers them after.
 */
import { threadKey, type Pid } from '../shm/pid.js';
import { StreamOp, type StreamEnvelope } from '../shm/protocol.js';
import type { ReplyTo } from './actor.js';
import { StreamTable, type StreamContext } from './task-stream.js';
import { isThenable } from './thenable.js';

/** What an actor's streams need of its cell. */
export interface StreamCell {
  readonly self: Pid;
  readonly alive: boolean;
  /** Runs `step` as the actor handles a message: now, or in its turn; returns what `step` returns, or a promise of it. */
  runTurn(step: () => unknown): unknown;
}

/** How answers leave the actor's thread (the runtime's `reply` / `replyError`). */
export interface StreamReplies {
  reply(thread: number, ref: number, value: unknown): void;
  replyError(thread: number, ref: number, error: unknown): void;
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** An actor's open streams. Made with the actor's first STREAM call. */
export class ActorStreams {
  private readonly table = new StreamTable();
  /** Each open stream's consumer thread, by key (its thread going down ends the stream). */
  private readonly consumers = new Map<number, number>();
  /** Opening calls whose generator is not made yet (an async `handleStream`), by key. */
  private readonly opening = new Map<number, ReplyTo<unknown>>();
  /** Slots the actor's exit answered (`abandonAll`): nothing here answers them again. */
  private readonly silenced = new Set<number>();
  private readonly ctx: StreamContext;

  constructor(
    private readonly cell: StreamCell,
    replies: StreamReplies,
  ) {
    const silenced = this.silenced;
    this.ctx = {
      reply: (to, value) => {
        if (silenced.size === 0 || !silenced.has(threadKey(to.thread, to.ref))) replies.reply(to.thread, to.ref, value);
      },
      replyError: (to, error) => {
        if (silenced.size === 0 || !silenced.has(threadKey(to.thread, to.ref))) replies.replyError(to.thread, to.ref, error);
      },
      // An actor's stream is not a task: main's task accounting must not see it.
      markTask: noop,
      parkTask: noop,
    };
  }

  /**
   * A STREAM call from thread `from` under `ref`. `open(msg)` calls the actor's `handleStream`
   * (throwing if it has none); it runs as a turn of the actor, as every step after it does.
   */
  handle(from: number, ref: number, envelope: StreamEnvelope, open: (msg: unknown) => unknown): void {
    const [op, id, credit, msg] = envelope;
    const key = threadKey(from, id);
    const slot: ReplyTo<unknown> = { thread: from, ref };
    switch (op) {
      case StreamOp.OPEN: {
        if (this.table.has(key) || this.opening.has(key)) return; // a consumer opens each id once
        this.consumers.set(key, from);
        this.opening.set(key, slot);
        const make = (): unknown => {
          const made = this.cell.runTurn(() => open(msg));
          return isThenable(made) ? Promise.resolve(made).then((source) => this.gated(key, source)) : this.gated(key, made);
        };
        this.table.start(this.ctx, key, make, [], credit, slot, `handleStream of actor ${this.cell.self}`);
        if (!this.table.has(key)) this.consumers.delete(key);
        return;
      }
      case StreamOp.PULL:
        this.table.pull(this.ctx, key, credit, slot);
        return;
      case StreamOp.CANCEL:
        this.consumers.delete(key);
        this.table.cancel(this.ctx, key, slot);
        return;
    }
  }

  /**
   * `source` (what `handleStream` returned), as an iterable whose steps are turns of the actor.
   * Not iterable: returned as it is, for the table to refuse (NotIterableError to the consumer).
   */
  private gated(key: number, source: unknown): unknown {
    this.opening.delete(key);
    if (typeof source !== 'object' || source === null) return source;
    const iterable = source as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    const make = (iterable[Symbol.asyncIterator] ?? iterable[Symbol.iterator]) as ((this: unknown) => AnyIterator) | undefined;
    if (typeof make !== 'function') return source;
    const inner = make.call(source);
    const cell = this.cell;
    const gate: Iterator<unknown> = {
      next: () => cell.runTurn(() => inner.next()) as IteratorResult<unknown>,
      // Once the actor is gone its generator is ended at once (its finally blocks run): no turn is left to wait for.
      return: () => (cell.alive ? cell.runTurn(() => inner.return?.() ?? DONE) : (inner.return?.() ?? DONE)) as IteratorResult<unknown>,
    };
    return { [Symbol.iterator]: () => gate };
  }

  /** The consumers on thread `thread` are gone: their streams end (their generators' finally blocks run). */
  forgetThread(thread: number): void {
    for (const [key, consumer] of [...this.consumers]) {
      if (consumer !== thread) continue;
      this.consumers.delete(key);
      this.table.cancel(this.ctx, key, NO_ONE);
    }
  }

  /**
   * The actor exited: every stream ends (generators' `return()`), and the slots still open (the
   * consumers' calls waiting, opening calls included) are returned for the cell to answer with its
   * exit; nothing here answers them after.
   */
  abandonAll(): Array<ReplyTo<unknown>> {
    const slots = [...this.table.abandonAll(), ...this.opening.values()];
    this.opening.clear();
    this.consumers.clear();
    for (const slot of slots) this.silenced.add(threadKey(slot.thread, slot.ref));
    return slots;
  }
}

/** The slot of a CANCEL nobody sent (a consumer's thread went down): its answer goes nowhere. */
const NO_ONE: ReplyTo<unknown> = { thread: -1, ref: -1 };

function noop(): void {}
