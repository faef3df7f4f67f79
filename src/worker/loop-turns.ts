/**
 * When a shard's receive loop lets its event loop run (timers, I/O, and settled promises inside
 * actors), after a drain that handled something. The bench's ring-peer worker uses it too, so that
 * `ring-round-trip` and `ring-stream` time a shard's scheduler.
 *
 * - After several messages (a stream, a burst): a turn of the event loop. It lets the next batch
 *   gather; looking again at once would drain a few frames at a time from a ring whose producer is
 *   still writing it (an eager raw stream measured half as fast, `ring-stream`).
 * - After a single message (request-reply traffic: the next request follows the reply): only a
 *   microtask turn, then look again, since an event-loop turn (~1.3 µs here) would sit on every
 *   round trip (`round-trip` median 4.1 µs with it, 1.4-2.9 without) — but a full turn at least
 *   every YIELD_EVERY_MS, so timers and I/O still run under steady traffic.
 *
 * An idle loop parks (`Endpoint.wait`), which frees the event loop as well.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Under steady single-message traffic the event loop still runs at least this often (ms). */
export const YIELD_EVERY_MS = 1;

const RESOLVED: Promise<void> = Promise.resolve();

export class LoopTurns {
  private lastYield = performance.now();

  /** Awaited after a drain that handled `handled` messages (at least one): see the module comment. */
  after(handled: number): Promise<unknown> {
    const now = performance.now();
    if (handled > 1 || now - this.lastYield >= YIELD_EVERY_MS) {
      this.lastYield = now;
      return yieldToEventLoop();
    }
    return RESOLVED;
  }
}
