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
 */
import { CallTimeoutError, InvalidArgumentError, describeValue } from '../shm/errors.js';

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
}

/** Runs one item; the dispatcher behind `system.run`. */
export type RunItem = (item: unknown) => Promise<unknown>;

/** What an item came to. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown } | { skipped: true };

/** Checks `system.map`'s options, with the shard count for the default concurrency. */
export function mapOptions(options: MapOptions | undefined, shards: number): Required<Omit<MapOptions, 'exportName'>> & { exportName: string } {
  const { exportName = 'default', maxConcurrency = 64 * shards, ordered = true, timeout = Infinity, onTimeout = 'throw' } = options ?? {};
  if (typeof exportName !== 'string' || exportName === '') throw new InvalidArgumentError(`expected \`exportName\` to be a non-empty string, got: ${describeValue(exportName)}`);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new InvalidArgumentError(`expected \`maxConcurrency\` to be an integer >= 1, got: ${describeValue(maxConcurrency)}`);
  if (!(timeout === Infinity || (typeof timeout === 'number' && timeout > 0))) throw new InvalidArgumentError(`expected \`timeout\` to be ms > 0 or Infinity, got: ${describeValue(timeout)}`);
  if (onTimeout !== 'throw' && onTimeout !== 'skip') throw new InvalidArgumentError(`expected \`onTimeout\` to be 'throw' or 'skip', got: ${describeValue(onTimeout)}`);
  return { exportName, maxConcurrency, ordered: ordered !== false, timeout, onTimeout };
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
function attempt(run: RunItem, item: unknown, timeout: number, onTimeout: 'throw' | 'skip'): Promise<Outcome> {
  const task = run(item).then(
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

export async function* mapItems(items: Iterable<unknown> | AsyncIterable<unknown>, run: RunItem, options: ReturnType<typeof mapOptions>): AsyncGenerator<unknown, void, undefined> {
  const { maxConcurrency, ordered, timeout, onTimeout } = options;
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

  const launch = (item: unknown): void => {
    const id = nextId++;
    running++;
    void attempt(run, item, timeout, onTimeout).then((outcome) => {
      running--;
      done.set(id, outcome);
      wake?.();
    });
  };
  /** Takes items while fewer than `maxConcurrency` are running or waiting to be yielded. */
  const fill = async (): Promise<void> => {
    while (!exhausted && running + done.size < maxConcurrency) {
      let step: IteratorResult<unknown>;
      try {
        step = await source.next();
      } catch (error) {
        exhausted = true; // a source that threw is done: it is not asked again, nor closed
        sourceFailed = { error };
        return;
      }
      if (step.done === true) exhausted = true;
      else launch(step.value);
    }
  };
  const ready = (): boolean => (ordered ? done.has(nextToYield) : done.size !== 0);

  try {
    await fill();
    while (running !== 0 || done.size !== 0) {
      while (!ready()) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const id = ordered ? nextToYield++ : done.keys().next().value!;
      const outcome = done.get(id)!;
      done.delete(id);
      await fill();
      if ('skipped' in outcome) continue;
      if (!outcome.ok) throw outcome.error;
      yield outcome.value;
    }
    if (sourceFailed !== undefined) throw sourceFailed.error;
  } finally {
    // The consumer stopped early (break, throw) or an item failed: stop taking items. Tasks in
    // flight finish on their own; their outcomes never reject, so nothing goes unhandled.
    if (!exhausted) await source.return?.();
  }
}
