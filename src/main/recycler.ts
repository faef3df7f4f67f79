/**
 * Recycling: a shard that has answered `maxTasksPerThread` tasks, grown past `maxHeapMB` of heap, or
 * lived `maxAgeMs` is replaced by a fresh thread, for task code that leaks (a cache that only grows,
 * a native module that fragments the heap) or that should not live forever.
 *
 * ```
 *   limit passed ──▶ draining: no new task, what it holds runs to the end
 *                ──▶ empty (no task in flight from any dispatcher): the standby is booted
 *                ──▶ ended as 'recycled'; the standby takes its index (root-supervisor.ts)
 * ```
 *
 * Nothing is lost and nothing rejects: a draining shard gets no task (the dispatchers pass it by,
 * src/main/tasks.ts), and it is ended only once every task it held has answered. One shard is
 * recycled at a time: shards that pass their limits together (an even load brings every shard
 * to `maxTasksPerThread` at once) would otherwise all stop taking tasks at the same moment, and
 * the later ones would wait for a standby to boot; the others go on working, and drain in turn. Tasks go to the
 * other shards meanwhile, and the new thread is the root supervisor's pre-booted standby, so the
 * index is without a thread only for the hand-over (a few ms: its rings are reset on every live
 * thread). A recycle is no restart: `stats().recycles` counts it by cause, not `restarts`, and it
 * counts against no `threadRestarts` intensity.
 *
 * Only task-only shards are recycled: a shard where any actor of the user's lives (an actor, a
 * supervisor, a pool's worker: anything but weft's own task runners) keeps its thread, since its
 * actors would die with it. It is looked at again later, and recycled once they are gone.
 */
import type { RecycleCause } from './root-supervisor.js';

/** The three limits; `Infinity`: that limit is off. */
export interface RecycleLimits {
  maxTasksPerThread: number;
  maxHeapMB: number;
  maxAgeMs: number;
}

/** What the recycler reads and does, lent by the system. */
export interface RecyclerHost {
  /** Shards, numbered 1..threads. */
  readonly threads: number;
  isUp(thread: number): boolean;
  /** When the shard's present incarnation started (performance.now()). */
  startedAt(thread: number): number;
  /** Its used heap, MiB (sampled by the thread a few times a second). */
  heapMB(thread: number): number;
  /** Tasks in flight on it, from every dispatcher. */
  tasksOn(thread: number): number;
  /** True if an actor of the user's lives on it (anything but task runners). */
  hostsActors(thread: number): boolean;
  /** Ends it as 'recycled' once the standby is booted (RootSupervisor.recycle). */
  recycle(thread: number, cause: RecycleCause): void;
  /** True while a booted standby waits: a shard starts to drain only then, so it never idles through a boot. */
  standbyReady(): boolean;
}

/** How long a shard found hosting actors is left be before it is looked at again (ms). */
const ACTORS_RECHECK_MS = 250;

export class Recycler {
  private readonly host: RecyclerHost;
  private readonly limits: RecycleLimits;
  /** Per shard (index 0 unused): tasks answered by its present incarnation. */
  private readonly answered: number[];
  /** Per shard: the limit it passed, while it drains and is handed over; undefined otherwise. */
  private readonly draining: Array<RecycleCause | undefined>;
  /** Per shard: it is being ended (asked of the root supervisor): nothing more to do until it is back. */
  private readonly ending: boolean[];
  /** Per shard: not looked at again before this time (it hosts actors). */
  private readonly skipUntil: number[];
  /** The shard draining or being handed over now (0: none): one at a time. */
  private current = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(host: RecyclerHost, limits: RecycleLimits) {
    this.host = host;
    this.limits = limits;
    const slots = host.threads + 1;
    this.answered = new Array<number>(slots).fill(0);
    this.draining = new Array<RecycleCause | undefined>(slots).fill(undefined);
    this.ending = new Array<boolean>(slots).fill(false);
    this.skipUntil = new Array<number>(slots).fill(0);
    if (Number.isFinite(limits.maxHeapMB) || Number.isFinite(limits.maxAgeMs)) {
      // Heap is sampled every 200 ms by the threads (vitals.ts); age needs no finer look than a
      // quarter of itself.
      const every = Math.max(10, Math.min(250, limits.maxAgeMs / 4));
      this.timer = setInterval(() => this.look(), every);
      this.timer.unref();
    }
  }

