/**
 * The system: main's side of weft. `start()` launches the shards and returns a `System`, through
 * which main spawns actors, calls, casts and sends, and finally stops everything.
 *
 * Main is thread 0 of the ring set, and runs the same actor runtime as a shard (so it can host
 * actors too, and its calls, monitors and refs work as an actor's do). A receive loop drains main's
 * inbound rings for the whole life of the system (replies, spawn results, exit notices, messages
 * for main's actors); it parks on main's doorbell when idle without holding the process open, and
 * a ref'd timer holds it open only while a reply is awaited or `stop()` is under way, so a script
 * that has nothing left to wait for exits by itself (after `stop()`). Main also keeps what is
 * node-wide: the registry of names and the dead-letter event, which shards reach through frames.
 *
 * `System` is the face; each concern behind it has a file of its own:
 * - src/main/system-events.ts: the types of that face (spawn's options, the events);
 * - src/main/node-services.ts: what main does for every thread (names, dead letters, events,
 *   messages for other nodes);
 * - src/main/system-tasks.ts: the task dispatchers (`run`, `stream`, `broadcast`, `map`, ThreadPools);
 * - src/main/system-cluster.ts: the system as a cluster node (`start({ node })`);
 * - src/main/root-supervisor.ts: the shards' lives (start, restart, recycle, stop).
 * What stays here: `start`, the actor API (spawn, supervise, call, cast, send, monitor, exit),
 * fuses, stats, main's receive loop and `stop`.
 */
import { GuardedEmitter } from './guarded-events.js';
import { randomInt } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { compiledModule } from '../common/compiled-module.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ExitError, FuseError, InvalidArgumentError, NoProcError, SystemStoppedError, describeValue } from '../shm/errors.js';
import { FuseTable } from '../shm/fuse-table.js';
import type { Fuse, FuseNotice } from '../common/fuse.js';
import { fuseOptions, type FuseInstallOptions } from './fuse-options.js';
import { LOCAL_NODE, Pid } from '../shm/pid.js';
import { Kind, type ThreadStats } from '../shm/protocol.js';
import { RingSet, actorsIndex, heapMBIndex, taskIndex } from '../shm/ring-set.js';
import type { AnyActor, ArgsOf, CallOf, CastOf, ExitReason, ReplyOf } from '../common/actor.js';
import { ActorRef, type CallOptions, type Router } from '../common/actor-ref.js';
import { DEFAULT_SPAWN_TIMEOUT, ThreadRuntime } from '../common/runtime.js';
import type { CrashContext } from '../common/crash-context.js';
import { timeoutMs } from '../common/timeout.js';
import { SUPERVISOR_URL, SupervisorRef, supervisorData, type SuperviseOptions, type SupervisorSpec } from '../common/supervisor-ref.js';
import type { SupervisorCall, SupervisorSpecData } from '../common/supervisor.js';
import type Supervisor from '../common/supervisor.js';
import type Pool from '../common/pool.js';
import { POOL_URL, PoolRef, poolData, type PoolOptions } from '../common/pool-ref.js';
import { resolveStartOptions, type ResolvedStartOptions, type StartOptions } from './options.js';
import { Registry } from './registry.js';
import { Observability, type StatsOptions, type SystemStats } from './observability.js';
import type { TaskDispatcher, DispatcherOptions } from './tasks.js';
import { SystemTasks } from './system-tasks.js';
import { TaskStream, highWaterMarkOf, refusedChannel } from '../common/stream.js';
import { MainActorStreams } from './actor-streams.js';
import type { ActorStreamOptions } from '../common/actor-stream-consumer.js';
import { SideTasks } from './side-tasks.js';
import { chargeUncaught } from './inline.js';
import { checkItems, mapItems, mapOptions, type MapOptions } from './map.js';
import { abortable, type SystemRunOptions, type SystemStreamOptions } from './task-signal.js';
import { ThreadPool, type ThreadPoolOptions } from './thread-pool.js';
import { moduleUrl } from '../common/module-url.js';
import { RootSupervisor, type RootHost, type ThreadDownCause, type ThreadWorkerOptions } from './root-supervisor.js';
import { Recycler } from './recycler.js';
import { NodeServices } from './node-services.js';
import { SystemCluster, type NodeHost } from './system-cluster.js';
import { isThreadDown, type DeadLetter, type SpawnOptions, type Monitor, type SystemEvents } from './system-events.js';
// Types only: the cluster's code (and NATS with it) is imported when a system with `node` starts.
import type { RemoteName } from './cluster/cluster.js';
import type { Unserve } from './cluster/remote-tasks.js';
import type { NodeDownWhy } from './cluster/membership.js';

export { isThreadDown, type SpawnOptions, type DeadLetter, type Monitor, type ActorExit, type SystemEvents, type RemoteName, type ClusterStats, type StatsOptions, type SystemStats, type NodeDownWhy } from './system-events.js';

/** The shard's entry, for each worker thread. */
const SHARD_URL = compiledModule('worker/shard.js');
const STOP_TIMEOUT_MS = 10_000;
/** How long a restart waits for each live shard to forget the dead one. */
const FORGET_TIMEOUT_MS = 2000;
/** Drains between yields to the event loop on main, so user timers and I/O are not starved. */
const DRAINS_PER_YIELD = 16;
const noop = (): void => {};

/**
 * @internal What a ThreadPool gives its own system beyond start's options: the `Worker` options of
 * its shards, and the `workerData` its worker files read (src/common/worker-state.ts).
 */
export interface PoolThreads {
  worker?: ThreadWorkerOptions;
  workerData?: unknown;
  /** Shards started at once (an elastic pool's `minThreads`); the others start on demand. @default threads */
  initial?: number;
}

/** Starts a system: `threads` shards (default: one per core) plus main as thread 0. */
export async function start(options?: StartOptions, pool?: PoolThreads): Promise<System> {
  const [system, ready] = launch(options, pool);
  await ready;
  return system;
}

/**
 * @internal `start()`, handing the system over at once, its shards' Workers made but not yet up
 * (with `ready`, which rejects as `start()` would): a ThreadPool lists them in `threads` from its
 * constructor on, as piscina does. Throws for bad options.
 */
export function launch(options?: StartOptions, pool?: PoolThreads): [system: System, ready: Promise<void>] {
  const system = new System(resolveStartOptions(options), pool);
  return [system, system.ready()];
}

