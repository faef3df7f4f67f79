/**
 * `start()`'s options: every field optional and documented, one defaults constant, one validator
 * whose messages echo the bad value.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { InvalidArgumentError, describeValue } from '../shm/errors.js';
import { DEFAULT_RING_CAPACITY } from '../shm/ring-set.js';
import { isValidCapacity } from '../shm/ring.js';
import type { Backpressure } from '../common/runtime.js';
import { resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './cluster/node-options.js';

export interface StartOptions {
  /**
   * Worker threads (shards) to run actors on; main is thread 0 besides them. `0` is inline mode:
   * every actor and task runs on main, with the same semantics (messages copied, order, links,
   * supervisors), so a debugger steps through all of it (src/main/inline.ts).
   * @default os.availableParallelism()
   * @example start({ threads: 2 })
   * @example start({ threads: 0 })   // inline: one thread, for the debugger
   */
  threads?: number;
  /**
   * Data bytes of each ring between two threads, a power of two. More room means fewer overflows
   * under bursts, at `threads × (threads + 1)` rings of this size.
   * @default 65536
   */
  ringCapacity?: number;
  /**
   * How long an idle shard spins re-checking its rings before it parks (µs): the most, since a
   * thread whose last three spins found nothing parks at once until a wait shows a spin would
   * have paid. See ring-spin in the benchmarks for what it buys and costs.
   * @default 50
   */
  spinMicros?: number;
  /**
   * How long main spins while it waits for a reply before it parks (µs); with no reply awaited it
   * parks at once. Spinning keeps a busy caller's round trip in single-digit microseconds (a park
   * and wake costs tens of them here) and blocks main's event loop for at most this long per wait.
   * @default 200
   */
  mainSpinMicros?: number;
  /**
   * Frames a shard handles before it yields to its event loop, so timers and I/O inside actors run.
   * @default 1024
   */
  batch?: number;
  /**
   * The default timeout of `call`, in ms (`Infinity` for none).
   * @default 5000
   */
  callTimeout?: number;
  /**
   * A shard that is not idle and whose scheduler has not turned for this long (ms) is hung (a
   * handler in an endless loop: JavaScript cannot be interrupted) and is terminated and restarted.
   * `Infinity` turns the watchdog off.
   * @default 2000
   */
  hangTimeout?: number;
  /** Limits of each shard's heap and stack (Node's `Worker` `resourceLimits`); a shard past them is restarted. */
  resourceLimits?: ResourceLimits;
  /**
   * Node flags for every shard (Node's `Worker` `execArgv`; given, it replaces the flags a shard
   * would inherit from main). The way to load actor and task modules written in TypeScript on a
   * Node without type stripping: a loader such as tsx, preloaded in each shard.
   * @default main's own flags (`process.execArgv`), inherited
   * @example start({ execArgv: ['--import', 'tsx'] })
   */
  execArgv?: string[];
  /**
   * How often shards may be restarted: more than `maxRestarts` within `maxSeconds` and the system
   * emits 'fatal' and stops, rather than restart forever.
   * @default { maxRestarts: 5, maxSeconds: 10 }
   */
  threadRestarts?: { maxRestarts?: number; maxSeconds?: number };
  /**
   * Fuses the shared fuse table holds (`system.fuse`); the table is allocated at start.
   * @default 64
   */
  fuses?: number;
  /**
   * Backpressure (see `Backpressure` in src/common/runtime.ts): encoded bytes one thread may hold
   * back for one destination thread when that thread does not keep up. Past `highWater` a cast
   * returns false (await `ref.drained()`); at `maxPending` casts, sends and calls are refused with
   * `MailboxFullError`, or with `whenFull: 'drop'` casts and sends become dead letters.
   * @default { maxPending: 64 MiB, highWater: 1 MiB, whenFull: 'throw' }
   * @example start({ backpressure: { maxPending: 8 * 2 ** 20, whenFull: 'drop' } })
   */
  backpressure?: { maxPending?: number; highWater?: number; whenFull?: 'throw' | 'drop' };
  /**
   * Makes this system a node of a cluster, reached by others through a NATS server (see
   * src/main/cluster). Without it nothing about NATS is loaded.
   * @example start({ node: { name: 'a', nats: { servers: 'nats://127.0.0.1:4222' } } })
   */
  node?: NodeOptions;
  /**
   * Per-actor figures in `system.stats()` (`window.actors`: message rate and time in handlers). Off,
   * actors run unwrapped and pay nothing (src/common/actor-meter.ts).
   * @default { actors: false }
   * @example start({ metrics: { actors: true } })
   */
  metrics?: { actors?: boolean };
  /**
   * Opens a local endpoint `npx weft top` attaches to (src/main/inspect-server.ts): a TCP port on
   * 127.0.0.1 only (`port: 0` picks a free one: see `system.inspectAddress`), or a Unix socket.
   * Off by default: nothing listens.
   * @example start({ inspect: { port: 9229 } })
   * @example start({ inspect: { path: '/tmp/weft.sock' } })
   */
  inspect?: { port: number } | { path: string };
  /**
   * Reports the windowed figures through `@opentelemetry/api` (an optional peer dependency: when
   * it is not installed this does nothing) and carries the active span's context with calls and
   * tasks to the thread that handles them (src/main/telemetry.ts).
   * @default false
   */
  openTelemetry?: boolean;
  /**
   * How long (ms) an aborted task that has started may take to answer before its thread is ended
   * (`system.run`, `system.threadPool`; a `ThreadPool` of its own takes its own). The task's
   * `{ signal }` aborts at once; a task that honours it answers, and its thread lives on. 0 ends
   * the thread of a started task at once unless it answers in the same instant.
   * @default 1000
   * @example start({ abortGrace: 200 })
   */
  abortGrace?: number;
  /**
   * Recycles a shard once it has answered this many tasks: it takes no new task, finishes what it
   * holds, and the standby thread takes its index (src/main/recycler.ts). Shards where actors of
   * yours live are not recycled. `Infinity`: never.
   * @default Infinity
   * @example start({ maxTasksPerThread: 10_000 })
   */
  maxTasksPerThread?: number;
  /**
   * Recycles a shard (as `maxTasksPerThread` does) once its used heap reaches this many MiB
   * (sampled every 200 ms). `Infinity`: never.
   * @default Infinity
   */
  maxHeapMB?: number;
  /**
   * Recycles a shard (as `maxTasksPerThread` does) once it has run this long (ms). `Infinity`: never.
   * @default Infinity
   */
  maxAgeMs?: number;
}

