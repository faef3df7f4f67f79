/**
 * Main's actor streams (`ref.stream(msg)` on a ref made by the system): kept while open, so that
 * `system.stop()` ends each with `SystemStoppedError` before it stops the actors (whose exits would
 * otherwise end them with an `ExitError` for `'shutdown'`).
 */
import type { Pid } from '../shm/pid.js';
import type { ThreadRuntime } from '../common/runtime.js';
import { openActorStream, type ActorStreamOptions } from '../common/actor-stream-consumer.js';
import type { TaskStream } from '../common/stream.js';

export class MainActorStreams {
  private readonly open = new Set<TaskStream<unknown>>();

  constructor(private readonly runtime: ThreadRuntime) {}

  /** A stream of what `pid`'s `handleStream(msg)` yields (see src/common/actor-stream-consumer.ts). */
  stream(pid: Pid, msg: unknown, options: ActorStreamOptions | undefined): TaskStream<unknown> {
    const stream = openActorStream<unknown>((to, envelope) => this.runtime.streamCall(to, envelope), pid, msg, options, (over) => this.open.delete(over));
    this.open.add(stream);
    return stream;
  }

  /** The system stops: every open stream fails with `error` (its waiting `next()` rejects). */
  failAll(error: () => Error): void {
    for (const stream of [...this.open]) stream.fail(error());
    this.open.clear();
  }
}
