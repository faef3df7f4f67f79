/**
 * A system's task dispatchers: the one behind `system.run`, `stream`, `broadcast` and `map`, and
 * one per ThreadPool on the system. Each dispatcher (src/main/tasks.ts) spreads its tasks over the
 * shards; this file gives them what they share of the system (`TaskHost`): the shards' TASK and
 * parked words, the side channel, the root supervisor's end/grow/retire, the recycler, and one
 * task id counter, since a shard's TASK word names tasks of every dispatcher.
 */
import { claimIndex, parkedIndex } from '../shm/ring-set.js';
import type { ThreadRuntime } from '../common/runtime.js';
import { runBesideInline } from './inline.js';
import type { Recycler } from './recycler.js';
import type { RootSupervisor } from './root-supervisor.js';
import type { SideTasks } from './side-tasks.js';
import type { System } from './system.js';
import { TASK_RUNNER_URL, TaskDispatcher, type DispatcherOptions, type TaskHost } from './tasks.js';

/** Tasks in flight per shard for `system.run` (see src/main/tasks.ts). */
const SYSTEM_TASK_WINDOW = 64;

/** What the dispatchers need of the system (src/main/system.ts). */
export interface TaskShardsHost {
  readonly system: System;
  /** The shards; 0 in inline mode, where one lane's runner lives on main (src/main/inline.ts). */
  readonly threads: number;
  /** The ring set's words (each thread's parked count). */
  readonly words: Int32Array;
  /** The id of the task thread `thread`'s runner is inside now (its TASK word), 0 for none. */
  taskRunning(thread: number): number;
  readonly runtime: ThreadRuntime;
  readonly side: SideTasks;
  readonly root: RootSupervisor;
  readonly recycler: Recycler | undefined;
  /** Ms an aborted task has to answer before its shard is ended (start's `abortGrace`). */
  readonly abortGrace: number;
  /** Reads main's rings now (see TaskHost.readReplies). */
  readNow(): void;
}

export class SystemTasks {
  private readonly shards: TaskShardsHost;
  /** Every open dispatcher (closed with the system). */
  private readonly open = new Set<TaskDispatcher>();
  private nextTaskId = 1;
  /** `system.run`'s, once the first such task is asked for. */
  private own: TaskDispatcher | undefined;
  private readonly host: TaskHost;

  constructor(shards: TaskShardsHost) {
    this.shards = shards;
    this.host = this.taskHost();
  }

  /** The dispatcher of `system.run`, `stream`, `broadcast` and `map`, started with the first of them. */
  get system(): TaskDispatcher {
    this.own ??= this.dispatcher({ window: SYSTEM_TASK_WINDOW, maxQueue: Infinity });
    return this.own;
  }

  /** A new dispatcher on the shards (a ThreadPool's), closed with the system. */
  dispatcher(options: DispatcherOptions): TaskDispatcher {
    if (this.open.size === 0) this.shards.root.warm(TASK_RUNNER_URL.href); // the standby booted before any task
    const dispatcher = new TaskDispatcher(this.host, { ...options, abortGrace: options.abortGrace ?? this.shards.abortGrace });
    this.open.add(dispatcher);
    return dispatcher;
  }

  /** Tasks of every dispatcher in flight on shard `thread` (the recycler waits for 0). */
  inFlightOn(thread: number): number {
    let tasks = 0;
    for (const dispatcher of this.open) tasks += dispatcher.inFlightOn(thread);
    return tasks;
  }

  /** Task runners on shard `thread`: actors there that are weft's, not the user's. */
  runnersOn(thread: number): number {
    let runners = 0;
    for (const dispatcher of this.open) if (dispatcher.hasRunner(thread)) runners++;
    return runners;
  }

  /** The modules tasks come from, the runner's first (for a standby to import ahead); none before the first dispatcher. */
  modules(): string[] {
    if (this.open.size === 0) return [];
    const modules = new Set<string>([TASK_RUNNER_URL.href]);
    for (const dispatcher of this.open) for (const module of dispatcher.modules()) modules.add(module);
    return [...modules];
  }

  /** Closes every dispatcher: the system stops (their unanswered tasks reject with SystemStoppedError). */
  closeAll(): void {
    for (const dispatcher of [...this.open]) dispatcher.close('stopped');
  }

  private taskHost(): TaskHost {
    const { system, threads, words, runtime, side, root, recycler } = this.shards;
    // Inline mode has one lane, numbered 1 as a shard would be, whose runner lives on main.
    const inline = threads === 0;
    const lane = (thread: number): number => (inline ? 0 : thread);
    return {
      system,
      lanes: inline ? 1 : threads,
      taskRunning: (thread) => this.shards.taskRunning(lane(thread)),
      parked: (thread) => Atomics.load(words, parkedIndex(lane(thread))),
      // Inline mode's lane is main, which is never busy while main dispatches: nothing goes ahead there.
      offerAhead: (thread, id) => !inline && Atomics.compareExchange(words, claimIndex(thread), 0, id) === 0,
      takeBack: (thread, id) => Atomics.compareExchange(words, claimIndex(thread), id, 0) === id,
      claimed: (thread, id) => Atomics.load(words, claimIndex(thread)) !== id,
      runBeside: (thread, id, module, name, args, transferList, key, unsendable) =>
        inline ? runBesideInline(id, module, name, args, transferList, (task) => runtime.markTask(task), unsendable) : side.run(thread, id, module, name, args, transferList, key, unsendable),
      callRunner: (runner, task) => runtime.callOrThrow(runner, task),
      awaitSlow: (delta) => {
        runtime.slowAwaited += delta;
      },
      takeId: () => {
        const id = this.nextTaskId;
        this.nextTaskId = id >= 0x7fff_ffff ? 1 : id + 1;
        return id;
      },
      closed: (dispatcher) => this.open.delete(dispatcher),
      endThread: (thread, why) => {
        if (inline) return false; // main cannot be ended: the aborted task runs on (src/main/inline.ts)
        root.end(thread, 'aborted', why);
        return true;
      },
      abortBeside: (thread, id, cause) => {
        if (!inline) side.abort(thread, id, cause);
      },
      warm: (module) => root.warm(module),
      readReplies: () => this.shards.readNow(),
      recycling: (thread) => recycler?.recycling(thread) === true,
      taskAnswered: recycler?.taskAnswered,
      taskMoved: recycler?.taskMoved,
      // Inline mode's one lane is main: never retired, never grown.
      isRetired: (thread) => !inline && root.isRetired(thread),
      grow: (thread) => {
        if (!inline) root.grow(thread);
      },
      retire: (thread) => {
        if (!inline) root.retire(thread);
      },
    };
  }
}
