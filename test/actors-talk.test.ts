/**
 * Actors talking to actors through `ctx`: calls, spawns and casts behave the same within a thread
 * and across threads (order kept, messages copied, errors carried), and same-thread sends never
 * re-enter or recurse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorRef, start, type System } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Peer from './fixtures/actors/peer.js';
import type Counter from './fixtures/actors/counter.js';
import type Nursery from './fixtures/actors/nursery.js';

const PEER = fixtureUrl('actors/peer');
const COUNTER = fixtureUrl('actors/counter');
const NURSERY = fixtureUrl('actors/nursery');

/**
 * Every test runs on shards and inline (`threads: 0`), where "same thread" and "other thread" are
 * both main: the semantics (copies, order, errors, links) must not change. `on(n)`: where an actor
 * placed on shard n lands.
 */
describe.each([{ threads: 2 }, { threads: 0 }])('with threads: $threads', ({ threads }) => {
  const on = (shard: number): number => (threads === 0 ? 0 : shard);

  let system: System;
  let a: ActorRef<typeof Peer>;
  let sameThread: ActorRef<typeof Peer>;
  let otherThread: ActorRef<typeof Peer>;

  beforeAll(async () => {
    system = await start({ threads });
    a = await system.spawn<typeof Peer>(PEER, { thread: 1 });
    sameThread = await system.spawn<typeof Peer>(PEER, { thread: 1 });
    otherThread = await system.spawn<typeof Peer>(PEER, { thread: 2 });
  });
  afterAll(() => system.stop());

  describe('actor to actor', () => {
    for (const where of ['same thread', 'other thread'] as const) {
      it(`calls an actor on the ${where}, and gets its crash as ExitError`, async () => {
        const counter = await system.spawn<typeof Counter>(COUNTER, { args: 40, thread: where === 'same thread' ? 1 : 2 });
        expect(await a.call({ type: 'call', target: counter.pid, msg: { type: 'add', by: 2 } })).toEqual({ ok: 42 });
        const crashed = await a.call({ type: 'call', target: counter.pid, msg: { type: 'crash', message: 'down' } });
        expect(crashed.error).toBe('ExitError');
        expect((crashed.reason as Error).message).toBe('down');
        expect((await a.call({ type: 'call', target: counter.pid, msg: { type: 'get' } })).error).toBe('ExitError');
      });

      it(`keeps the order of 10,000 casts to an actor on the ${where}`, async () => {
        const target = where === 'same thread' ? sameThread : otherThread;
        const before = (await target.call({ type: 'received' })).ok as { count: number };
        expect(before.count).toBe(0);
        await a.call({ type: 'stream', target: target.pid, n: 10_000 });
        await expect
          .poll(async () => ((await target.call({ type: 'received' })).ok as { count: number; outOfOrder: number }), { timeout: 5000 })
          .toMatchObject({ count: 10_000, outOfOrder: 0 });
      });
    }

    it('copies a same-thread message as a cross-thread one would be: later changes by the sender are not seen', async () => {
      await a.call({ type: 'sendObject', target: sameThread.pid });
      await expect.poll(async () => ((await sameThread.call({ type: 'received' })).ok as { objects: unknown[] }).objects).toEqual([{ value: 1 }]);
    });

    it('refuses a same-thread message that could not cross threads, at the sender', async () => {
      for (const target of [sameThread, otherThread]) {
        expect(await a.call({ type: 'sendFunction', target: target.pid })).toEqual({ error: 'EncodeError', reason: 'msg.object.fn' });
      }
    });

    it('runs a chain of 100,000 casts an actor sends itself without growing the stack', async () => {
      expect(await a.call({ type: 'chain', n: 100_000 }, { timeout: 20_000 })).toEqual({ ok: 'chain done' });
    });

    it('a call to a pid that never existed, from an actor, is NoProcError', async () => {
      const ghost = { ...a.pid, serial: 987_654, thread: on(2), node: 'local' } as typeof a.pid;
      expect((await a.call({ type: 'call', target: ghost, msg: { type: 'get' } })).error).toBe('NoProcError');
    });

    for (const thread of ['local', 2] as const) {
      it(`spawns from an actor (${thread === 'local' ? 'on its own shard' : 'on shard 2'}), and the new actor answers main`, async () => {
        const reply = await a.call({ type: 'spawn', url: COUNTER.href, args: 9, thread });
        const pid = reply.ok as typeof a.pid;
        expect(pid.thread).toBe(on(thread === 'local' ? 1 : 2));
        const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 }); // the system still works
        expect(await counter.call({ type: 'get' })).toBe(0);
        const spawned = new ActorRef<typeof Counter>(pid, system);
        expect(await spawned.call({ type: 'get' })).toBe(9);
      });
    }
  });

  describe('monitors', () => {
    it('main: down resolves with the exit reason, noproc for an actor already gone, nothing after demonitor', async () => {
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const crashing = await system.spawn<typeof Counter>(COUNTER, { args: 0 });
      const watched = system.monitor(counter);
      const dropped = system.monitor(crashing);
      const crash = system.monitor(crashing);
      dropped.demonitor();
      counter.cast({ type: 'stop' });
      await crashing.call({ type: 'crash', message: 'watched crash' }).catch(() => undefined);
      expect(await watched.down).toEqual({ pid: counter.pid, reason: 'normal' });
      const { reason } = await crash.down;
      expect(reason).toBeInstanceOf(Error);
      expect((reason as Error).message).toBe('watched crash');
      expect((await system.monitor(counter).down).reason).toBe('normal'); // remembered reason
      const ghost = { ...counter.pid, serial: 876_543 } as typeof counter.pid;
      expect((await system.monitor(ghost).down).reason).toBe('noproc');
      const late = await Promise.race([dropped.down, new Promise((resolve) => setTimeout(() => resolve('nothing'), 100))]);
      expect(late).toBe('nothing');
    });

    for (const where of ['same thread', 'other thread'] as const) {
      it(`ctx.monitor on the ${where}: handleInfo gets a DOWN with the reason`, async () => {
        const target = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: where === 'same thread' ? 1 : 2 });
        const watcher = await system.spawn<typeof Peer>(PEER, { thread: 1 });
        const ref = (await watcher.call({ type: 'monitor', target: target.pid })).ok as number;
        const droppedRef = (await watcher.call({ type: 'monitor', target: target.pid })).ok as number;
        await watcher.call({ type: 'demonitor', ref: droppedRef });
        await target.call({ type: 'crash', message: `${where} crash` }).catch(() => undefined);
        await expect.poll(async () => ((await watcher.call({ type: 'downs' })).ok as unknown[]).length).toBe(1);
        const [down] = (await watcher.call({ type: 'downs' })).ok as Array<{ type: string; ref: number; pid: unknown; reason: Error }>;
        expect(down.type).toBe('DOWN');
        expect(down.ref).toBe(ref);
        expect(down.pid).toEqual(target.pid);
        expect(down.reason.message).toBe(`${where} crash`);
      });
    }
  });

  describe('links and exit signals', () => {
    for (const where of ['same thread', 'other thread'] as const) {
      const thread = where === 'same thread' ? 1 : 2;

      it(`a crash kills the linked actor on the ${where} with the same reason`, async () => {
        const linker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
        const target = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread });
        await linker.call({ type: 'link', target: target.pid });
        const linkerDown = system.monitor(linker).down;
        await target.call({ type: 'crash', message: `linked ${where}` }).catch(() => undefined);
        const { reason } = await linkerDown;
        expect((reason as Error).message).toBe(`linked ${where}`);
      });

      it(`a trapping actor gets the exit of a linked actor on the ${where} as a message, and lives`, async () => {
        const linker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
        const target = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread });
        await linker.call({ type: 'trap', on: true });
        await linker.call({ type: 'link', target: target.pid });
        await target.call({ type: 'crash', message: 'trapped' }).catch(() => undefined);
        await expect.poll(async () => ((await linker.call({ type: 'downs' })).ok as unknown[]).length).toBe(1);
        const [signal] = (await linker.call({ type: 'downs' })).ok as Array<{ type: string; from: unknown; reason: Error }>;
        expect(signal.type).toBe('EXIT');
        expect(signal.from).toEqual(target.pid);
        expect(signal.reason.message).toBe('trapped');
      });
    }

    it("a 'normal' exit does not kill a linked actor, and an unlinked crash does not either", async () => {
      const linker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const calm = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
      const loose = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
      await linker.call({ type: 'link', target: calm.pid });
      await linker.call({ type: 'link', target: loose.pid });
      await linker.call({ type: 'unlink', target: loose.pid });
      calm.cast({ type: 'stop' });
      await system.monitor(calm).down;
      await loose.call({ type: 'crash', message: 'not linked any more' }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await linker.call({ type: 'downs' })).ok).toEqual([]);
    });

    it("ctx.exit with 'kill' ends even a trapping actor, as 'killed', without terminate", async () => {
      const killer = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const victim = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      await victim.call({ type: 'trap', on: true });
      const down = system.monitor(victim).down;
      await killer.call({ type: 'exitOther', target: victim.pid, reason: 'kill' });
      expect((await down).reason).toBe('killed');
    });

    it('a trapping actor gets a ctx.exit signal as a message; a non-trapping one exits with its reason', async () => {
      const sender = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const trapper = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      const plain = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      await trapper.call({ type: 'trap', on: true });
      const plainDown = system.monitor(plain).down;
      await sender.call({ type: 'exitOther', target: trapper.pid, reason: 'please' });
      await sender.call({ type: 'exitOther', target: plain.pid, reason: 'please' });
      expect((await plainDown).reason).toBe('please');
      await expect.poll(async () => (await trapper.call({ type: 'downs' })).ok).toEqual([{ type: 'EXIT', from: sender.pid, reason: 'please' }]);
    });

    it('spawn with link: the child crashing kills the parent', async () => {
      const parent = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const child = (await parent.call({ type: 'spawnLinked', url: COUNTER.href, args: 0, thread: 2 })).ok as typeof parent.pid;
      const parentDown = system.monitor(parent).down;
      await new ActorRef<typeof Counter>(child, system).call({ type: 'crash', message: 'child crash' }).catch(() => undefined);
      expect(((await parentDown).reason as Error).message).toBe('child crash');
    });

    it('linking to an actor already gone delivers its reason (noproc if never seen)', async () => {
      const linker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      await linker.call({ type: 'trap', on: true });
      const ghost = { ...linker.pid, serial: 765_432, thread: on(2) } as typeof linker.pid;
      await linker.call({ type: 'link', target: ghost });
      await expect.poll(async () => (await linker.call({ type: 'downs' })).ok).toEqual([{ type: 'EXIT', from: ghost, reason: 'noproc' }]);
    });
  });

  describe('timers', () => {
    it('sendAfter delivers to handleInfo after the delay; a cancelled one never does', async () => {
      const actor = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const started = performance.now();
      await actor.call({ type: 'sendAfter', ms: 40, msg: { tick: 1 } });
      expect(await actor.call({ type: 'sendAfter', ms: 10, msg: { tick: 'cancelled' }, cancel: true })).toEqual({ ok: true });
      await expect.poll(async () => (await actor.call({ type: 'downs' })).ok, { timeout: 2000 }).toEqual([{ tick: 1 }]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(35);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await actor.call({ type: 'downs' })).ok).toEqual([{ tick: 1 }]);
    });

    it('timers die with their actor', async () => {
      const actor = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const target = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      // 1 s: the kill lands long before it even on a loaded machine; then wait past when it would have fired.
      await actor.call({ type: 'sendAfter', ms: 1000, msg: { late: true }, to: target.pid });
      await actor.call({ type: 'exitOther', target: actor.pid, reason: 'kill' }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await target.call({ type: 'downs' })).ok).toEqual([]);
    });
  });

  describe('an actor during its init', () => {
    for (const thread of [1, 2]) {
      it(`exists for its child on ${thread === 1 ? 'the same' : 'another'} thread: a send waits in its mailbox, a link holds`, async () => {
        const deadLetters = async () => (await system.stats()).threads.reduce((n, t) => n + t.deadLetters, 0);
        const before = await deadLetters();
        const parent = await system.spawn<typeof Nursery>(NURSERY, { args: { role: 'parent', thread }, thread: 1 });
        const got = (await parent.call({ type: 'got' })) as string[];
        expect(got).toHaveLength(1);
        expect(got[0]).toMatch(/^hello from </);
        expect(await deadLetters()).toBe(before);
      });
    }
  });

  describe('names from actors', () => {
    it('spawns a named actor from an actor, on another shard; a taken name rejects and leaves no actor', async () => {
      const parent = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      const reply = await parent.call({ type: 'spawn', url: COUNTER.href, args: 4, thread: 2, name: 'child-name' });
      const pid = reply.ok as typeof parent.pid;
      expect(pid.thread).toBe(on(2));
      expect(system.whereis('child-name')?.pid).toEqual(pid);
      expect(await system.whereis<typeof Counter>('child-name')!.call({ type: 'get' })).toBe(4);
      const before = (await system.stats()).threads[on(1)].actors;
      expect(await parent.call({ type: 'spawn', url: COUNTER.href, args: 5, name: 'child-name' })).toEqual({ error: 'AlreadyRegisteredError' });
      await expect.poll(async () => (await system.stats()).threads[on(1)].actors).toBe(before);
    });

    it('an actor registers a name seen by main and by actors on every thread, freed when it exits', async () => {
      const named = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      const asker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      expect(await named.call({ type: 'register', name: 'from-actor' })).toEqual({ ok: 'registered' });
      expect(system.whereis('from-actor')?.pid).toEqual(named.pid);
      expect(await asker.call({ type: 'whereis', name: 'from-actor' })).toEqual({ ok: named.pid });
      expect(await asker.call({ type: 'register', name: 'from-actor' })).toEqual({ error: 'AlreadyRegisteredError' });
      await asker.call({ type: 'exitOther', target: named.pid, reason: 'kill' });
      await expect.poll(() => system.whereis('from-actor')).toBeUndefined();
      expect(await asker.call({ type: 'whereis', name: 'from-actor' })).toEqual({ ok: null });
    });
  });
});