export class System extends GuardedEmitter<SystemEvents> implements Router {
  /** Shards (worker threads) running actors; main is thread 0 besides them. */
  readonly threads: number;
  /** This node's name (`'local'` outside a cluster); pids of its actors carry it. */
  readonly node: string;
  /** This life of the node (0 outside a cluster): see Pid. */
  readonly creation: number;
  private readonly options: ResolvedStartOptions;
  private readonly set: RingSet;
  /** Main's actor runtime: thread 0's actors, and every call, spawn and monitor made from main. */
  private readonly runtime: ThreadRuntime;
  /** Starts the shards, and restarts one that goes down. */
  private readonly root: RootSupervisor;
  /** Replaces shards past `maxTasksPerThread`, `maxHeapMB` or `maxAgeMs` (src/main/recycler.ts); undefined with no limit set. */
  private readonly recycler: Recycler | undefined;
  private readonly names = new Registry();
  /** The fuses every thread shares (src/shm/fuse-table.ts). */
  private readonly fuseTable: FuseTable;
  /** Holds the process open while a reply is awaited (the parked receive loop does not). */
  private readonly hold = setInterval(noop, 2 ** 31 - 1).unref();
  private stopping: Promise<void> | undefined;
  private closed = false;
  /** Set once the shards are gone: the receive loop ends. */
  private finished = false;
  /**
   * Supervisors started by `supervise`, oldest first, with what started them: `stop` stops them
   * first, newest first; one whose thread went down is started again once the thread is back.
   */
  private readonly supervisors: Array<{ ref: SupervisorRef; spec: SupervisorSpecData; options: SuperviseOptions | undefined }> = [];
  /** Tasks that travel beside the rings (transferables, SharedArrayBuffers): src/main/side-tasks.ts. */
  private readonly side = new SideTasks((thread, message, transferList) => this.root.post(thread, message, transferList));
  /** Why each shard last went down. */
  private readonly lastDown: ThreadDownCause[] = [];
  /** The task dispatchers: `system.run`'s and every ThreadPool's on this system (src/main/system-tasks.ts). */
  private readonly tasks: SystemTasks;
  /** This system as a cluster node (`start({ node })`; src/main/system-cluster.ts). */
  private readonly member: SystemCluster;
  /** What main does for every thread: names, dead letters, events, remote messages (src/main/node-services.ts). */
  private readonly desk: NodeServices;
  /** Inline mode only: what charges escaped exceptions to actors, and its release at stop. */
  private readonly inline: { context: CrashContext; release: () => void } | undefined;
  /** Casts and sends that reached no actor, since start (each also emitted as 'deadLetter'). */
  deadLetters = 0;
  /** A ThreadPool's `workerData`, for the worker files on its own shards. */
  private readonly userData: unknown;

  /** Use `start()`. */
  constructor(options: ResolvedStartOptions, pool?: PoolThreads) {
    super();
    this.options = options;
    this.userData = pool?.workerData;
    this.threads = options.threads;
    this.node = options.node?.name ?? LOCAL_NODE;
    // A node's life: never 0 (that means "not in a cluster"); random, so a restart gets another.
    this.creation = options.node === undefined ? 0 : randomInt(1, 2 ** 31 - 1);
    this.set = RingSet.create({ threads: options.threads + 1, ringCapacity: options.ringCapacity });
    this.member = new SystemCluster(this.nodeHost(), options.node);
    this.desk = this.nodeServices();
    this.fuseTable = FuseTable.create(options.fuses);
    // Inline mode: an exception escaping an actor crashes that actor, not the process (src/main/inline.ts).
    this.inline = options.threads === 0 ? chargeUncaught((serial, error) => this.runtime.crash(serial, error)) : undefined;
    this.runtime = new ThreadRuntime({
      set: this.set,
      thread: 0,
      node: this.node,
      creation: this.creation,
      spinMicros: options.mainSpinMicros,
      keepAlive: false,
      callTimeout: options.callTimeout,
      onBusyChange: (busy) => (busy ? this.hold.ref() : this.releaseHold()),
      main: () => this.desk.services,
      serve: this.desk.serveFrame,
      fuses: this.fuseTable,
      backpressure: options.backpressure,
      actorMetrics: options.metrics.actors,
      crashContext: this.inline?.context,
    });
    const { hangTimeout, resourceLimits, execArgv, threadRestarts } = options;
    const recycling = Recycler.wanted(options);
    // A recycling system hands threads to the standby from its first seconds: it boots at once.
    this.root = new RootSupervisor(this.rootHost, { url: SHARD_URL, set: this.set, shards: options.threads, hangTimeout, resourceLimits, execArgv, ...threadRestarts, worker: pool?.worker, initial: pool?.initial, standbyDelay: recycling ? 0 : undefined });
    this.recycler = recycling ? new Recycler(this.recyclerHost(), options) : undefined;
    const { set, runtime, side, root, recycler } = this;
    this.tasks = new SystemTasks({ system: this, threads: this.threads, words: set.words, runtime, side, root, recycler, abortGrace: options.abortGrace, readNow: () => this.readNow(), taskRunning: (thread) => this.taskRunning(thread) });
  }

  /** What the cluster side asks of the system (src/main/system-cluster.ts). */
  private nodeHost(): NodeHost {
    return {
      runtime: () => this.runtime,
      names: this.names,
      callTimeout: this.options.callTimeout,
      checkOpen: (what) => this.checkOpen(what),
      closed: () => this.closed,
      spawn: async (module, args, name, thread, timeout) => (await this.spawn(module, { args, name, thread, timeout })).pid,
      run: (module, exportName, args) => this.run(module, exportName, ...args),
      deadLetter: (to, kind, message) => this.deadLetter({ to, kind, message, reason: kind === 'foreign' ? 'foreign' : 'noproc' }),
      nodeUp: (node) => this.emit('nodeup', { node }),
      nodeDown: (node, why) => {
        this.desk.nodeDown(node, why);
        this.emit('nodedown', { node, why });
      },
      error: (error) => {
        if (this.listenerCount('clusterError') !== 0) this.emit('clusterError', error);
      },
    };
  }

