/**
 * The sending end of `actor-stream`: on `stream`, casts `n` small messages to the sink, CHUNK at a
 * time, casting itself `continue` between chunks so its shard's loop turns (publishes, drains
 * replies, yields) instead of one callback sending everything.
 */
import type { Pid } from '../../src/shm/pid.js';
import { defineActor } from '../../src/common/actor.js';
import type Sink from './stream-sink.js';

const CHUNK = 1024;

type Msg = { type: 'stream'; sink: Pid; n: number } | { type: 'continue' };
type State = { sink: Pid | null; next: number; n: number };

export default defineActor({
  init: (): State => ({ sink: null, next: 0, n: 0 }),
  handleCast: (msg: Msg, state, ctx) => {
    if (msg.type === 'stream') state = { sink: msg.sink, next: 0, n: msg.n };
    if (state.sink === null) return state;
    const sink = ctx.ref<typeof Sink>(state.sink);
    const stop = Math.min(state.n, state.next + CHUNK);
    for (let id = state.next; id < stop; id++) ctx.cast(sink, { id, op: 'add', args: [1, 2] });
    state.next = stop;
    if (stop < state.n) ctx.cast(ctx.ref<typeof Source>(ctx.self), { type: 'continue' });
    return state;
  },
});

// The module's own type, for the self-cast above.
declare const Source: import('../../src/common/actor.js').Actor<unknown, State, never, never, Msg, unknown>;
