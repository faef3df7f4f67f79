/** The child of `stop-latency`: its `terminate` never settles, so only a kill ends it. */
import { defineActor } from '../../src/common/actor.js';

export default defineActor({
  init: () => null,
  handleCall: (msg: { type: 'ping' }, state) => ({ reply: 'pong', state }),
  terminate: () => new Promise<void>(() => {}),
});
