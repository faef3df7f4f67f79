/** The tiny task of the `tiny-tasks` and `round-trip` suites, as an actor: add two numbers. */
import { defineActor } from '../../src/common/actor.js';

export default defineActor({
  init: () => null,
  handleCall: (msg: { a: number; b: number }, state) => ({ reply: msg.a + msg.b, state }),
});
