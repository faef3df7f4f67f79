// An actor that keeps values by key. weft imports it inside a worker thread of the node that spawns it.
import { defineActor } from 'weft/actor';

export default defineActor({
  init: () => new Map(),
  handleCall: (msg, state) => {
    if (msg.type === 'get') return { reply: state.get(msg.key) ?? null, state };
    state.set(msg.key, msg.value);
    return { reply: 'ok', state };
  },
});