  /** What main does for every thread (src/main/node-services.ts), with what it emits. */
  private nodeServices(): NodeServices {
    return new NodeServices({
      runtime: () => this.runtime,
      names: this.names,
      cluster: () => this.member.cluster,
      globalNames: this.member.globalNames,
      exited: (pid, name, reason) => {
        if (this.listenerCount('actorExit') !== 0) this.emit('actorExit', { pid, name, reason });
      },
      deadLetter: (to, kind, message, reason) => this.deadLetter({ to, kind, message, reason }),
      event: (event) => this.emit('restart', event),
      fuse: (notice) => this.fuseNotice(notice),
      whereisGlobal: (name) => this.whereisGlobal(name)?.pid,
      whereisOn: async (name, node) => (await this.whereisOn(name, node))?.pid,
    });
  }

  /** A message that reached no actor, from any thread or node: counted, and emitted as 'deadLetter'. */
  private deadLetter(letter: DeadLetter): void {
    this.deadLetters++;
    this.emit('deadLetter', letter);
  }

  /** What the recycler reads of the shards and the dispatchers (src/main/recycler.ts). */
  private recyclerHost(): ConstructorParameters<typeof Recycler>[0] {
    const words = this.set.words;
    return {
      threads: this.threads,
      isUp: (thread) => this.root.isUp(thread),
      startedAt: (thread) => this.root.startedAt[thread],
      heapMB: (thread) => Atomics.load(words, heapMBIndex(thread)),
      tasksOn: (thread) => this.tasks.inFlightOn(thread),
      hostsActors: (thread) => Atomics.load(words, actorsIndex(thread)) > this.tasks.runnersOn(thread),
      recycle: (thread, cause) => this.root.recycle(thread, cause),
      standbyReady: () => this.root.standbyBooted,
    };
  }

