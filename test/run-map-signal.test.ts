/**
 * `system.runWith(module, name, args, { signal })` and `system.map(items, module, { signal })`
 * (issue 17): aborting rejects with AbortError, and the tasks themselves see their own `{ signal }`
 * abort in their thread. The tasks here (`recordAbort`) never end on their own: each writes a file
 * when its signal aborts, which is how main sees that the abort reached the thread.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AbortError, InvalidArgumentError, InvalidOptionTypeError, start, type System } from '../src/main/index.js';
import { fixtureUrl, sleep, until } from './helpers.js';

const CANCEL = fixtureUrl('tasks/cancel');
const dir = mkdtempSync(join(tmpdir(), 'weft-run-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

let files = 0;
const freshFile = (): string => join(dir, `task-${files++}`);

/** Restarts per shard so far. */
async function restarts(s: System): Promise<number[]> {
  return (await s.stats()).window.threads.filter((t) => t.thread !== 0).map((t) => t.restartsTotal);
}

describe('system.runWith(…, { signal })', () => {
  it('runs as system.run does without a signal', async () => {
    system = await start({ threads: 1 });
    expect(await system.runWith(CANCEL, 'argumentsSeen', [1, 2], {})).toEqual({ count: 3, lastHasSignal: true });
    expect(await system.runWith(CANCEL, 'argumentsSeen', [])).toEqual({ count: 1, lastHasSignal: true });
  });

  it('an abort rejects at once with AbortError, and the running task sees its own signal abort in its thread (its thread kept)', async () => {
    system = await start({ threads: 1, abortGrace: 300 });
    await system.runWith(CANCEL, 'where', []); // the runner is up and the module loaded: the task below starts at once
    const file = freshFile();
    const controller = new AbortController();
    const task = system.runWith(CANCEL, 'recordAbort', [file], { signal: controller.signal });
    await sleep(100);
    controller.abort('enough');
    await expect(task).rejects.toBeInstanceOf(AbortError);
    await expect(task).rejects.toMatchObject({ code: 'WEFT_ERR_ABORTED', cause: 'enough' });
    await until(() => existsSync(file), 10_000, 'the task to see its signal abort');
    expect(readFileSync(file, 'utf8')).toBe('AbortError');
    await sleep(500); // past the grace: the task answered, so its thread was not ended
    expect(await restarts(system)).toEqual([0]);
  });

  it('takes an EventEmitter signal, as ThreadPool.run does', async () => {
    system = await start({ threads: 1 });
    await system.runWith(CANCEL, 'where', []);
    const file = freshFile();
    const emitter = new EventEmitter();
    const task = system.runWith(CANCEL, 'recordAbort', [file], { signal: emitter });
    await sleep(100);
    emitter.emit('abort');
    await expect(task).rejects.toBeInstanceOf(AbortError);
    await until(() => existsSync(file), 10_000, 'the task to see its signal abort');
  });

  it('a signal already aborted rejects and sends nothing', async () => {
    system = await start({ threads: 1 });
    const file = freshFile();
    await expect(system.runWith(CANCEL, 'recordAbort', [file], { signal: AbortSignal.abort('no') })).rejects.toMatchObject({ code: 'WEFT_ERR_ABORTED', cause: 'no' });
    await sleep(300);
    expect(existsSync(file)).toBe(false);
  });

  it('an unusable signal or args that are not an array reject before anything is sent', async () => {
    system = await start({ threads: 1 });
    await expect(system.runWith(CANCEL, 'where', [], { signal: { aborted: false } as never })).rejects.toBeInstanceOf(InvalidOptionTypeError);
    await expect(system.runWith(CANCEL, 'where', [], { signal: { aborted: false } as never })).rejects.toBeInstanceOf(TypeError);
    await expect(system.runWith(CANCEL, 'where', 5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('system.map(…, { signal })', () => {
  it('an abort rejects the whole map with AbortError and aborts every item in flight in its thread', async () => {
    system = await start({ threads: 2, abortGrace: 300 });
    await system.broadcast(CANCEL, 'where'); // both runners up, the module loaded: the items start at once
    const paths = Array.from({ length: 6 }, freshFile);
    const controller = new AbortController();
    const results = system.map(paths, CANCEL, { exportName: 'recordAbort', maxConcurrency: 6, signal: controller.signal });
    const first = results.next(); // waits: no item ends on its own
    await sleep(200);
    controller.abort('stop the map');
    await expect(first).rejects.toBeInstanceOf(AbortError);
    await expect(first).rejects.toMatchObject({ cause: 'stop the map' });
    await until(() => paths.every((path) => existsSync(path)), 10_000, 'every item to see its signal abort');
    for (const path of paths) expect(readFileSync(path, 'utf8')).toBe('AbortError');
    expect(await results.next()).toEqual({ done: true, value: undefined });
    await sleep(500);
    expect(await restarts(system)).toEqual([0, 0]);
  });

  it('items not yet taken are never run; a source that is waited on does not hold the rejection', async () => {
    system = await start({ threads: 1 });
    await system.runWith(CANCEL, 'where', []);
    const taken: string[] = [];
    const controller = new AbortController();
    async function* source(): AsyncGenerator<string> {
      const path = freshFile();
      taken.push(path);
      yield path;
      await new Promise(() => undefined); // the next item never comes
    }
    const results = system.map(source(), CANCEL, { exportName: 'recordAbort', maxConcurrency: 4, signal: controller.signal });
    const first = results.next();
    await sleep(200);
    controller.abort();
    await expect(first).rejects.toBeInstanceOf(AbortError);
    expect(taken).toHaveLength(1);
    await until(() => existsSync(taken[0]), 10_000, 'the one item taken to see its signal abort');
  });

  it('a signal already aborted rejects the first next(); an unusable one is a TypeError at the call', async () => {
    system = await start({ threads: 1 });
    const path = freshFile();
    const results = system.map([path], CANCEL, { exportName: 'recordAbort', signal: AbortSignal.abort() });
    await expect(results.next()).rejects.toBeInstanceOf(AbortError);
    expect(() => system!.map([path], CANCEL, { exportName: 'recordAbort', signal: 'soon' as never })).toThrow(InvalidOptionTypeError);
    await sleep(300);
    expect(existsSync(path)).toBe(false);
  });

  it('a map whose items all end before the abort yields them all; a later abort changes nothing', async () => {
    system = await start({ threads: 1 });
    const controller = new AbortController();
    const seen: unknown[] = [];
    for await (const value of system.map([1, 2, 3], CANCEL, { exportName: 'argumentsSeen', signal: controller.signal })) seen.push(value);
    controller.abort();
    expect(seen).toEqual([1, 2, 3].map(() => ({ count: 2, lastHasSignal: true })));
  });
});
