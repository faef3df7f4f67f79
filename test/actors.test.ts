/**
 * Actors on real shards: spawn, call, cast, send, ordering, crashes, timeouts, names, placement,
 * every bad input, and stop. Actor modules are compiled fixtures under dist/test/fixtures/actors.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  AlreadyRegisteredError,
  CallTimeoutError,
  EncodeError,
  ExitError,
  InvalidArgumentError,
  NoProcError,
  SpawnError,
  SystemStoppedError,
  start,
  type ActorRef,
  type System,
} from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Counter from './fixtures/actors/counter.js';
import type Recorder from './fixtures/actors/recorder.js';

const COUNTER = fixtureUrl('actors/counter');
const RECORDER = fixtureUrl('actors/recorder');

const tempFile = (): string => join(mkdtempSync(join(tmpdir(), 'weft-')), 'log');

/** Every test runs on shards and inline (`threads: 0`: every actor on main), with the same semantics. */
describe.each([{ threads: 2 }, { threads: 0 }])('with threads: $threads', ({ threads }) => {
  let system: System;
  beforeAll(async () => {
    system = await start({ threads });
  });
  afterAll(async () => {
    await system.stop();
  });

  describe('spawn, call, cast, send', () => {
    it('runs the README counter', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 5 });
      expect(await counter.call({ type: 'add', by: 2 })).toBe(7);
      counter.cast({ type: 'reset' });
      expect(await counter.call({ type: 'get' })).toBe(0);
      expect(String(counter)).toMatch(threads === 0 ? /^<local\.0\.\d+>$/ : /^<local\.[12]\.\d+>$/);
    });

    it('handles one message at a time, in arrival order, also when handlers are async', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const replies = await Promise.all([
        counter.call({ type: 'slowAdd', by: 1, ms: 30 }),
        counter.call({ type: 'add', by: 10 }),
        counter.call({ type: 'slowAdd', by: 100, ms: 5 }),
        counter.call({ type: 'get' }),
      ]);
      expect(replies).toEqual([1, 11, 111, 111]);
    });

    it('keeps order from one sender: 10,000 casts then a call see them all', async () => {
      const recorder = await system.spawn<typeof Recorder>(RECORDER, { args: tempFile() });
      for (let i = 0; i < 10_000; i++) recorder.cast(i);
      const seen = (await recorder.call({ type: 'seen' })) as Array<{ cast: number }>;
      expect(seen.map((entry) => entry.cast)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    });

    it('delivers send() to handleInfo, by ref and by name', async () => {
      const recorder = await system.spawn<typeof Recorder>(RECORDER, { args: tempFile(), name: 'recorder-info' });
      recorder.send({ hello: 1 });
      system.send('recorder-info', { hello: 2 });
      expect(await recorder.call({ type: 'seen' })).toEqual([{ info: { hello: 1 } }, { info: { hello: 2 } }]);
    });

    it('answers a call left open with noreply when the actor exits', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const open = counter.call({ type: 'later' });
      counter.cast({ type: 'stop' });
      const error = await open.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ExitError);
      expect((error as ExitError).reason).toBe('normal');
    });

    it('places actors: explicit thread, key hash (stable), round-robin over both shards (inline: every one on main)', async () => {
      const shards = threads === 0 ? [0] : [1, 2];
      const on2 = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
      expect(on2.pid.thread).toBe(threads === 0 ? 0 : 2);
      const a = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: { key: 'user-42' } });
      const b = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: { key: 'user-42' } });
      expect(a.pid.thread).toBe(b.pid.thread);
      const seen = new Set<number>();
      for (let i = 0; i < 4; i++) seen.add((await system.spawn<typeof Counter>(COUNTER, { args: 0 })).pid.thread);
      expect([...seen].sort()).toEqual(shards);
      const least = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 'least-loaded' });
      expect(shards).toContain(least.pid.thread);
    });
  });

  describe('names', () => {
    it('finds an actor by name, refuses a duplicate, and frees the name when the actor exits', async () => {
      const first = await system.spawn<typeof Counter>(COUNTER, { args: 1, name: 'unique' });
      expect(system.whereis('unique')?.pid).toEqual(first.pid);
      await expect(system.spawn<typeof Counter>(COUNTER, { args: 1, name: 'unique' })).rejects.toBeInstanceOf(AlreadyRegisteredError);
      first.cast({ type: 'stop' });
      await expect.poll(() => system.whereis('unique'), { timeout: 2000 }).toBeUndefined();
      const second = await system.spawn<typeof Counter>(COUNTER, { args: 2, name: 'unique' });
      expect(await second.call({ type: 'get' })).toBe(2);
    });

    it('a cast or send to an actor that has exited is dropped but emitted as a deadLetter', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      counter.cast({ type: 'stop' });
      await expect(counter.call({ type: 'get' })).rejects.toBeInstanceOf(ExitError);
      const letters: unknown[] = [];
      const listener = (letter: unknown) => letters.push(letter);
      system.on('deadLetter', listener);
      try {
        counter.cast({ type: 'reset' });
        counter.send('hello?' as never);
        await expect.poll(() => letters.length).toBe(2);
        expect(letters).toEqual([
          { to: counter.pid, kind: 'cast', message: { type: 'reset' }, reason: 'noproc' },
          { to: counter.pid, kind: 'send', message: 'hello?', reason: 'noproc' },
        ]);
      } finally {
        system.off('deadLetter', listener);
      }
    });

    it('send to a name nobody holds is a NoProcError', () => {
      expect(() => system.send('nobody', 1)).toThrow(NoProcError);
    });
  });

  describe('failures reach the caller', () => {
    it('a handler that throws kills its actor: the caller and every queued call get ExitError with the error', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const slow = counter.call({ type: 'slowAdd', by: 1, ms: 20 });
      const crash = counter.call({ type: 'crash', message: 'boom' });
      const queued = counter.call({ type: 'get' });
      expect(await slow).toBe(1);
      const [crashError, queuedError] = await Promise.all([crash.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
      for (const error of [crashError, queuedError]) {
        expect(error).toBeInstanceOf(ExitError);
        expect((error as ExitError).code).toBe('WEFT_ERR_EXIT');
        expect((error as ExitError).reason).toBeInstanceOf(Error);
        expect(((error as ExitError).reason as Error).message).toBe('boom');
        expect(((error as ExitError).reason as Error).stack).toContain('counter');
      }
      // Later calls learn why it died; other actors on the thread never noticed.
      await expect(counter.call({ type: 'get' })).rejects.toBeInstanceOf(ExitError);
      const neighbour = await system.spawn<typeof Counter>(COUNTER, { args: 3, thread: counter.pid.thread });
      expect(await neighbour.call({ type: 'get' })).toBe(3);
    });

    it('a call that gets no reply in time rejects with CallTimeoutError', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const started = performance.now();
      await expect(counter.call({ type: 'slowAdd', by: 1, ms: 3000 }, { timeout: 50 })).rejects.toBeInstanceOf(CallTimeoutError);
      expect(performance.now() - started).toBeLessThan(2500);
      expect(await counter.call({ type: 'get' }, { timeout: 30_000 })).toBe(1); // the slow call still ran
    });

    it('a reply that cannot travel reaches the caller as EncodeError', async () => {
      const recorder = await system.spawn<typeof Recorder>(RECORDER, { args: tempFile() });
      const error = await recorder.call({ type: 'badReply' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as EncodeError).path).toBe('msg.fn');
    });

    it('a message that cannot be encoded is an EncodeError at the sender, naming the path', async () => {
      const recorder = await system.spawn<typeof Recorder>(RECORDER, { args: tempFile() });
      const error = await recorder.call({ type: 'echo', value: { items: [1, { handler: () => 1 }] } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as EncodeError).path).toBe('msg.value.items[1].handler');
      expect((error as EncodeError).message).toContain('`msg.value.items[1].handler`');
      expect(() => recorder.cast(Symbol('x'))).toThrow(EncodeError);
      expect(await recorder.call({ type: 'echo', value: 'still fine' })).toBe('still fine');
    });

    it('a call to a pid that never existed is a NoProcError', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const ghost = Object.create(Object.getPrototypeOf(counter), {
        pid: { value: { ...counter.pid, serial: 999_999, node: 'local', thread: counter.pid.thread } },
        router: { value: system },
      }) as ActorRef<typeof Counter>;
      await expect(ghost.call({ type: 'get' })).rejects.toBeInstanceOf(NoProcError);
    });
  });

  describe('bad input', () => {
    it('a module that does not exist is a SpawnError naming it', async () => {
      const missing = fixtureUrl('actors/missing');
      const error = await system.spawn(missing).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as Error).message).toContain('actors/missing.js');
    });

    it('a module without a defineActor default is a SpawnError naming it', async () => {
      const error = await system.spawn(fixtureUrl('actors/not-an-actor')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as Error).message).toMatch(/not-an-actor\.js does not export a defineActor/);
    });

    it('init that throws or rejects: spawn rejects with the error as cause, and the name stays free', async () => {
      for (const [mode, type, text] of [['sync', RangeError, 'bad start'], ['async', TypeError, 'bad async start']] as const) {
        const error = await system.spawn(fixtureUrl('actors/init-throws'), { args: mode, name: 'doomed' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SpawnError);
        expect((error as SpawnError).cause).toBeInstanceOf(type);
        expect(((error as SpawnError).cause as Error).message).toBe(text);
        expect(system.whereis('doomed')).toBeUndefined();
      }
    });

    it('spawn args that cannot travel are an EncodeError naming their path, and nothing is left awaited', async () => {
      const error = await system.spawn(RECORDER, { args: { file: 'x', onDone: () => 1 } as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as EncodeError).path).toBe('msg.onDone');
      expect((await system.stats()).awaitedReplies).toBe(0);
    });

    it('a thread out of range, or a bad placement, is an InvalidArgumentError (inline: any shard number is main)', async () => {
      if (threads === 0) expect((await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 3 })).pid.thread).toBe(0);
      else await expect(system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 3 })).rejects.toThrow(/expected `thread` to be 0 \(main\) or a shard from 1 to 2, got: `3`/);
      await expect(system.spawn<typeof Counter>(COUNTER, { args: 0, thread: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 'nearest' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('bad start options are InvalidArgumentErrors echoing the value', async () => {
      await expect(start({ threads: -1 })).rejects.toThrow(/expected `threads` to be an integer from 0 to 1023, got: `-1` \(number\)/);
      await expect(start({ ringCapacity: 1000 })).rejects.toThrow(/`ringCapacity`.*got: `1000`/);
      await expect(start({ thread: 2 } as never)).rejects.toThrow(/unknown option `thread`/);
    });
  });

  describe('stats', () => {
    it.runIf(threads !== 0)('reports actors, mailbox depth and traffic per thread', async () => {
      const own = await start({ threads: 2 });
      try {
        const counters = await Promise.all([1, 1, 2].map((thread) => own.spawn<typeof Counter>(COUNTER, { args: 0, thread })));
        // Long enough that the two calls still wait when stats() is read, however loaded the machine.
        const slow = counters[0].call({ type: 'slowAdd', by: 1, ms: 5000 }, { timeout: 60_000 });
        const queued = [counters[0].call({ type: 'get' }, { timeout: 60_000 }), counters[0].call({ type: 'get' }, { timeout: 60_000 })];
        await expect.poll(async () => (await own.stats()).threads[1].mailboxDepth, { timeout: 20_000 }).toBe(2);
        const { threads, awaitedReplies } = await own.stats();
        expect(threads.map((t) => t.thread)).toEqual([0, 1, 2]);
        expect(threads.map((t) => t.actors)).toEqual([0, 2, 1]);
        expect(threads[1].mailboxDepth).toBe(2); // two calls wait behind the slow one
        expect(awaitedReplies).toBe(3);
        expect(threads[1].messagesIn).toBeGreaterThanOrEqual(5); // 2 spawns, 3 calls, the stats request
        expect(threads[0].messagesOut).toBeGreaterThanOrEqual(threads[1].messagesIn);
        await Promise.all([slow, ...queued]);
      } finally {
        await own.stop();
      }
    });

    it.runIf(threads === 0)('inline: one thread, main, holds every actor and its mailbox', async () => {
      const own = await start({ threads: 0 });
      try {
        const counters = await Promise.all([1, 1, 2].map((thread) => own.spawn<typeof Counter>(COUNTER, { args: 0, thread })));
        // Long enough that the two calls still wait when stats() is read, however loaded the machine.
        const slow = counters[0].call({ type: 'slowAdd', by: 1, ms: 5000 }, { timeout: 60_000 });
        const queued = [counters[0].call({ type: 'get' }, { timeout: 60_000 }), counters[0].call({ type: 'get' }, { timeout: 60_000 })];
        await expect.poll(async () => (await own.stats()).threads[0].mailboxDepth, { timeout: 20_000 }).toBe(2);
        const { threads: seen, awaitedReplies } = await own.stats();
        expect(seen.map((t) => t.thread)).toEqual([0]);
        expect(seen[0].actors).toBe(3);
        expect(seen[0].mailboxDepth).toBe(2); // two calls wait behind the slow one
        expect(awaitedReplies).toBe(3);
        await Promise.all([slow, ...queued]);
      } finally {
        await own.stop();
      }
    });
  });

  describe('stop', () => {
    it('runs terminate with shutdown, then refuses everything with SystemStoppedError', async () => {
      const own = await start({ threads: threads === 0 ? 0 : 1 });
      const file = tempFile();
      const recorder = await own.spawn<typeof Recorder>(RECORDER, { args: file });
      const open = recorder.call({ type: 'echo', value: 1 }).catch((e: unknown) => e);
      await own.stop();
      expect(await open).toBe(1); // a call sent before stop is answered before the shard stops
      expect(readFileSync(file, 'utf8')).toBe('init\nterminate shutdown\n');
      await expect(recorder.call({ type: 'seen' })).rejects.toBeInstanceOf(SystemStoppedError);
      expect(() => recorder.cast('late')).toThrow(SystemStoppedError);
      await expect(own.spawn<typeof Recorder>(RECORDER, { args: file })).rejects.toBeInstanceOf(SystemStoppedError);
      await own.stop(); // twice is fine
    });

    it.runIf(threads !== 0)('leaves no handle open: a script that stops its system (actors on main included) exits by itself', async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [fixtureUrl('exit-after-stop').pathname], { timeout: 20_000 });
      expect(stdout.trim()).toBe('done 2 11');
    });
  });

  describe('types', () => {
    it('checks messages and replies at compile time', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 1 });
      // A reply given later through noreply is typed when the handler names it.
      const sink = await system.spawn<typeof import('../bench/actors/stream-sink.js').default>(fixtureUrl('../../bench/actors/stream-sink'));
      expectTypeOf(sink.call).returns.toEqualTypeOf<Promise<{ count: number; outOfOrder: number }>>();
      const got = counter.call({ type: 'get' });
      expectTypeOf(got).toEqualTypeOf<Promise<number>>();
      expect(await got).toBe(1);
      // The lines below are wrong on purpose: the build fails if any of them type-checks. At run time
      // they are sent anyway, and every outcome is awaited so none is left pending.
      const wrong: Array<Promise<unknown>> = [];
      // @ts-expect-error: not a message the counter's handleCall takes
      wrong.push(counter.call({ type: 'multiply', by: 2 }));
      // @ts-expect-error: `by` must be a number
      wrong.push(counter.call({ type: 'add', by: '2' }));
      // @ts-expect-error: a call message is not a cast message
      counter.cast({ type: 'get' });
      // @ts-expect-error: the counter's init needs a number
      wrong.push(system.spawn<typeof Counter>(COUNTER, { args: 'five' }));
      // @ts-expect-error: args are required when init takes one
      wrong.push(system.spawn<typeof Counter>(COUNTER));
      await Promise.allSettled(wrong);
    });
  });
});
