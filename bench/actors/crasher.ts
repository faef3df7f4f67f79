/** The `crash-recovery` suite's way to kill a shard: on any cast, end the thread it runs on. */
import { defineActor } from '../../src/common/actor.js';

export default defineActor({
  init: () => null,
  handleCast: () => process.exit(1),
});
