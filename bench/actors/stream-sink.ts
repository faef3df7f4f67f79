/**
 * The receiving end of `actor-stream` and `remote-cast`: counts casts `{ id }` and checks they
 * arrive in order.
 *
 *   call { type: 'expect', n }   starts a count of n; answered at once, so the sender knows the
 *                                count is set before its first cast leaves
 *   call { type: 'wait' }        answered { count, outOfOrder } once n have come (left open with
 *                                noreply until then, or answered at once if they already have)
 *
 * Two calls rather than one left open: weft orders messages per sender, not across senders, so a
 * stream started by another actor could overtake a single `expect` sent just before it.
 */
import { defineActor, type ReplyTo } from '../../src/common/actor.js';

type State = { expected: number; count: number; outOfOrder: number; waiter: ReplyTo<unknown> | null };
type Call = { type: 'expect'; n: number } | { type: 'wait' };
type Done = { count: number; outOfOrder: number };

export default defineActor({
  init: (): State => ({ expected: 0, count: 0, outOfOrder: 0, waiter: null }),
  handleCall: (msg: Call, state, ctx) => {
    if (msg.type === 'expect') {
      const reply: Done = { count: 0, outOfOrder: 0 };
      return { reply, state: { expected: msg.n, count: 0, outOfOrder: 0, waiter: null } };
    }
    if (state.count >= state.expected) {
      const reply: Done = { count: state.count, outOfOrder: state.outOfOrder };
      return { reply, state };
    }
    return ctx.noreply<State, Done>({ ...state, waiter: ctx.from });
  },
  handleCast: (msg: { id: number; op: string; args: number[] }, state, ctx) => {
    if (msg.id !== state.count) state.outOfOrder++;
    if (++state.count === state.expected && state.waiter !== null) {
      ctx.reply(state.waiter, { count: state.count, outOfOrder: state.outOfOrder });
      state.waiter = null;
    }
    return state;
  },
});