  /** Starts the shards and the receive loop, then joins the cluster if there is one. */
  async ready(): Promise<void> {
    void this.receive();
    this.hold.ref(); // the shards are unref'd; hold the process until they are up
    try {
      await this.root.start();
    } catch (error) {
      this.closed = true;
      this.finish();
      throw error;
    } finally {
      this.releaseHold();
    }
    try {
      await this.member.join();
      await this.seen.start(this.options);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Starts an actor from the module at `module` (a URL, a URL string or a file path, whose default
   * export is `defineActor(...)`; a relative path is read against the calling file, as an import
   * there would be) and resolves with a typed ref once its `init` has returned.
   *
   * ```ts
   * const counter = await system.spawn<typeof import('./counter.js').default>(new URL('./counter.js', import.meta.url), { args: 5, name: 'counter' });
   * ```
   * `thread: 0` runs it on main (handy for an actor that owns main-thread resources, like a
   * server socket); the placement policies spread actors over the shards.
   *
   * Rejects with `SpawnError` (module missing or not an actor, `init` threw: the error is its
   * `cause`), `AlreadyRegisteredError` for a taken name, `InvalidArgumentError` for a bad thread
   * or a `module` that is no URL or path (`spawn(42)`).
   */
  async spawn<A extends AnyActor>(module: URL | string, ...[options]: undefined extends ArgsOf<A> ? [SpawnOptions<ArgsOf<A>>?] : [SpawnOptions<ArgsOf<A>>]): Promise<ActorRef<A>> {
    this.checkOpen('spawn');
    // Resolved before any await, while the caller's file is on the stack (src/common/module-url.ts).
    const url = moduleUrl(module);
    const args = (options as { args?: unknown } | undefined)?.args;
    const timeout = timeoutMs(options?.timeout, DEFAULT_SPAWN_TIMEOUT);
    const node = options?.node;
    if (node !== undefined && node !== this.node) {
      const pid = await this.member.spawnOn(node, url, args, options?.name ?? null, options?.global === true, options?.thread, timeout);
      return new ActorRef<A>(pid, this);
    }
    if (options?.global === true) {
      if (options.name === undefined) throw new InvalidArgumentError('`global: true` is for a `name`; got no name');
      return new ActorRef<A>(await this.member.spawnGlobal(url, args, options.name, options.thread, timeout), this);
    }
    const thread = this.runtime.place(options?.thread);
    const name = options?.name;
    // Reserved before the spawn, so two spawns of one name cannot both start an actor; the
    // actor's thread binds it under this reservation before the actor runs (Registry).
    const reservation = name === undefined ? undefined : this.names.reserve(name);
    try {
      return new ActorRef<A>(await this.runtime.spawnOn(thread, url, args, timeout, name, undefined, reservation, options?.mailbox), this);
    } catch (error) {
      if (reservation !== undefined) this.names.release(name!, reservation);
      throw error;
    }
  }

  /**
   * Starts a supervisor (see src/common/supervisor.ts for what it does) and resolves once it and
   * all its children have started:
   *
   * ```ts
   * const sup = await system.supervise({
   *   strategy: 'one_for_one',
   *   children: [child<typeof Counter>('counter', COUNTER_URL, { args: 0, name: 'counter', thread: 2 })],
   * });
   * await system.whereis<typeof Counter>('counter')!.call({ type: 'get' });
   * ```
   * `system.stop()` stops these supervisors first, newest first, each stopping its tree in order.
   * Rejects with `InvalidArgumentError` for a bad spec, `SpawnError` if a child fails to start.
   */
  async supervise(spec: SupervisorSpec, options?: SuperviseOptions): Promise<SupervisorRef> {
    this.checkOpen('supervise');
    const data = supervisorData(spec);
    const thread = options?.thread === 'local' ? 0 : options?.thread;
    const ref = await this.spawn<typeof Supervisor>(SUPERVISOR_URL, { args: data, thread, name: options?.name, timeout: options?.timeout });
    const supervisor = new SupervisorRef(ref.pid, this);
    const entry = { ref: supervisor, spec: data, options };
    this.supervisors.push(entry);
    void this.forgetWhenGone(entry);
    return supervisor;
  }

  /**
   * Runs `module[exportName](...args)` once on a shard and resolves with its result (see
   * src/main/tasks.ts for the ways it can fail): `await system.run(new URL('./hash.js', import.meta.url), 'sha256', data)`.
   */
  run(module: string | URL, exportName = 'default', ...args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(this.stoppedError('run'));
    let url: string;
    try {
      url = moduleUrl(module);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.tasks.system.run(url, exportName, args);
  }

  /**
   * `run`, with options: the task's arguments as an array, then `{ signal }`. Aborting rejects
   * with `AbortError` at once; a task still queued never runs, one running sees its own `{ signal }`
   * abort in its thread and keeps its thread if it ends within `abortGrace` (see "Cancellation" in
   * the README). A `signal` that is neither an AbortSignal nor an EventEmitter is a TypeError
   * (`InvalidOptionTypeError`), and nothing is sent.
   *
   * ```ts
   * await system.runWith(HASH_URL, 'sha256', [data], { signal: AbortSignal.timeout(500) });
   * ```
   */
  runWith(module: string | URL, exportName: string, args: readonly unknown[], options: SystemRunOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(this.stoppedError('run'));
    try {
      if (!Array.isArray(args)) throw new InvalidArgumentError(`expected \`args\` to be an array of the task's arguments, got: ${describeValue(args)}`);
      const signal = options.signal === undefined ? undefined : abortable(options.signal);
      return this.tasks.system.run(moduleUrl(module), exportName, [...args], signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Streams the values `module[exportName](...args)` yields (a generator, sync or async) from one
   * shard, with backpressure: see `ThreadPool.stream` and src/common/stream.ts.
   * `for await (const row of system.stream<Row>(ROWS_URL, 'rows', 'big.csv')) …`
   */
  stream<T = unknown>(module: string | URL, exportName = 'default', ...args: unknown[]): TaskStream<T> {
    return this.streamWith<T>(module, exportName, args);
  }

  /**
   * `stream` with options (the task's arguments go in an array before them): `highWaterMark`, and
   * a `signal` that ends the stream (`next()` rejects with AbortError; the generator's finally
   * blocks run on its thread). Bad arguments or options throw here.
   *
   * ```ts
   * for await (const row of system.streamWith<Row>(ROWS_URL, 'rows', ['big.csv'], { signal: AbortSignal.timeout(5_000) })) …
   * ```
   */
  streamWith<T = unknown>(module: string | URL, exportName: string, args: readonly unknown[], options: SystemStreamOptions = {}): TaskStream<T> {
    if (!Array.isArray(args)) throw new InvalidArgumentError(`expected \`args\` to be an array of the task's arguments, got: ${describeValue(args)}`);
    const highWaterMark = highWaterMarkOf(options);
    const signal = options.signal === undefined ? undefined : abortable(options.signal);
    if (this.closed) return new TaskStream<T>(() => refusedChannel(() => this.stoppedError('stream')), highWaterMark);
    const tasks = this.tasks.system;
    return tasks.stream<T>(tasks.functionNumber(moduleUrl(module, 'module'), exportName), [...args], highWaterMark, signal);
  }

  /**
   * Runs `module[exportName](...args)` once on every shard; resolves with the results in shard
   * order, or rejects with the first failure (the other shards still ran theirs). See `ThreadPool.broadcast`.
   */
  broadcast(module: string | URL, exportName = 'default', ...args: unknown[]): Promise<unknown[]> {
    if (this.closed) return Promise.reject(this.stoppedError('broadcast'));
    const tasks = this.tasks.system;
    return tasks.broadcast(tasks.functionNumber(moduleUrl(module, 'module'), exportName), args);
  }

  /**
   * Starts a pool of `size` worker actors, poolboy's way (see src/common/pool-ref.ts), and resolves
   * with its handle once they have started. The pool's manager runs on main; its workers on the
   * shards (`thread`, round-robin by default).
   *
   * ```ts
   * const pool = await system.pool<typeof Db>({ actor: DB_URL, args: dsn, size: 4, maxOverflow: 2 });
   * await pool.transaction((db) => db.call({ type: 'query', sql: 'select 1' }));
   * ```
   */
  async pool<A extends AnyActor>(options: PoolOptions<A>): Promise<PoolRef<A>> {
    this.checkOpen('pool');
    const data = poolData(options as PoolOptions<AnyActor>);
    const manager = await this.spawn<typeof Pool>(POOL_URL, { args: data, thread: 0, name: options.name });
    return new PoolRef<A>(manager.pid, this);
  }

  /**
   * Maps `module[exportName]` over `items` on the shards, as Elixir's `Task.async_stream`: an async
   * iterable of the results, at most `maxConcurrency` in flight, taking items only as the consumer
   * asks for results (see src/main/map.ts).
   */
  map(items: Iterable<unknown> | AsyncIterable<unknown>, module: string | URL, options?: MapOptions): AsyncGenerator<unknown, void, undefined> {
    this.checkOpen('map');
    checkItems(items);
    const resolved = mapOptions(options, Math.max(this.threads, 1));
    const url = moduleUrl(module);
    const tasks = this.tasks.system;
    const fn = tasks.functionNumber(url, resolved.exportName);
    return mapItems(items, (item, signal) => tasks.runFunction(fn, [item], signal), resolved);
  }

  /** A piscina-compatible pool on this system's shards (see src/main/thread-pool.ts); stopped with the system. */
  threadPool(options: ThreadPoolOptions): ThreadPool {
    this.checkOpen('threadPool');
    return new ThreadPool(options, this);
  }

  /** @internal A task dispatcher on this system's shards, closed with it (ThreadPool, run, map). */
  taskDispatcher(options: DispatcherOptions): TaskDispatcher {
    const dispatcher = this.tasks.dispatcher(options);
    if (this.closed) dispatcher.close('stopped'); // made as the system stops: refuses at once
    return dispatcher;
  }

  /**
   * Installs the fuse `name` in the table every thread shares (see src/common/fuse.ts) and returns
   * it; `ctx.fuse(name)` and `fuse(name)` on any thread get the same fuse. Installing a name again
   * with the same options returns it; with other options, or with the table full, FuseError.
   *
   * ```ts
   * const geo = system.fuse('geo-api', { strategy: { standard: { maxR: 5, maxT: 10_000 } }, reset: 30_000 });
   * system.on('blown', ({ name }) => log.warn(`${name} is failing: falling back`));
   * ```
   */
  fuse(name: string, options: FuseInstallOptions): Fuse {
    this.checkOpen('fuse');
    const wanted = fuseOptions(name, options);
    const found = this.fuseTable.find(name);
    if (found !== undefined) {
      const have = this.fuseTable.options(found.slot);
      if (JSON.stringify(have) !== JSON.stringify(wanted)) {
        throw new FuseError(`fuse ${JSON.stringify(name)} is installed with other options: ${JSON.stringify(have)}, got: ${JSON.stringify(wanted)}`);
      }
      return this.runtime.fuse(name);
    }
    if (this.fuseTable.install(name, wanted) === -1) throw new FuseError(`the fuse table is full (${this.fuseTable.slots} fuses; raise start({ fuses }))`);
    return this.runtime.fuse(name);
  }

  /** A thread's fuse notice: a blow (emit, and heal after `reset`), or a removal. */
  private fuseNotice(notice: FuseNotice): void {
    const found = this.fuseTable.find(notice.name);
    if (notice.type === 'fuseRemove') {
      if (found !== undefined) this.fuseTable.remove(found.slot);
      return;
    }
    if (found === undefined || found.generation !== notice.generation) return;
    this.emit('blown', { name: notice.name });
    const { reset } = this.fuseTable.options(notice.slot);
    setTimeout(() => {
      if (this.fuseTable.heal(notice.slot, notice.generation, notice.blownAt)) this.emit('healed', { name: notice.name });
    }, reset).unref();
  }

  /** The actor registered under `name`, if any. */
  whereis<A extends AnyActor = AnyActor>(name: string): ActorRef<A> | undefined {
    const pid = this.names.whereis(name);
    return pid ? new ActorRef<A>(pid, this) : undefined;
  }

  /**
   * Sends `msg` to an actor's `handleInfo`, by name, ref or pid, without waiting. A name nobody
   * holds is a `NoProcError` (as Erlang's `name ! msg` raises `badarg`); a dead pid is dropped.
   */
  send(to: string | ActorRef | Pid | RemoteName, msg: unknown): boolean {
    this.checkOpen('send');
    if (!isRemoteName(to, this.node)) return this.runtime.send(isName(to) ? this.resolve(to.name) : this.resolve(to), msg);
    this.member.post(to, 'send', msg);
    return true;
  }

  /**
   * Resolves once nothing is held back on the path from main to `to`'s thread: what a producer
   * on main awaits when a cast returned false (`ref.drained()` is the same).
   *
   * ```ts
   * for (const row of rows) if (!system.cast(sink, row)) await system.drain(sink);
   * ```
   */
  drain(to: ActorRef | Pid): Promise<void> {
    return this.drained(to instanceof ActorRef ? to.pid : to);
  }

  /** Router: see `drain`. */
  drained(pid: Pid): Promise<void> {
    return this.closed ? Promise.resolve() : this.runtime.drained(pid);
  }

  /** Router: a cast of weft's own protocols (a pool's checkin), never refused by backpressure. */
  /** @internal A call on the control lane (SupervisorRef's): see ThreadRuntime.controlCall. */
  controlCall(pid: Pid, msg: unknown, timeout: number | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(this.stoppedError('call'));
    return this.runtime.controlCall(pid, msg, timeout);
  }

  /** Router: a stream from actor `pid` (see `ActorRef.stream`); ended with SystemStoppedError by `stop()`. */
  actorStream(pid: Pid, msg: unknown, options: ActorStreamOptions | undefined): TaskStream<unknown> {
    if (this.closed) return new TaskStream<unknown>(() => refusedChannel(() => this.stoppedError('stream')), highWaterMarkOf(options));
    this.actorStreams ??= new MainActorStreams(this.runtime);
    return this.actorStreams.stream(pid, msg, options);
  }

  private actorStreams: MainActorStreams | undefined;

  control(pid: Pid, kind: typeof Kind.CAST, msg: unknown): void {
    this.checkOpen('cast');
    this.runtime.control(pid, kind, msg);
  }

  /**
   * Watches an actor from main: `monitor.down` resolves with its exit reason when it exits, as
   * Erlang's monitor delivers a DOWN. Watching does not affect the actor.
   *
   * ```ts
   * const { down } = system.monitor(counter);
   * counter.cast({ type: 'stop' });
   * console.log((await down).reason); // 'normal'
   * ```
   */
  monitor(target: ActorRef | Pid): Monitor {
    this.checkOpen('monitor');
    const pid = target instanceof ActorRef ? target.pid : target;
    let resolve!: (value: { pid: Pid; reason: ExitReason | 'noproc' }) => void;
    const down = new Promise<{ pid: Pid; reason: ExitReason | 'noproc' }>((done) => (resolve = done));
    const listener = ({ pid: from, reason }: { pid: Pid; reason: ExitReason }) => resolve({ pid: from, reason });
    const ref = this.runtime.monitorFrom(listener, pid);
    return {
      ref,
      down,
      demonitor: () => {
        if (!this.closed) this.runtime.demonitorFrom(listener, ref);
      },
    };
  }

  /**
   * Sends an exit signal to an actor from main, as Erlang's `exit(Pid, Reason)`: `'kill'` ends it
   * whatever it does (its exit reason is `'killed'`); another reason ends it with that reason
   * unless it traps exits, in which case its `handleInfo` gets `{ type: 'EXIT', from, reason }`
   * (`from` is main's pid, thread 0 serial 0); `'normal'` is ignored by an actor that does not trap.
   *
   * ```ts
   * system.exit(worker, 'kill');
   * ```
   */
  exit(target: ActorRef | Pid, reason: ExitReason): void {
    this.checkOpen('exit');
    const pid = target instanceof ActorRef ? target.pid : target;
    this.runtime.exitSignal(pid, this.runtime.pid(0, 0), reason);
  }

  // ── many machines (start({ node })) ──────────────────────────────────────────────────────────

  /** The nodes of the cluster that are up, this one among them, in name order (`[this.node]` outside a cluster). */
  nodes(): string[] {
    return this.member.nodes(this.node);
  }

  /** Resolves once `node` is up; rejects with ClusterError after `timeout` ms (default: the cluster's `downAfter`). */
  async awaitNode(node: string, timeout?: number): Promise<void> {
    await this.member.awaitNode(node, timeout);
  }

  /**
   * Calls `onDown(why)` once when `node` goes down (at once, in a microtask, if it is not up), as
   * Erlang's `monitor_node`. Returns a function that cancels the watch.
   *
   * ```ts
   * const cancel = system.monitorNode('a', (why) => console.warn(`node a is down: ${why}`));
   * ```
   */
  monitorNode(node: string, onDown: (why: NodeDownWhy | 'noconnection') => void): () => void {
    const up = this.member.isUp(node);
    let watching = true;
    const listener = (event: { node: string; why: NodeDownWhy }): void => {
      if (event.node !== node) return;
      this.off('nodedown', listener);
      if (watching) onDown(event.why);
      watching = false;
    };
    if (!up) queueMicrotask(() => watching && onDown('noconnection'));
    else this.on('nodedown', listener);
    return () => {
      watching = false;
      this.off('nodedown', listener);
    };
  }

  /** The actor holding the cluster-wide name `name` (`spawn(…, { name, global: true })`), on any node. */
  whereisGlobal<A extends AnyActor = AnyActor>(name: string): ActorRef<A> | undefined {
    const pid = this.member.whereisGlobal(name);
    return pid === undefined ? undefined : new ActorRef<A>(pid, this);
  }

  /** The actor registered as `name` on node `node` (Erlang's `rpc:call(Node, erlang, whereis, [Name])`). */
  async whereisOn<A extends AnyActor = AnyActor>(name: string, node: string): Promise<ActorRef<A> | undefined> {
    if (node === this.node) return this.whereis<A>(name);
    const pid = await this.member.whereisOn(name, node);
    return pid === undefined ? undefined : new ActorRef<A>(pid, this);
  }

  /**
   * Takes tasks of `module` from the cluster: `runOn('any', …)` on any node may now run them
   * here (NATS queue groups spread them over every node serving the module). `as` names the
   * module across machines, where its URL may differ. Returns a function that stops serving (this
   * registration only), whose `ready` promise resolves once the NATS server has this node's
   * subscription: a task sent by any node after that reaches it (before, NATS may give it to no
   * one here). `ready` rejects with ClusterError if this node leaves the cluster first. Throws
   * AlreadyRegisteredError if this node already serves a module as `as`.
   *
   * ```ts
   * await system.serve(new URL('./hash.js', import.meta.url), { as: 'hash' }).ready;
   * await other.runOn('any', 'hash', 'sha256', data);
   * ```
   */
  serve(module: string | URL, options?: { as?: string }): Unserve {
    return this.member.serve(module, options);
  }

  /**
   * Runs `module[exportName](...args)` on `where`: a node's name, or `'any'` for whichever node
   * serving the module NATS picks (see `serve`); `{ node, timeout }` to give up after `timeout` ms
   * (CallTimeoutError; the task may still run; by default `node.taskTimeout`, 60 s). `module` is
   * what the serving nodes gave as `as` (by default the module's URL). Rejects with NodeDownError
   * if the node running it goes down, stops (`'goodbye'`) or the connection to it is lost
   * (`'noconnection'`), ClusterError if no node serves it.
   */
  runOn(where: string | { node: string; timeout?: number }, module: string | URL, exportName = 'default', ...args: unknown[]): Promise<unknown> {
    return this.member.runOn(this.node, where, module, exportName, args);
  }

  /**
   * Figures per thread (main first, then each shard): live actors, mailbox depth, messages in and
   * out, parks and notifies, overflowed frames, dead letters, event-loop time; and the replies main
   * awaits. `window` gives the same figures as rates over the time since the last
   * `stats({ reset: true })` (or since start): see src/main/observability.ts.
   */
  async stats(options?: StatsOptions): Promise<SystemStats> {
    this.checkOpen('stats'); // async: a stopped system's stats() rejects, as it always did
    return this.seen.stats(options);
  }

  /**
   * Shard `thread`'s figures. A shard that goes down while asked (a recycle, planned, or a crash) is
   * asked again once it is back, a few times at most: `stats()` does not fail because a thread was
   * being replaced as it looked.
   */
  private async statsOf(thread: number): Promise<ThreadStats> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runtime.statsOf(thread);
      } catch (error) {
        if (attempt >= 3 || this.closed || !(error instanceof ExitError && isThreadDown(error.reason))) throw error;
        await this.threadBack(thread, FORGET_TIMEOUT_MS);
      }
    }
  }

  /** Resolves once shard `thread` is up (at once if it is), or after `ms`. */
  private threadBack(thread: number, ms: number): Promise<void> {
    if (this.root.isUp(thread)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('threadUp', up);
        resolve();
      };
      const up = (event: { thread: number }): void => {
        if (event.thread === thread) done();
      };
      const timer = setTimeout(done, ms);
      this.on('threadUp', up);
    });
  }

  /** Where `start({ inspect })`'s endpoint listens (`port: 0` picked one), if it is open. */
  get inspectAddress(): { host: string; port: number } | { path: string } | undefined {
    return this.seen.inspectAddress;
  }

  /** What stats, the inspect endpoint and OpenTelemetry read (src/main/observability.ts). */
  private readonly seen = new Observability({
    node: () => this.node,
    creation: () => this.creation,
    cluster: () =>
      this.member.cluster === undefined
        ? undefined
        : { nodes: () => this.nodes(), call: (node, name, msg, timeout) => this.call({ name, node }, msg, timeout) },
    spawnAgent: async (module, name) => {
      await this.spawn(module, { thread: 0, name });
    },
    read: async () => {
      const main = this.runtime.stats();
      const shards = await Promise.all(this.shardNumbers().map((thread) => this.statsOf(thread)));
      return { awaitedReplies: this.runtime.awaiting, threads: [main, ...shards], fuses: this.fuseTable.installed(), recycles: { ...this.root.recycled }, ...(this.member.cluster === undefined ? {} : { cluster: this.member.cluster.stats() }) };
    },
    restarts: () => this.root.restarts(),
    names: () => this.names.bound(),
  });

  // ── Router: what ActorRef calls ───────────────────────────────────────────────────────────────

  /**
   * Calls an actor by pid, by a name registered on this node (`call('cache', msg)`, as Erlang's
   * `gen_server:call(Name, Msg)`), or by `{ name, node }` (the name is looked up on that node, at
   * each call, as `gen_server:call({Name, Node}, Msg)` does). A name is looked up at each call;
   * one nobody holds rejects with NoProcError. Prefer a typed `ActorRef`'s `call`. The third
   * argument is the timeout in ms, or `{ timeout, signal }` as `ActorRef.call` takes; on another
   * node too, an abort or the timeout aborts the actor's `ctx.signal` there.
   */
  call<A extends AnyActor>(to: ActorRef<A>, msg: CallOf<A>, options?: number | CallOptions): Promise<ReplyOf<A>>;
  call(to: string | Pid | RemoteName, msg: unknown, options?: number | CallOptions, signal?: AbortSignal): Promise<unknown>;
  call(to: string | Pid | RemoteName | ActorRef, msg: unknown, options?: number | CallOptions, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(this.stoppedError('call'));
    let timeout: number | undefined;
    if (typeof options === 'object' && options !== null) ({ timeout, signal } = options);
    else timeout = options;
    if (!isRemoteName(to, this.node)) {
      let pid: Pid;
      try {
        pid = this.localPid(to);
      } catch (error) {
        return Promise.reject(error); // a promise-returning call never throws: NoProcError rejects
      }
      return this.runtime.call(pid, msg, timeout, signal);
    }
    let ms: number;
    try {
      ms = timeoutMs(timeout, this.options.callTimeout);
    } catch (error) {
      return Promise.reject(error); // as every other failure of a call: a rejection, never a throw
    }
    return this.member.call(to, msg, ms, signal);
  }

  /** Casts to an actor by pid, by a local name (NoProcError if nobody holds it, as `send`), or by `{ name, node }` (see `call`). */
  cast<A extends AnyActor>(to: ActorRef<A>, msg: CastOf<A>): boolean;
  cast(to: string | Pid | RemoteName, msg: unknown): boolean;
  cast(to: string | Pid | RemoteName | ActorRef, msg: unknown): boolean {
    this.checkOpen('cast');
    if (!isRemoteName(to, this.node)) return this.runtime.cast(this.localPid(to), msg);
    this.member.post(to, 'cast', msg);
    return true;
  }

  // ── stop ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stops every actor (each `terminate` runs with reason `'shutdown'`), ends every shard, and
   * rejects whatever is still awaited with `SystemStoppedError`. Safe to call more than once.
   *
   * Bound: supervision trees stop child by child, and a child that outlives its `shutdown` ms is
   * killed, which ends it at once even inside a `terminate` that never settles. So the trees take
   * at most the sum of the `shutdown` times of the children that overrun them (a few ms each
   * otherwise), and no top-level tree more than 10 s; an actor outside any tree whose `terminate`
   * never settles holds its thread's stop for at most 10 s, after which the thread is ended.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /**
   * @internal `stop()` for a system that runs only tasks (a ThreadPool's own): a shard inside a
   * task's synchronous code is ended without being asked to stop first, as piscina terminates its
   * workers (it could not answer its STOP before the task ended: 10 s, then ended anyway); the
   * others stop as usual, so each runs its modules' `teardown`.
   */
  stopNow(): Promise<void> {
    this.endShardsAtOnce = true;
    return this.stop();
  }

  private endShardsAtOnce = false;

  /** The id of the task thread `thread`'s runner is inside now (its TASK word), 0 for none: the one place it is read. */
  private taskRunning(thread: number): number {
    return Atomics.load(this.set.words, taskIndex(thread));
  }

  /** Listeners of what shards' code posts to main itself (`parentPort.postMessage` in a task). */
  private readonly workerListeners = new Set<(thread: number, message: unknown) => void>();

  /** @internal Hears what code on a shard posts with `parentPort.postMessage` (a ThreadPool's 'message'); returns the unsubscribe. */
  onWorkerMessage(listener: (thread: number, message: unknown) => void): () => void {
    this.workerListeners.add(listener);
    return () => this.workerListeners.delete(listener);
  }

  /** @internal The `Worker` running shard `thread` now (undefined while it is down); with `starting`, also one still starting. */
  shardWorker(thread: number, starting = false): Worker | undefined {
    return this.root.isUp(thread) || starting ? this.root.workers[thread] : undefined;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    // Held to the end, whatever throws on the way: what it awaits (a shard's restart under way,
    // workers ending) runs on unref'd workers, and a script whose last act is `await stop()` must
    // not exit with that pending (Node's exit code 13, a top-level await never settled).
    this.hold.ref();
    try {
      await this.stopEverything();
    } finally {
      this.finish();
    }
  }

  /** Lets the process exit, unless a reply is awaited or a stop() is under way (see `shutdown`). */
  private releaseHold(): void {
    if (this.runtime.awaiting === 0 && !this.closed) this.hold.unref();
  }

  /** The system's last step, stopped or failed to start: its loop ends, and nothing of it holds the process. */
  private finish(): void {
    this.finished = true;
    this.runtime.endpoint.interrupt();
    clearInterval(this.hold);
    this.inline?.release();
  }

  private async stopEverything(): Promise<void> {
    this.recycler?.stop();
    this.tasks.closeAll();
    this.actorStreams?.failAll(() => this.stoppedError('stream'));
    // Supervision trees first, each in order (children last started first), as an OTP application
    // stops; then main's actors (often the shards' clients: their terminate may still call them).
    for (const { ref } of [...this.supervisors].reverse()) {
      // Through the runtime (the system is closed to new calls by now), and on the data lane, not
      // the control lane SupervisorRef uses: what main sent the tree before stop() is handled first.
      const stopped = this.runtime.call(ref.pid, { type: 'stop' } satisfies SupervisorCall, Infinity).catch(noop);
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())]);
    }
    await this.runtime.stopActors();
    const stops = this.shardNumbers()
      .filter((thread) => this.root.isUp(thread) && !(this.endShardsAtOnce && this.taskRunning(thread) !== 0))
      .map((thread) => this.runtime.request<void>(thread, 'stop', (ref) => [Kind.STOP, [ref]], STOP_TIMEOUT_MS).catch(noop));
    await Promise.all(stops);
    await this.seen.stop();
    await this.member.stop();
    this.runtime.abandonWaits(() => this.stoppedError('call'));
    this.runtime.releaseDrainWaiters();
    this.side.close();
    await this.root.stop();
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  private shardNumbers(): number[] {
    return Array.from({ length: this.threads }, (_, index) => index + 1);
  }