  /** True if any limit is set. */
  static wanted(limits: RecycleLimits): boolean {
    return Number.isFinite(limits.maxTasksPerThread) || Number.isFinite(limits.maxHeapMB) || Number.isFinite(limits.maxAgeMs);
  }

  /** True while shard `thread` drains or is handed over: it gets no new task. */
  recycling(thread: number): boolean {
    return this.draining[thread] !== undefined;
  }

  /** A task of shard `thread` was answered (every dispatcher calls this): counts it, and hands a drained shard over. */
  readonly taskAnswered = (thread: number): void => {
    const answered = ++this.answered[thread];
    if (this.draining[thread] !== undefined) this.handOverIfEmpty(thread);
    else if (answered >= this.limits.maxTasksPerThread) this.passed(thread, 'tasks');
  };

  /** A task left shard `thread` without an answer (a dispatcher took it back): a draining shard it left empty is handed over. */
  readonly taskMoved = (thread: number): void => {
    if (this.draining[thread] !== undefined) this.handOverIfEmpty(thread);
  };

  /** Shard `thread` is running again (recycled, or restarted after a crash): counted from zero. */
  threadUp(thread: number): void {
    this.answered[thread] = 0;
    this.draining[thread] = undefined;
    this.ending[thread] = false;
    this.skipUntil[thread] = 0;
    if (this.current === thread) {
      this.current = 0;
      this.next();
    }
  }

  /** The next shard already past its task limit, waiting its turn (age and heap are looked at by the timer). */
  private next(): void {
    for (let thread = 1; thread <= this.host.threads && this.current === 0; thread++) {
      if (this.answered[thread] >= this.limits.maxTasksPerThread) this.passed(thread, 'tasks');
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The timer: age and heap of every shard that is up and not already draining. */
  private look(): void {
    const now = performance.now();
    for (let thread = 1; thread <= this.host.threads; thread++) {
      if (!this.host.isUp(thread)) continue;
      if (this.draining[thread] !== undefined) {
        this.handOverIfEmpty(thread); // one left idle by its last answer (a task sent beside the rings)
        continue;
      }
      if (now - this.host.startedAt(thread) >= this.limits.maxAgeMs) this.passed(thread, 'age');
      else if (this.host.heapMB(thread) >= this.limits.maxHeapMB) this.passed(thread, 'heap');
      else if (this.answered[thread] >= this.limits.maxTasksPerThread) this.passed(thread, 'tasks');
    }
  }

  /** Shard `thread` passed a limit: it drains, unless actors live there (then it is left be for a while). */
  private passed(thread: number, cause: RecycleCause): void {
    if (this.current !== 0) return; // its turn comes when the one being recycled is back
    // The standby boots after each hand-over: until it is up, the shard works on past its limit
    // (looked at again at its next answer, or by the timer) rather than drain and then idle.
    if (!this.host.standbyReady()) return;
    const now = performance.now();
    if (now < this.skipUntil[thread] || !this.host.isUp(thread)) return;
    if (this.host.hostsActors(thread)) {
      this.skipUntil[thread] = now + ACTORS_RECHECK_MS;
      return;
    }
    this.current = thread;
    this.draining[thread] = cause;
    this.handOverIfEmpty(thread);
  }

  /** A draining shard that holds no task is ended, to be replaced by the standby. */
  private handOverIfEmpty(thread: number): void {
    if (this.ending[thread] || this.host.tasksOn(thread) !== 0) return;
    if (this.host.hostsActors(thread)) {
      // An actor was placed there while it drained: it keeps its thread, and takes tasks again.
      this.draining[thread] = undefined;
      this.skipUntil[thread] = performance.now() + ACTORS_RECHECK_MS;
      this.current = 0;
      this.next();
      return;
    }
    this.ending[thread] = true;
    this.host.recycle(thread, this.draining[thread]!);
  }
}
