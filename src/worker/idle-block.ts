/**
 * When an idle shard may block its thread in `Atomics.wait` (src/shm/endpoint.ts `IdleBlock`): only
 * when a ring frame is the one thing that can bring it work. A blocked thread runs nothing else, so
 * anything its event loop is waiting for rules the block out:
 *
 * - a reply awaited by one of its actors (the call's timeout is a timer the block would hold up);
 * - an async task started and not settled (it may await anything, seen or not);
 * - any active resource the loop holds besides MessagePorts: a ref'd timer, an immediate, a socket,
 *   a file request. MessagePorts are let through because every shard holds one to main (main rings
 *   the bell as it posts on it: src/main/root-supervisor.ts `post`), and a user's own port waits
 *   at most the block's bound.
 */
import type { IdleBlock } from '../shm/endpoint.js';
import type { ThreadRuntime } from '../common/runtime.js';

/** `millis` 0 turns blocking off (piscina's `atomics: 'async'` or `'disabled'`). */
export function idleBlock(millis: number, runtime: ThreadRuntime): IdleBlock | undefined {
  if (millis <= 0) return undefined;
  return { millis, quiet: () => runtime.awaiting === 0 && runtime.asyncTasks === 0 && onlyPortsActive() };
}

/** True when the event loop holds no active resource but MessagePorts (~0.6 µs: asked once per park). */
export function onlyPortsActive(): boolean {
  for (const resource of process.getActiveResourcesInfo()) if (resource !== 'MessagePort') return false;
  return true;
}