  /** Drops a top-level supervisor from `supervisors` once it has exited for good (not with its thread). */
  private async forgetWhenGone(entry: (typeof this.supervisors)[number]): Promise<void> {
    const pid = entry.ref.pid;
    // Started as stop() runs: stop() stops it with the rest, and there is nothing left to forget.
    if (this.closed) return;
    const { reason } = await this.monitor(pid).down;
    if (isThreadDown(reason)) return; // restarted with the thread (see rootHost.threadUp)
    if (entry.ref.pid === pid) this.supervisors.splice(this.supervisors.indexOf(entry), 1);
  }

  /** What the root supervisor asks of the system. */
  private readonly rootHost: RootHost = {
    shardData: (thread, previousDown) => {
      const { spinMicros, batch, callTimeout, backpressure } = this.options;
      return { buffer: this.set.buffer, thread, node: this.node, creation: this.creation, spinMicros, batch, callTimeout, previousDown, fuses: this.fuseTable.buffer, backpressure, actorMetrics: this.options.metrics.actors, openTelemetry: this.options.openTelemetry, userData: this.userData };
    },
    forgetThread: async (thread, reason, final) => {
      // First what the dead thread sent before it died (a REGISTER among it), then its names.
      this.runtime.threadDown(thread, reason, final);
      this.member.threadDown(thread, reason);
      this.side.threadDown(thread, reason);
      this.names.threadDown(thread);
      const others = this.shardNumbers().filter((other) => other !== thread && this.root.isUp(other));
      // A shard being ended (an aborted task's) will not answer: counted silent now, not after the wait.
      const ending = others.filter((other) => this.root.isEnding(other));
      const answers = others.filter((other) => !this.root.isEnding(other)).map((other) =>
        this.runtime.request(other, 'thread down', (ref) => [Kind.THREAD_DOWN, [ref, thread, reason, final]], FORGET_TIMEOUT_MS).then(
          () => 0,
          () => other,
        ),
      );
      return [...ending, ...(await Promise.all(answers)).filter((other) => other !== 0)];
    },
    threadUp: (thread) => {
      this.recycler?.threadUp(thread);
      for (const entry of this.supervisors) {
        if (entry.ref.pid.thread !== thread || this.closed) continue;
        const old = entry.ref.pid;
        const placement = entry.options?.thread === 'local' ? 0 : entry.options?.thread;
        this.runtime
          .spawnOn(this.runtime.place(placement), SUPERVISOR_URL, entry.spec, entry.options?.timeout, entry.options?.name)
          .then((pid) => {
            entry.ref.rebind(pid);
            void this.forgetWhenGone(entry);
            this.emit('restart', { type: 'restart', supervisor: null, id: String(old), old, pid, reason: { threadDown: this.lastDown[thread] } });
          })
          .catch(() => {
            // It could not start again (a child failed): it stays down, as a supervisor past its intensity.
            this.supervisors.splice(this.supervisors.indexOf(entry), 1);
          });
      }
    },
    threadDownEvent: (cause) => {
      this.lastDown[cause.thread] = cause;
      this.emit('threadDown', cause);
    },
    threadUpEvent: (event) => this.emit('threadUp', event),
    workerMessage: (thread, message) => {
      if (this.side.answered(message)) return;
      for (const listener of this.workerListeners) listener(thread, message);
    },
    warmModules: () => this.tasks.modules(),
    fatal: (history) => {
      this.emit('fatal', { history });
      this.stop().catch(noop); // whoever awaits stop() sees its failure; this call only starts it
    },
  };

