/**
 * The sending end of `actor-stream`: on `stream`, casts `n` small messages to the sink, CHUNK at a
 * time, framed one of two ways:
 *
 * - corked (`eager: false`): from its handler, casting itself `continue` between chunks so its
 *   shard's loop turns (publishes, drains replies, yields) instead of one callback sending
 *   everything. The shard corks around handlers, so a chunk's casts go out in a few publishes.
 * - eager (`eager: true`): from `setImmediate` callbacks, outside any handler, where nothing corks
 *   the rings: every cast is its own publish, as every postMessage is its own message.
 */
import type { Pid } from '../../src/shm/pid.js';
import { defineActor, type ActorContext } from '../../src/common/actor.js';
import type Sink from './stream-sink.js';

const CHUNK = 1024;

type Msg = { type: 'stream'; sink: Pid; n: number; eager?: boolean } | { type: 'continue' };
type State = { sink: Pid | null; next: number; n: number };

function sendChunk(state: State, ctx: ActorContext): void {
  const sink = ctx.ref<typeof Sink>(state.sink!);
  const stop = Math.min(state.n, state.next + CHUNK);
  for (let id = state.next; id < stop; id++) ctx.cast(sink, { id, op: 'add', args: [1, 2] });
  state.next = stop;
}

export default defineActor({
  init: (): State => ({ sink: null, next: 0, n: 0 }),
  handleCast: (msg: Msg, state, ctx) => {
    if (msg.type === 'stream') {
      state = { sink: msg.sink, next: 0, n: msg.n };
      if (msg.eager === true) {
        const eager = state; // this stream's own state: a later `stream` starts a fresh one
        const pump = (): void => {
          sendChunk(eager, ctx);
          if (eager.next < eager.n) setImmediate(pump);
        };
        setImmediate(pump);
        return state;
      }
    }
    if (state.sink === null) return state;
    sendChunk(state, ctx);
    if (state.next < state.n) ctx.cast(ctx.ref<typeof Source>(ctx.self), { type: 'continue' });
    return state;
  },
});

// The module's own type, for the self-cast above.
declare const Source: import('../../src/common/actor.js').Actor<unknown, State, never, never, Msg, unknown>;
