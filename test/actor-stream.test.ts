/**
 * An actor's call may answer with a stream (issue 17): `ref.stream(msg)` iterates what the actor's
 * `handleStream` yields, with credit (the generator waits for its consumer), on real threads: on a
 * shard, on main (thread 0), and in inline mode. The generator is pulled between the actor's
 * messages, never while a handler runs; `break` and `signal` end it (its finally runs there); the
 * actor's crash, its thread's death, and the system's stop reject the consumer's `next()`.
 * Bounds catch hangs; they do not measure speed.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { AbortError, ActorRef, ClusterError, ExitError, InvalidArgumentError, NoProcError, Pid, SystemStoppedError, start, type System, type TaskStream } from '../src/main/index.js';
import { fixtureUrl, sleep, until } from './helpers.js';

import type Streamer from './fixtures/actors/streamer.js';
import type Lister from './fixtures/actors/lister.js';

const STREAMER = fixtureUrl('actors/streamer');
const LISTER = fixtureUrl('actors/lister');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = [];
  for await (const value of stream) values.push(value);
  return values;
}

const PLACES = [
  { where: 'on a shard', threads: 1, thread: 1 },
  { where: 'on main (thread 0)', threads: 1, thread: 0 },
  { where: 'in inline mode', threads: 0, thread: 0 },
] as const;

describe.each(PLACES)('an actor stream $where', ({ threads, thread }) => {
  it('yields what the generator yields, in order, then ends', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    expect(await collect(streamer.stream({ type: 'count', to: 5000 }))).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(await collect(streamer.stream({ type: 'count', to: 3, delayMs: 5 }, { highWaterMark: 1 }))).toEqual([1, 2, 3]);
    expect(await streamer.call({ type: 'finallies' })).toEqual(['count', 'count']);
  });

  it('a sync generator, an array, and a result that is not iterable (NotIterableError, the actor lives on)', async () => {
    system = await start({ threads });
    const lister = await system.spawn<typeof Lister>(LISTER, { thread, args: ['a', 'b'] });
    expect(await collect(lister.stream({ type: 'generator' }))).toEqual(['a', 'b']);
    expect(await collect(lister.stream({ type: 'array' }))).toEqual(['A', 'B']);
    await expect(collect(lister.stream({ type: 'nothing' }))).rejects.toMatchObject({ code: 'WEFT_ERR_NOT_ITERABLE' });
    expect(await lister.call({ type: 'add', item: 'c' })).toBe(3);
  });

  it('break ends the generator in the actor: its finally runs there, and it makes no more', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    let seen = 0;
    for await (const value of streamer.stream({ type: 'forever' }, { highWaterMark: 16 })) {
      seen = value;
      if (value === 100) break;
    }
    expect(seen).toBe(100);
    expect(await streamer.call({ type: 'finallies' })).toEqual(['forever']);
    const made = await streamer.call({ type: 'made' });
    await sleep(100);
    expect(await streamer.call({ type: 'made' })).toBe(made);
  });

  it('credit holds the generator back: it makes at most about highWaterMark values ahead of the consumer', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    const stream = streamer.stream({ type: 'forever' }, { highWaterMark: 8 });
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    await sleep(200); // a generator without credit would have made millions by now
    const made = (await streamer.call({ type: 'made' })) as number;
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThanOrEqual(16);
    await stream.return();
    expect(await streamer.call({ type: 'finallies' })).toEqual(['forever']);
  });

  it('the actor answers calls while a stream is open, never while a generator step is under way', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    const values = collect(streamer.stream({ type: 'count', to: 40, delayMs: 5 }, { highWaterMark: 4 }));
    const answers: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(await streamer.call({ type: 'count' }));
      await sleep(3);
    }
    expect(await values).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await streamer.call({ type: 'overlaps' })).toBe(0);
  });

  it('a throw in the generator crashes the actor: next() rejects with ExitError carrying the error', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    const { down } = system.monitor(streamer);
    const seen: number[] = [];
    const failure = await (async () => {
      for await (const value of streamer.stream({ type: 'crashAt', at: 50 }, { highWaterMark: 8 })) seen.push(value);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExitError);
    expect((failure as ExitError).message).toContain('crashed at 50');
    expect(seen.length).toBeLessThan(50);
    expect(((await down).reason as Error).message).toBe('crashed at 50');
  });

  it('the actor killed while a stream waits: next() rejects with ExitError (killed); a stream to it after rejects as a call does', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    const stream = streamer.stream({ type: 'count', to: 10, delayMs: 60_000 });
    const waiting = stream.next();
    await sleep(100);
    system.exit(streamer, 'kill');
    await expect(waiting).rejects.toBeInstanceOf(ExitError);
    await expect(waiting).rejects.toMatchObject({ reason: 'killed' });
    const call = await streamer.call({ type: 'ping' }).catch((error: unknown) => error);
    const late = await streamer.stream({ type: 'count', to: 1 }).next().catch((error: unknown) => error);
    expect((late as Error).constructor).toBe((call as Error).constructor);
    expect(late).toMatchObject({ code: (call as ExitError).code });
  });

  it('signal: an abort rejects the waiting next() with AbortError and ends the generator there', async () => {
    system = await start({ threads });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread });
    const controller = new AbortController();
    const stream = streamer.stream({ type: 'forever' }, { signal: controller.signal, highWaterMark: 4 });
    expect((await stream.next()).value).toBe(1);
    controller.abort('enough');
    await expect(stream.next()).rejects.toMatchObject({ name: 'AbortError', cause: 'enough' });
    await until(async () => ((await streamer.call({ type: 'finallies' })) as string[]).includes('forever'), 10_000, 'the generator’s finally');
    await expect(collect(streamer.stream({ type: 'count', to: 1 }, { signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(AbortError);
  });

  it('system.stop() rejects a waiting next() with SystemStoppedError', async () => {
    const s = (system = await start({ threads }));
    const streamer = await s.spawn<typeof Streamer>(STREAMER, { thread });
    const waiting = streamer.stream({ type: 'count', to: 10, delayMs: 60_000 }).next();
    waiting.catch(() => undefined); // it rejects during stop(), before the expect below looks
    await sleep(100);
    await s.stop();
    system = undefined;
    await expect(waiting).rejects.toBeInstanceOf(SystemStoppedError);
    await expect(streamer.stream({ type: 'count', to: 1 }).next()).rejects.toBeInstanceOf(SystemStoppedError);
  });
});

describe('actor streams: what only threads have', () => {
  it('the actor’s thread dies mid-stream: next() rejects with ExitError ({ threadDown })', async () => {
    system = await start({ threads: 1 });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread: 1 });
    const seen: number[] = [];
    const failure = await (async () => {
      for await (const value of streamer.stream({ type: 'exitThreadAt', at: 20 }, { highWaterMark: 4 })) seen.push(value);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExitError);
    expect((failure as ExitError).reason).toMatchObject({ threadDown: expect.anything() });
    expect(seen.length).toBeLessThan(20);
  });

  it('a stream to an actor that never existed rejects as a call does (NoProcError)', async () => {
    system = await start({ threads: 1 });
    const ghost = new ActorRef<typeof Streamer>(new Pid(system.node, 1, 999_999), system);
    await expect(ghost.call({ type: 'ping' })).rejects.toBeInstanceOf(NoProcError);
    await expect(ghost.stream({ type: 'forever' }).next()).rejects.toBeInstanceOf(NoProcError);
  });

  it('an actor of another node: ClusterError (streams do not cross nodes)', async () => {
    system = await start({ threads: 1 });
    const afar = new ActorRef<typeof Streamer>(new Pid('elsewhere', 1, 1), system);
    await expect(afar.stream({ type: 'forever' }).next()).rejects.toBeInstanceOf(ClusterError);
  });

  it('an actor streams from another actor (ctx.ref(pid).stream) across threads', async () => {
    system = await start({ threads: 2 });
    const streamer = await system.spawn<typeof Streamer>(STREAMER, { thread: 1 });
    const consumer = await system.spawn<typeof import('./fixtures/actors/stream-reader.js').default>(fixtureUrl('actors/stream-reader'), { thread: 2 });
    expect(await consumer.call({ from: streamer.pid, to: 300 })).toBe((300 * 301) / 2);
  });

  it('a bad highWaterMark or signal is an error at the call', async () => {
    system = await start({ threads: 1 });
    const streamer = await system.spawn<typeof Streamer>(STREAMER);
    expect(() => streamer.stream({ type: 'forever' }, { highWaterMark: 0 })).toThrow(InvalidArgumentError);
    expect(() => streamer.stream({ type: 'forever' }, { signal: 'soon' as never })).toThrow(InvalidArgumentError);
  });
});

describe('types', () => {
  it('ref.stream checks the message against handleStream and types the values', () => {
    const ref = null as unknown as ActorRef<typeof Streamer>;
    const lister = null as unknown as ActorRef<typeof Lister>;
    expectTypeOf<ReturnType<ActorRef<typeof Streamer>['stream']>>().toEqualTypeOf<TaskStream<number>>();
    expectTypeOf<ReturnType<ActorRef<typeof Lister>['stream']>>().toEqualTypeOf<TaskStream<string>>();
    expectTypeOf<Parameters<ActorRef<typeof Streamer>['stream']>[0]>().toEqualTypeOf<{ type: 'count'; to: number; delayMs?: number } | { type: 'forever' } | { type: 'crashAt'; at: number } | { type: 'exitThreadAt'; at: number }>();
    if (ref === null) return; // the lines below are compiled, not run
    // @ts-expect-error: not a message handleStream takes
    ref.stream({ type: 'made' });
    // @ts-expect-error: a call's message is not a stream's
    lister.stream({ type: 'add', item: 'x' });
  });
});
