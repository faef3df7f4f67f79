/**
 * `system.map`: Elixir's `Task.async_stream`. Maps a function of a worker module over many items
 * on the shards and yields the results as an async iterable:
 *
 * ```ts
 * for await (const digest of system.map(files, new URL('./hash.js', import.meta.url), { exportName: 'sha256', maxConcurrency: 8 })) {
 *   console.log(digest);
 * }
 * ```
 *
 * At most `maxConcurrency` items are in flight at once, and the next item is taken from `items`
 * only when one is done and the consumer has asked for more: an iterable (or async iterable) of
 * millions of items streams through in memory bounded by `maxConcurrency`, at the consumer's pace.
 * `ordered` (the default) yields results in the items' order, holding back at most
 * `maxConcurrency` of them; otherwise each as it comes.
 *
 * Failures: a task that throws ends the iteration with its error (as a crashed task takes its
 * caller down in Elixir). A source (`items`) that throws stops the taking of items: the results
 * of the items taken before are still yielded, then the iteration ends with the source's error. An item over `timeout` ms either ends it with CallTimeoutError
 * (`onTimeout: 'throw'`, the default) or is left out (`'skip'`); its task is not stopped (a task
 * stops only by its thread ending: see ThreadPool's AbortSignal), its result is dropped, and it no
 * longer counts against `maxConcurrency`: items that never finish keep their threads busy.
 *
 * Aborting (`signal`) ends the whole map: the consumer's waiting (or next) `next()` rejects with
 * AbortError (`cause`: the signal's reason), no item is taken any more, and every item queued or
 * running is aborted as `system.run`'s task would be (its own `{ signal }` aborts in its thread;
 * `abortGrace` applies). The items share one listener on the signal (`latched`): an AbortSignal
 * warns past ten listeners, and a map has `maxConcurrency` items in flight.
 */
import { AbortError, CallTimeoutError, InvalidArgumentError, describeValue } from '../shm/errors.js';
import { abortable, latched, type Abortable, type TaskSignal } from './task-signal.js';

export interface MapOptions {
  /** The module's export to call with each item. @default 'default' */
  exportName?: string;
  /** Items in flight at once. @default 64 per shard */
  maxConcurrency?: number;
  /** Yield results in the items' order. @default true */
  ordered?: boolean;
  /** Milliseconds an item may take. @default Infinity */
  timeout?: number;
  /** What a timed-out item does: end the iteration with CallTimeoutError, or leave the item out. @default 'throw' */
  onTimeout?: 'throw' | 'skip';
  /**
   * Aborts the whole map: the iteration rejects with `AbortError`, and every item queued or
   * running is aborted (its task's own `{ signal }` aborts). An `AbortSignal` or an EventEmitter
   * signal, as `ThreadPool.run` takes; anything else is a TypeError at the call.
   * @example system.map(files, HASH_URL, { signal: AbortSignal.timeout(60_000) })
   */
  signal?: TaskSignal;
}

/** Runs one item (the dispatcher behind `system.run`), aborted through `signal` if the map has one. */
export type RunItem = (item: unknown, signal: Abortable | undefined) => Promise<unknown>;

/** `system.map`'s options, checked. */
export interface ResolvedMapOptions {
  exportName: string;
  maxConcurrency: number;
  ordered: boolean;
  timeout: number;
  onTimeout: 'throw' | 'skip';
  signal: Abortable | undefined;
}

/** What an item came to. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown } | { skipped: true };

/** Checks `system.map`'s options, with the shard count for the default concurrency. */
export function mapOptions(options: MapOptions | undefined, shards: number): ResolvedMapOptions {
  const { exportName = 'default', maxConcurrency = 64 * shards, ordered = true, timeout = Infinity, onTimeout = 'throw', signal } = options ?? {};
  if (typeof exportName !== 'string' || exportName === '') throw new InvalidArgumentError(`expected \`exportName\` to be a non-empty string, got: ${describeValue(exportName)}`);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new InvalidArgumentError(`expected \`maxConcurrency\` to be an integer >= 1, got: ${describeValue(maxConcurrency)}`);
  if (!(timeout === Infinity || (typeof timeout === 'number' && timeout > 0))) throw new InvalidArgumentError(`expected \`timeout\` to be ms > 0 or Infinity, got: ${describeValue(timeout)}`);
  if (onTimeout !== 'throw' && onTimeout !== 'skip') throw new InvalidArgumentError(`expected \`onTimeout\` to be 'throw' or 'skip', got: ${describeValue(onTimeout)}`);
  return { exportName, maxConcurrency, ordered: ordered !== false, timeout, onTimeout, signal: signal === undefined ? undefined : abortable(signal) };
}