export interface ResolvedStartOptions {
  threads: number;
  ringCapacity: number;
  spinMicros: number;
  mainSpinMicros: number;
  batch: number;
  callTimeout: number;
  hangTimeout: number;
  resourceLimits: ResourceLimits | undefined;
  execArgv: string[] | undefined;
  threadRestarts: { maxRestarts: number; maxSeconds: number };
  fuses: number;
  backpressure: Backpressure;
  node: ResolvedNodeOptions | undefined;
  metrics: { actors: boolean };
  inspect: { port: number } | { path: string } | undefined;
  openTelemetry: boolean;
  abortGrace: number;
  maxTasksPerThread: number;
  maxHeapMB: number;
  maxAgeMs: number;
}

export const DEFAULT_START_OPTIONS: Omit<ResolvedStartOptions, 'threads'> = {
  ringCapacity: DEFAULT_RING_CAPACITY,
  spinMicros: 50,
  mainSpinMicros: 200,
  batch: 1024,
  callTimeout: 5000,
  hangTimeout: 2000,
  resourceLimits: undefined,
  execArgv: undefined,
  threadRestarts: { maxRestarts: 5, maxSeconds: 10 },
  fuses: 64,
  backpressure: { maxPending: 64 * 2 ** 20, highWater: 2 ** 20, whenFull: 'throw' },
  node: undefined,
  metrics: { actors: false },
  inspect: undefined,
  openTelemetry: false,
  abortGrace: 1000,
  maxTasksPerThread: Infinity,
  maxHeapMB: Infinity,
  maxAgeMs: Infinity,
};

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`expected \`${name}\` to be an integer from ${min} to ${max}, got: ${describeValue(value)}`);
  }
  return value;
}

function numberIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new InvalidArgumentError(`expected \`${name}\` to be a number from ${min} to ${max}, got: ${describeValue(value)}`);
  }
  return value;
}

export function resolveStartOptions(options: StartOptions = {}): ResolvedStartOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`expected the options of start() to be an object, got: ${describeValue(options)}`);
  }
  const known = new Set(['threads', ...Object.keys(DEFAULT_START_OPTIONS)]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new InvalidArgumentError(`unknown option \`${key}\` for start(); accepted: ${[...known].join(', ')}, got: ${describeValue((options as Record<string, unknown>)[key])}`);
  }
  const o = { ...DEFAULT_START_OPTIONS, threads: availableParallelism(), ...stripUndefined(options) };
  const ringCapacity = o.ringCapacity;
  if (!isValidCapacity(ringCapacity)) {
    throw new InvalidArgumentError(`expected \`ringCapacity\` to be a power of two from 256 to 268435456, got: ${describeValue(ringCapacity)}`);
  }
  return {
    threads: integerIn('threads', o.threads, 0, 1023),
    ringCapacity,
    spinMicros: numberIn('spinMicros', o.spinMicros, 0, 1_000_000),
    mainSpinMicros: numberIn('mainSpinMicros', o.mainSpinMicros, 0, 1_000_000),
    batch: integerIn('batch', o.batch, 1, 1_000_000),
    callTimeout: o.callTimeout === Infinity ? Infinity : numberIn('callTimeout', o.callTimeout, 1, 2 ** 31 - 1),
    hangTimeout: o.hangTimeout === Infinity ? Infinity : numberIn('hangTimeout', o.hangTimeout, 10, 2 ** 31 - 1),
    resourceLimits: resourceLimits(o.resourceLimits),
    execArgv: execArgv(o.execArgv),
    threadRestarts: threadRestarts(o.threadRestarts),
    fuses: integerIn('fuses', o.fuses, 0, 65_536),
    backpressure: backpressure(o.backpressure),
    node: o.node === undefined ? undefined : resolveNodeOptions(o.node),
    metrics: metrics(o.metrics),
    inspect: inspect(o.inspect),
    openTelemetry: booleanOption('openTelemetry', o.openTelemetry),
    abortGrace: numberIn('abortGrace', o.abortGrace, 0, 2 ** 31 - 1),
    ...recycleLimits(o),
  };
}

/**
 * The recycling limits (`maxTasksPerThread`, `maxHeapMB`, `maxAgeMs`), each a positive number or
 * `Infinity` (off); shared by `start()` and `ThreadPool`, with the error class each wants.
 */
export function recycleLimits(
  given: { maxTasksPerThread?: unknown; maxHeapMB?: unknown; maxAgeMs?: unknown },
  fail: (message: string) => Error = (message) => new InvalidArgumentError(message),
): { maxTasksPerThread: number; maxHeapMB: number; maxAgeMs: number } {
  const limit = (name: string, value: unknown, integer: boolean, min: number): number => {
    if (value === undefined || value === Infinity) return Infinity;
    if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > 2 ** 31 - 1 || (integer && !Number.isInteger(value))) {
      throw fail(`expected \`${name}\` to be ${integer ? 'an integer' : 'a number'} from ${min} to 2147483647, or Infinity (never), got: ${describeValue(value)}`);
    }
    return value;
  };
  return {
    maxTasksPerThread: limit('maxTasksPerThread', given.maxTasksPerThread, true, 1),
    maxHeapMB: limit('maxHeapMB', given.maxHeapMB, false, 1),
    maxAgeMs: limit('maxAgeMs', given.maxAgeMs, false, 1),
  };
}

