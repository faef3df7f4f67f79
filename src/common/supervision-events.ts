/**
 * What a supervisor tells main when it restarts a child, for `system.on('restart', …)`: supervisors
 * run on any thread, and main is where the application listens.
 */
import type { Pid } from '../shm/pid.js';
import type { ExitReason } from './actor.js';

export interface SupervisionEvent {
  type: 'restart';
  /** The supervisor that restarted the child; null for main's root, restarting a top-level supervisor whose thread went down. */
  supervisor: Pid | null;
  /** The child's id in the supervisor's spec. */
  id: string;
  /** The instance that exited, and the one started in its place. */
  old: Pid;
  pid: Pid;
  /** Why the old instance exited (for a child restarted because a sibling failed: `'shutdown'`). */
  reason: ExitReason;
}
