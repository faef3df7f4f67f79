/**
 * The tiny task of the `tiny-tasks`, `round-trip`, `transaction`, `crash-recovery` and
 * `remote-call` suites, as an actor: add two numbers, with the same `add` the peer pools run (so
 * `WEFT_PEER_FAULT=wrong` makes weft's answers wrong too: see `../workers/peer-task.ts`).
 */
import { defineActor } from '../../src/common/actor.js';
import { add } from '../workers/peer-task.js';

export default defineActor({
  init: () => null,
  handleCall: (msg: { a: number; b: number }, state) => ({ reply: add(msg.a, msg.b), state }),
});
