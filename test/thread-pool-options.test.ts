/**
 * ThreadPool's options are checked in the constructor, synchronously, with piscina's error classes
 * (TypeError for a wrong value, RangeError for minThreads > maxThreads); weft's carry `code` and
 * are weft errors. piscina's own option names are accepted, unknown ones refused, and `filename`
 * may come with each `run` instead. The class checks run against piscina too, as the reference.
 */
import { Piscina } from 'piscina';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { InvalidOptionRangeError, InvalidOptionTypeError, ThreadPool, WeftError, moduleUrl } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';

const MATH = fixtureUrl('tasks/math').href;

const BAD: Array<[string, Record<string, unknown>, ErrorConstructor]> = [
  ['maxThreads 0', { maxThreads: 0 }, TypeError],
  ['minThreads -1', { minThreads: -1 }, TypeError],
  ['idleTimeout "x"', { idleTimeout: 'x' }, TypeError],
  ['maxQueue -1', { maxQueue: -1 }, TypeError],
  ['concurrentTasksPerWorker 0', { concurrentTasksPerWorker: 0 }, TypeError],
  ['resourceLimits 5', { resourceLimits: 5 }, TypeError],
  ['minThreads > maxThreads', { minThreads: 4, maxThreads: 2 }, RangeError],
];

describe('ThreadPool options', () => {
  it.each(BAD)('%s: weft and piscina both throw at once, the same class', (_, bad, kind) => {
    expect(() => new Piscina({ filename: MATH, ...bad })).toThrow(kind);
    let thrown: unknown;
    try {
      new ThreadPool({ filename: MATH, ...bad });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(kind);
    expect(thrown).toBeInstanceOf(kind === TypeError ? InvalidOptionTypeError : InvalidOptionRangeError);
    expect(thrown).toBeInstanceOf(WeftError);
    expect((thrown as { code?: string }).code).toBe('WEFT_ERR_INVALID_ARGUMENT');
  });

  it('refuses an unknown option and names it; accepts every piscina option name', async () => {
    expect(() => new ThreadPool({ filename: MATH, maxThread: 2 } as never)).toThrow(/unknown ThreadPool option `maxThread`/);
    const pool = new ThreadPool({
      filename: MATH, maxThreads: 1, minThreads: 1, idleTimeout: 1000, workerData: { a: 1 }, env: {}, argv: [], execArgv: [],
      niceIncrement: 0, trackUnmanagedFds: true, recordTiming: true, atomics: 'sync', closeTimeout: 1000,
    });
    try {
      expect(await pool.run({ a: 1, b: 2 })).toBe(3);
    } finally {
      await pool.destroy();
    }
  });

  it('runs with no filename in the constructor when run() names one, and rejects (TypeError) when neither does', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    try {
      expect(await pool.run({ a: 2, b: 5 }, { filename: MATH })).toBe(7);
      await expect(pool.run({ a: 1, b: 1 })).rejects.toBeInstanceOf(TypeError);
    } finally {
      await pool.destroy();
    }
  });
});

describe('ThreadPool filename resolution (as piscina: require.resolve rules, relative to the caller)', () => {
  const mathPath = fileURLToPath(MATH);

  it('a path without extension, a path relative to the calling file, and a file URL all run', async () => {
    for (const filename of [mathPath.replace(/\.js$/, ''), '../dist/test/fixtures/tasks/math', './../dist/test/fixtures/tasks/math.js', MATH]) {
      const pool = new ThreadPool({ filename, maxThreads: 1 });
      try {
        expect(await pool.run({ a: 2, b: 3 })).toBe(5);
      } finally {
        await pool.destroy();
      }
    }
  });

  it('moduleUrl resolves against the file it is given, and keeps a URL as written', () => {
    const from = fileURLToPath(import.meta.url);
    expect(moduleUrl('../dist/test/fixtures/tasks/math', 'filename', from)).toBe(MATH);
    expect(moduleUrl(MATH, 'filename', from)).toBe(MATH);
    expect(moduleUrl('data:text/javascript,export default 1', 'filename', from)).toBe('data:text/javascript,export default 1');
    // Not found: kept as written (made absolute), so the import fails naming it.
    expect(moduleUrl('./nowhere.js', 'filename', from)).toBe(new URL('./nowhere.js', import.meta.url).href);
  });
});