  private resolve(to: string | ActorRef | Pid): Pid {
    if (typeof to === 'string') {
      const pid = this.names.whereis(to);
      if (!pid) throw new NoProcError(`no actor is registered as ${JSON.stringify(to)}`);
      return pid;
    }
    if (to instanceof ActorRef) return to.pid;
    if (to instanceof Pid) return to;
    throw new InvalidArgumentError(`expected a name, an ActorRef or a Pid, got: ${describeValue(to)}`);
  }

  /** A pid, or the pid of a name or `{ name, node }` on this node (NoProcError if none holds the name). */
  private localPid(to: string | Pid | RemoteName | ActorRef): Pid {
    if (to instanceof ActorRef) return to.pid;
    if (typeof to === 'string') return this.resolve(to);
    return isName(to) ? this.resolve(to.name) : to;
  }

  private checkOpen(what: string): void {
    if (this.closed) throw this.stoppedError(what);
  }

  private stoppedError(what: string): SystemStoppedError {
    return new SystemStoppedError(`cannot ${what}: the system has been stopped`);
  }

  /**
   * Reads main's rings now, outside the receive loop's turn (a task's grace ending: see
   * TaskDispatcher.graceTimeUp), up to a bound; a frame handler's throw is reported as the loop
   * reports it.
   */
  private readNow(): void {
    if (this.finished) return;
    const { runtime } = this;
    try {
      for (let rounds = 0; rounds < 64 && runtime.endpoint.drain(runtime.onFrame, this.options.batch) !== 0; rounds++);
    } catch (error) {
      this.emit('error', { event: 'frame', error });
    }
  }

