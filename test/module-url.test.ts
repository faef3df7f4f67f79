/**
 * A module given as a relative path is read against the file that made the call, as an `import`
 * written there would be, for every API that takes one; a value that is no module, no iterable or
 * no name is an InvalidArgumentError; `system.call` and `cast` take a local name.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NoProcError, ThreadPool, child, start, type System } from '../src/main/index.js';
import { moduleUrl } from '../src/common/module-url.js';
import type Peer from './fixtures/actors/peer.js';

/** The compiled fixtures, as a path relative to this file (test/): what a user writes beside their code. */
const COUNTER = '../dist/test/fixtures/actors/counter.js';
const MATH = '../dist/test/fixtures/tasks/math.js';

let system: System;
beforeAll(async () => {
  system = await start({ threads: 2 });
});
afterAll(async () => {
  await system.stop();
});

describe('moduleUrl', () => {
  it('reads a relative path against the calling file, and takes URLs and absolute paths as they are', () => {
    expect(moduleUrl('./x.js')).toBe(new URL('./x.js', import.meta.url).href);
    expect(moduleUrl('../y/x.js')).toBe(new URL('../y/x.js', import.meta.url).href);
    expect(moduleUrl('/abs/x.js')).toBe(pathToFileURL('/abs/x.js').href);
    // a path, not a URL: `#` and `%` are characters of the file name
    expect(moduleUrl('./a#b%41.js')).toBe(pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'a#b%41.js')).href);
    expect(moduleUrl('data:text/javascript,export default 1')).toBe('data:text/javascript,export default 1');
    expect(moduleUrl(new URL('file:///a/b.js'))).toBe('file:///a/b.js');
  });

  it('refuses what is no module with InvalidArgumentError naming the value', () => {
    for (const bad of [42, '', null, undefined, {}]) {
      expect(() => moduleUrl(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => moduleUrl(42, 'module')).toThrow(/expected `module` to be a URL, a file URL string or a file path, got: `42`/);
  });
});

describe('relative modules resolve against the caller', () => {
  it('spawn', async () => {
    const counter = await system.spawn(COUNTER, { args: 3 });
    expect(await counter.call({ type: 'get' })).toBe(3);
  });

  it('ctx.spawn, against the actor module that calls it', async () => {
    const peer = await system.spawn<typeof Peer>(new URL(COUNTER.replace('counter', 'peer'), import.meta.url));
    // peer.js and counter.js share a folder: './counter.js' is read against peer.js, not weft's runtime
    expect(await peer.call({ type: 'spawn', url: './counter.js', args: 1 })).toMatchObject({ ok: expect.anything() });
  });

  it('child specs and pools', async () => {
    const sup = await system.supervise({ children: [child('c', COUNTER, { args: 5, name: 'relative-child' })] });
    expect(await system.call('relative-child', { type: 'get' })).toBe(5);
    await sup.stop();
    const pool = await system.pool({ actor: COUNTER, args: 1, size: 1, maxOverflow: 0 });
    expect(await pool.transaction((worker) => worker.call({ type: 'get' }))).toBe(1);
  });

  it('run, map, threadPool and ThreadPool', async () => {
    expect(await system.run(MATH, 'mul', 6, 7)).toBe(42);
    const mapped: unknown[] = [];
    for await (const value of system.map([{ a: 1, b: 2 }], MATH)) mapped.push(value);
    expect(mapped).toEqual([3]);
    expect(await system.threadPool({ filename: MATH }).run({ a: 2, b: 2 })).toBe(4);
    const own = new ThreadPool({ filename: MATH, maxThreads: 1 });
    const bare = system.threadPool({});
    try {
      expect(await own.run({ a: 1, b: 1 })).toBe(2);
      expect(await bare.run({ a: 3, b: 4 }, { filename: MATH })).toBe(7);
    } finally {
      await own.destroy();
    }
  });
});

describe('bad arguments are InvalidArgumentError', () => {
  it('spawn(42) and run(42) reject, map(5) throws at the call', async () => {
    await expect(system.spawn(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(system.spawn(42 as never)).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ARGUMENT' });
    await expect(system.run(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => system.map(5 as never, MATH)).toThrow(InvalidArgumentError);
    expect(() => system.map(null as never, MATH)).toThrow(/expected `items` to be an iterable or an async iterable, got: `null`/);
  });
});

describe('call and cast by a local name', () => {
  it('call(name, msg) reaches the named actor; an unknown name rejects with NoProcError', async () => {
    const counter = await system.spawn(COUNTER, { args: 10, name: 'by-name' });
    expect(await system.call('by-name', { type: 'add', by: 1 })).toBe(11);
    expect(system.cast('by-name', { type: 'reset' })).toBe(true);
    expect(await counter.call({ type: 'get' })).toBe(0);
    const call = system.call('nobody-here', { type: 'get' }); // rejects, never throws
    await expect(call).rejects.toBeInstanceOf(NoProcError);
    await expect(call).rejects.toThrow(/no actor is registered as "nobody-here"/);
    expect(() => system.cast('nobody-here', { type: 'reset' })).toThrow(NoProcError);
  });

  it('a call by { name, node } checks its timeout before it goes anywhere', async () => {
    for (const bad of [-1, Number.NaN, '5' as unknown as number]) {
      await expect(system.call({ name: 'x', node: 'elsewhere' }, { type: 'get' }, bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
