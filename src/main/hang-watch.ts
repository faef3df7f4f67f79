/**
 * Is a shard hung? Main's watchdog asks this of every shard a few times a second.
 *
 * A shard's scheduler bumps its heartbeat word every turn. A shard that is not parked, is not
 * running a task, and has not beaten for `hangTimeout` *may* be hung, or may only be waiting for a
 * core: with more threads than cores, or a CPU hog beside the process, a healthy thread can sit
 * runnable for seconds without being scheduled. Wall-clock silence cannot tell the two apart; the
 * thread's own CPU time can. On Linux each shard stores its OS thread id (src/worker/vitals.ts) and
 * main reads `/proc/self/task/<tid>/stat`:
 *
 * | the thread since its last beat                     | hung                                  |
 * |----------------------------------------------------|---------------------------------------|
 * | used `hangTimeout` ms of CPU                       | yes: a loop that never yields         |
 * | used less, silent for `hangTimeout` × BLOCKED_FACTOR | yes: stuck in a blocking call       |
 * | used less, silent for less                         | no: it waits for a core (or for a GC  |
 * |                                                    | helper thread that waits for one)     |
 * | CPU time unknown (no /proc), silent `hangTimeout`  | yes, as a wall clock can only say     |
 *
 * The thread's state letter in /proc does not help: a starved thread often shows as sleeping,
 * blocked on a futex for a V8 helper thread that is itself waiting for a core.
 *
 * A shard is watched only from its first beat on: before that it is still loading weft, which
 * runs no user code and cannot hang, and on a loaded machine may take longer than `hangTimeout`.
 */
import { readFileSync } from 'node:fs';

/**
 * A thread silent for this many `hangTimeout`s without using the CPU to beat is blocked (in
 * `Atomics.wait`, a synchronous read of a pipe nobody writes) and is ended too.
 */
const BLOCKED_FACTOR = 10;

/** Clock ticks per second of /proc's utime and stime: USER_HZ, 100 on every Linux Node runs on. */
const TICKS_PER_SECOND = 100;

/** What the watcher reads of a shard at each check. */
export interface ShardPulse {
  /** Its heartbeat word (0: it has not beaten since it started). */
  beat: number;
  /** Parked on its doorbell, or running a task (a task may run as long as it needs): not hung. */
  resting: boolean;
  /** Its OS thread id, or 0 if unknown. */
  osThread: number;
}

/** One thread's record: its last beat, and the wall and CPU clocks when it was seen. */
interface Watch {
  beat: number;
  at: number;
  cpuMs: number;
}

export class HangWatch {
  private readonly watches = new Map<number, Watch>();

  constructor(private readonly hangTimeout: number) {}

  /** Forgets `thread` (it went down, or a new incarnation starts): watched again from its first beat. */
  forget(thread: number): void {
    this.watches.delete(thread);
  }

  /** True if `thread` is hung by the table above; `now` is `performance.now()`. */
  isHung(thread: number, pulse: ShardPulse, now: number): boolean {
    if (pulse.beat === 0) return false; // still starting
    const watch = this.watches.get(thread);
    if (watch === undefined || watch.beat !== pulse.beat || pulse.resting) {
      this.watches.set(thread, { beat: pulse.beat, at: now, cpuMs: cpuMsOf(pulse.osThread) ?? 0 });
      return false;
    }
    const silentMs = now - watch.at;
    if (silentMs <= this.hangTimeout) return false;
    const cpuMs = cpuMsOf(pulse.osThread);
    if (cpuMs === undefined) return true;
    // Spinning: it had the CPU to beat and did not. Else it waits: for a core, for a GC helper
    // thread that waits for a core, or in a blocking call; only the last is a hang, and only a
    // long silence tells it from the others.
    return cpuMs - watch.cpuMs >= this.hangTimeout || silentMs >= this.hangTimeout * BLOCKED_FACTOR;
  }
}

/** The CPU time (user + system, ms) of OS thread `tid` of this process, if readable. */
function cpuMsOf(tid: number): number | undefined {
  if (tid === 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so fields count from the last ')';
  // utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}
