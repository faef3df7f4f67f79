/**
 * The receiving end of `backpressure` (and of test/backpressure.test.ts): each cast `{ seq, pad? }` costs `micros` µs of CPU (a busy wait, as
 * a parser or a driver would), is checked for order and counted. `own` measures the actor's own
 * rate: the same handler run `n` times in a loop, no messaging at all.
 */
import { defineActor } from '../../src/common/actor.js';

type State = { micros: number; got: number; outOfOrder: number };

function busy(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}

export default defineActor({
  init: (micros: number): State => ({ micros, got: 0, outOfOrder: 0 }),
  handleCall: (msg: { type: 'count' } | { type: 'own'; n: number }, state) => {
    if (msg.type === 'count') return { reply: { got: state.got, outOfOrder: state.outOfOrder, perSec: 0 }, state };
    const started = performance.now();
    for (let i = 0; i < msg.n; i++) busy(state.micros);
    return { reply: { got: state.got, outOfOrder: state.outOfOrder, perSec: (msg.n / (performance.now() - started)) * 1000 }, state };
  },
  handleCast: (msg: { seq: number; pad?: string }, state) => {
    busy(state.micros);
    if (msg.seq !== state.got) state.outOfOrder++;
    state.got++;
    return state;
  },
});