function execArgv(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((flag) => typeof flag === 'string')) {
    throw new InvalidArgumentError(`expected \`execArgv\` to be an array of strings (Node flags, as ['--import', 'tsx']), got: ${describeValue(value)}`);
  }
  return [...value];
}

function resourceLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`expected \`resourceLimits\` to be Node's Worker resourceLimits object, got: ${describeValue(value)}`);
  const known = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
  for (const [key, limit] of Object.entries(value)) {
    if (!known.includes(key)) throw new InvalidArgumentError(`unknown field \`resourceLimits.${key}\`; accepted: ${known.join(', ')}`);
    numberIn(`resourceLimits.${key}`, limit, 0, 1 << 20);
  }
  return value as ResourceLimits;
}

function threadRestarts(value: unknown): { maxRestarts: number; maxSeconds: number } {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`expected \`threadRestarts\` to be { maxRestarts, maxSeconds }, got: ${describeValue(value)}`);
  const { maxRestarts = 5, maxSeconds = 10 } = value as { maxRestarts?: unknown; maxSeconds?: unknown };
  return { maxRestarts: integerIn('threadRestarts.maxRestarts', maxRestarts, 0, 1_000_000), maxSeconds: numberIn('threadRestarts.maxSeconds', maxSeconds, 0.001, 1_000_000) };
}

function backpressure(value: unknown): Backpressure {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`expected \`backpressure\` to be { maxPending?, highWater?, whenFull? }, got: ${describeValue(value)}`);
  const known = ['maxPending', 'highWater', 'whenFull'];
  for (const key of Object.keys(value)) if (!known.includes(key)) throw new InvalidArgumentError(`unknown field \`backpressure.${key}\`; accepted: ${known.join(', ')}`);
  const defaults = DEFAULT_START_OPTIONS.backpressure;
  const given = value as { maxPending?: unknown; highWater?: unknown; whenFull?: unknown };
  const maxPending = integerIn('backpressure.maxPending', given.maxPending ?? defaults.maxPending, 1, 2 ** 40);
  const highWater = integerIn('backpressure.highWater', given.highWater ?? Math.min(defaults.highWater, maxPending), 1, maxPending);
  const whenFull = given.whenFull ?? defaults.whenFull;
  if (whenFull !== 'throw' && whenFull !== 'drop') throw new InvalidArgumentError(`expected \`backpressure.whenFull\` to be 'throw' or 'drop', got: ${describeValue(whenFull)}`);
  return { maxPending, highWater, whenFull };
}

function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`expected \`${name}\` to be true or false, got: ${describeValue(value)}`);
  return value;
}

function metrics(value: unknown): { actors: boolean } {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`expected \`metrics\` to be { actors? }, got: ${describeValue(value)}`);
  for (const key of Object.keys(value)) if (key !== 'actors') throw new InvalidArgumentError(`unknown field \`metrics.${key}\`; accepted: actors`);
  return { actors: booleanOption('metrics.actors', (value as { actors?: unknown }).actors ?? false) };
}

function inspect(value: unknown): { port: number } | { path: string } | undefined {
  if (value === undefined) return undefined;
  const shape = 'expected `inspect` to be { port } (a TCP port on 127.0.0.1, 0 for any free one) or { path } (a Unix socket)';
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`${shape}, got: ${describeValue(value)}`);
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'port') return { port: integerIn('inspect.port', (value as { port: unknown }).port, 0, 65_535) };
  if (keys.length === 1 && keys[0] === 'path') {
    const path = (value as { path: unknown }).path;
    if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`expected \`inspect.path\` to be a non-empty string, got: ${describeValue(path)}`);
    return { path };
  }
  throw new InvalidArgumentError(`${shape}, got: ${describeValue(value)}`);
}

function stripUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
