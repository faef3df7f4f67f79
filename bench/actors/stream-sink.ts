/**
 * The receiving end of `actor-stream`: counts casts `{ id }`, checks they arrive in order, and
 * answers the `expect` call (left open with noreply) once it has them all.
 */
import { defineActor, type ReplyTo } from '../../src/common/actor.js';

type State = { expected: number; count: number; outOfOrder: number; waiter: ReplyTo<unknown> | null };

export default defineActor({
  init: (): State => ({ expected: 0, count: 0, outOfOrder: 0, waiter: null }),
  // Answered later, by handleCast, with ctx.reply: the reply type is named here for callers.
  handleCall: (msg: { type: 'expect'; n: number }, _state, ctx) =>
    ctx.noreply<State, { count: number; outOfOrder: number }>({ expected: msg.n, count: 0, outOfOrder: 0, waiter: ctx.from }),
  handleCast: (msg: { id: number; op: string; args: number[] }, state, ctx) => {
    if (msg.id !== state.count) state.outOfOrder++;
    if (++state.count === state.expected && state.waiter !== null) {
      ctx.reply(state.waiter, { count: state.count, outOfOrder: state.outOfOrder });
      state.waiter = null;
    }
    return state;
  },
});
