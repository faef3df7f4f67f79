/**
 * The consumer's side of an actor stream: what `ref.stream(msg)` hands out, on any thread. It is a
 * `TaskStream` (src/common/stream.ts: the same iterator, credit and batches as `pool.stream`), whose
 * channel sends STREAM calls to the actor (src/common/actor-stream.ts has the actor's side).
 *
 * ```ts
 * for await (const line of logs.stream({ type: 'tail', from: 0 }, { highWaterMark: 64 })) {
 *   if (line.includes('ERROR')) break;   // the actor's generator returns: its finally blocks run there
 * }
 * ```
 */
import { AbortError } from '../shm/errors.js';
import type { Pid } from '../shm/pid.js';
import { StreamOp, type StreamEnvelope } from '../shm/protocol.js';
import { TaskStream, abortableConnect, highWaterMarkOf, type StreamChannel, type StreamOptions } from './stream.js';
import { fromAbortSignal } from './abortable.js';
import type { StreamBatch } from './task-stream.js';
import { checkSignal } from './call-abort.js';

/** Options of `ref.stream(msg, options)`. */
export interface ActorStreamOptions extends StreamOptions {
  /**
   * Ends the stream: the waiting (or next) `next()` rejects with `AbortError` (`cause`: the
   * signal's reason), and the actor's generator is ended with `return()` (its finally blocks run).
   * @example ref.stream({ type: 'tail' }, { signal: AbortSignal.timeout(10_000) })
   */
  signal?: AbortSignal;
}

/** Sends one STREAM call to actor `pid` and resolves with its answer (the thread's runtime: `ThreadRuntime.streamCall`). */
export type StreamCall = (pid: Pid, envelope: StreamEnvelope) => Promise<unknown>;

/** Stream ids of this thread; with the thread they name a stream at its actor. Below 2^30, as refs are. */
let lastId = 0;
const MAX_ID = 0x3fff_ffff;

/**
 * A stream of the values `pid`'s `handleStream(msg)` yields. Checks `highWaterMark` and `signal`
 * now (InvalidArgumentError); opens with the first `next()`. `closed` is told once the stream is
 * over (ended, failed, returned), so a system can forget it.
 */
export function openActorStream<T>(call: StreamCall, pid: Pid, msg: unknown, options?: ActorStreamOptions, closed?: (stream: TaskStream<unknown>) => void): TaskStream<T> {
  const highWaterMark = highWaterMarkOf(options);
  const given = checkSignal(options?.signal);
  const signal = given === undefined ? undefined : fromAbortSignal(given);
  const id = (lastId = lastId >= MAX_ID ? 1 : lastId + 1);
  const aborted = () => new AbortError(`the stream from actor ${pid} was aborted`, { cause: signal?.reason });
  const connect = (stream: TaskStream<unknown>): StreamChannel => {
    let over = false;
    return {
      open: (credit) => call(pid, [StreamOp.OPEN, id, credit, msg]) as Promise<StreamBatch>,
      pull: (credit) => call(pid, [StreamOp.PULL, id, credit]) as Promise<StreamBatch>,
      cancel: () => call(pid, [StreamOp.CANCEL, id, 0]),
      close: () => {
        if (over) return;
        over = true;
        closed?.(stream);
      },
    };
  };
  return new TaskStream<T>(abortableConnect(signal, aborted, connect), highWaterMark);
}