/**
 * Checks `system.map`'s items at the call, so a value that is no iterable (`map(5, …)`) is an
 * InvalidArgumentError there, not a TypeError from inside the first `next()`.
 */
export function checkItems(items: unknown): asserts items is Iterable<unknown> | AsyncIterable<unknown> {
  const object = Object(items) as Partial<Iterable<unknown> & AsyncIterable<unknown>>;
  if (items === null || items === undefined || (typeof object[Symbol.iterator] !== 'function' && typeof object[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError(`expected \`items\` to be an iterable or an async iterable, got: ${describeValue(items)}`);
  }
}

/** One item's outcome, never rejecting (its timer cleared once it settles). */
function attempt(run: RunItem, item: unknown, signal: Abortable | undefined, timeout: number, onTimeout: 'throw' | 'skip'): Promise<Outcome> {
  const task = run(item, signal).then(
    (value): Outcome => ({ ok: true, value }),
    (error: unknown): Outcome => ({ ok: false, error }),
  );
  if (timeout === Infinity) return task;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout === 'skip' ? { skipped: true } : { ok: false, error: new CallTimeoutError(`a mapped item took more than ${timeout} ms`) }), timeout);
  });
  return Promise.race([task, expired]).finally(() => clearTimeout(timer));
}

export async function* mapItems(items: Iterable<unknown> | AsyncIterable<unknown>, run: RunItem, options: ResolvedMapOptions): AsyncGenerator<unknown, void, undefined> {
  const { maxConcurrency, ordered, timeout, onTimeout, signal } = options;
  /** Set once the map's signal aborts: every wait below ends, and the map rejects with it. */
  let aborted: AbortError | undefined;
  /** Resolves when the signal aborts: raced against a source's `next()`, which may never settle. */
  let abortedNow: (() => void) | undefined;
  const whenAborted = new Promise<void>((resolve) => (abortedNow = resolve));
  const abortError = (): AbortError => new AbortError('the map was aborted', { cause: signal!.reason });
  if (signal?.aborted === true) throw abortError();
  const source = Symbol.asyncIterator in Object(items) ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (items as Iterable<unknown>)[Symbol.iterator]();
  /** Outcomes not yet yielded, by item number (in order, for `ordered`). */
  const done = new Map<number, Outcome>();
  let running = 0;
  let nextId = 0;
  let nextToYield = 0;
  let exhausted = false;
  /** What the source threw, once it has (thrown after the items taken before it are yielded). */
  let sourceFailed: { error: unknown } | undefined;
  /** Wakes the generator when an item settles, if it is waiting for one. */
  let wake: (() => void) | undefined;
  const fan =
    signal === undefined
      ? undefined
      : latched(signal, () => {
          aborted = abortError();
          abortedNow!();
          wake?.();
        });

  const launch = (item: unknown): void => {
    const id = nextId++;
    running++;
    void attempt(run, item, fan, timeout, onTimeout).then((outcome) => {
      running--;
      done.set(id, outcome);
      wake?.();
    });
  };
  /** Takes items while fewer than `maxConcurrency` are running or waiting to be yielded. */
  const fill = async (): Promise<void> => {
    while (!exhausted && aborted === undefined && running + done.size < maxConcurrency) {
      let step: IteratorResult<unknown> | void;
      try {
        const next = source.next();
        step = fan === undefined ? await next : await Promise.race([next, whenAborted]);
      } catch (error) {
        exhausted = true; // a source that threw is done: it is not asked again, nor closed
        sourceFailed = { error };
        return;
      }
      if (step === undefined) return; // aborted while the source was asked
      if (step.done === true) exhausted = true;
      else launch(step.value);
    }
  };
  const ready = (): boolean => (ordered ? done.has(nextToYield) : done.size !== 0);

  try {
    await fill();
    while (running !== 0 || done.size !== 0) {
      while (!ready() && aborted === undefined) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      if (aborted !== undefined) throw aborted;
      const id = ordered ? nextToYield++ : done.keys().next().value!;
      const outcome = done.get(id)!;
      done.delete(id);
      await fill();
      if (aborted !== undefined) throw aborted;
      if ('skipped' in outcome) continue;
      if (!outcome.ok) throw outcome.error;
      yield outcome.value;
    }
    if (aborted !== undefined) throw aborted;
    if (sourceFailed !== undefined) throw sourceFailed.error;
  } finally {
    fan?.release();
    // The consumer stopped early (break, throw) or an item failed: stop taking items. Tasks in
    // flight finish on their own; their outcomes never reject, so nothing goes unhandled. An
    // aborted map does not wait for its source, whose `next()` may be what it was waiting on.
    if (!exhausted) {
      if (aborted === undefined) await source.return?.();
      else void Promise.resolve()
        .then(() => source.return?.())
        .catch(() => undefined);
    }
  }
}