  /** Main's receive loop, its scheduler as a shard's loop is: runs until the system stops. */
  private async receive(): Promise<void> {
    const { runtime } = this;
    const { endpoint } = runtime;
    let drains = 0;
    while (!this.finished) {
      let handled: number;
      try {
        handled = endpoint.drain(runtime.onFrame, this.options.batch);
        endpoint.cork();
        try {
          handled += runtime.runLocal(this.options.batch);
        } finally {
          endpoint.uncork();
        }
      } catch (error) {
        // A frame handler threw (the frame counts as consumed): the loop is main's scheduler, and
        // it must outlive any one frame. Said, then the next turn, so a throw cannot spin it.
        this.emit('error', { event: 'frame', error });
        await yieldToEventLoop();
        continue;
      }
      if (handled === 0) {
        // Spin only while a reply is awaited from a thread, soon: with nothing expected, spinning
        // would only block main's event loop, and a long task's answer it would not catch.
        runtime.parked = true;
        // A reply from another node comes through NATS, which spinning would only delay; and with
        // every core taken by a shard, main's spin would take one from them (`coreFreeForMain`).
        const spin = runtime.awaitingRings - runtime.slowAwaited !== 0 && this.root.coreFreeForMain();
        await endpoint.wait(spin ? this.options.mainSpinMicros : 0);
        runtime.parked = false;
      } else if (++drains % DRAINS_PER_YIELD === 0) {
        await yieldToEventLoop();
      } else {
        // Let the continuations of the replies just resolved run: they often send the next calls,
        // which then go out in one publish per ring (and at most one wake-up) rather than each alone.
        endpoint.cork();
        await null;
        await null;
        endpoint.uncork();
      }
    }
  }
}

/** True for `{ name, node }`. */
function isName(to: unknown): to is RemoteName {
  return typeof to === 'object' && to !== null && !(to instanceof Pid) && typeof (to as RemoteName).name === 'string' && typeof (to as RemoteName).node === 'string';
}

/** True for `{ name, node }` naming an actor on another node than `self`. */
function isRemoteName(to: unknown, self: string): to is RemoteName {
  return isName(to) && to.node !== self;
}
