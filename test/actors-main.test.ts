/**
 * Actors hosted on main (thread 0): they run the same runtime as a shard's, so everything an actor
 * on a shard can do, one on main can too, with main ↔ shard traffic going through the rings.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorRef, ExitError, start, type System } from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Peer from './fixtures/actors/peer.js';
import type Counter from './fixtures/actors/counter.js';
import type Recorder from './fixtures/actors/recorder.js';

const PEER = fixtureUrl('actors/peer');
const COUNTER = fixtureUrl('actors/counter');
const RECORDER = fixtureUrl('actors/recorder');

let system: System;
beforeAll(async () => {
  system = await start({ threads: 2 });
});
afterAll(() => system.stop());

describe('an actor on main', () => {
  it('answers calls, takes casts and sends (by name too), and crashes alone', async () => {
    const counter = await system.spawn<typeof Counter>(COUNTER, { args: 1, thread: 0, name: 'main-counter' });
    expect(counter.pid.thread).toBe(0);
    expect(await counter.call({ type: 'add', by: 2 })).toBe(3);
    counter.cast({ type: 'reset' });
    expect(await counter.call({ type: 'get' })).toBe(0);
    expect(system.whereis('main-counter')?.pid).toEqual(counter.pid);

    const recorder = await system.spawn<typeof Recorder>(RECORDER, { args: join(mkdtempSync(join(tmpdir(), 'weft-')), 'log'), thread: 0, name: 'main-recorder' });
    system.send('main-recorder', { hello: 'main' });
    expect(await recorder.call({ type: 'seen' })).toEqual([{ info: { hello: 'main' } }]);

    const crash = await counter.call({ type: 'crash', message: 'main crash' }).catch((error: unknown) => error);
    expect(crash).toBeInstanceOf(ExitError);
    expect(((crash as ExitError).reason as Error).message).toBe('main crash');
    await expect.poll(() => system.whereis('main-counter')).toBeUndefined();
    expect(await recorder.call({ type: 'echo', value: 'still here' })).toBe('still here');
  });

  it('an async handler on main does not block main: other main actors and replies go on', async () => {
    const slow = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 0 });
    const quick = await system.spawn<typeof Counter>(COUNTER, { args: 5, thread: 0 });
    const slowReply = slow.call({ type: 'slowAdd', by: 1, ms: 200 });
    expect(await quick.call({ type: 'get' })).toBe(5);
    expect(await slowReply).toBe(1);
  });

  for (const [from, to] of [[0, 1], [1, 0], [0, 0]] as const) {
    it(`keeps the order of 10,000 casts from thread ${from} to thread ${to}, and calls across`, async () => {
      const sender = await system.spawn<typeof Peer>(PEER, { thread: from });
      const receiver = await system.spawn<typeof Peer>(PEER, { thread: to });
      const counter = await system.spawn<typeof Counter>(COUNTER, { args: 40, thread: to });
      expect(await sender.call({ type: 'call', target: counter.pid, msg: { type: 'add', by: 2 } })).toEqual({ ok: 42 });
      await sender.call({ type: 'stream', target: receiver.pid, n: 10_000 });
      await expect
        .poll(async () => (await receiver.call({ type: 'received' })).ok as { count: number; outOfOrder: number }, { timeout: 5000 })
        .toMatchObject({ count: 10_000, outOfOrder: 0 });
    });
  }

  it('links and monitors between main and a shard fire both ways', async () => {
    const onMain = await system.spawn<typeof Peer>(PEER, { thread: 0 });
    const onShard = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
    await onMain.call({ type: 'link', target: onShard.pid });
    const mainDown = system.monitor(onMain).down;
    await onShard.call({ type: 'crash', message: 'shard side' }).catch(() => undefined);
    const { reason } = await mainDown;
    expect((reason as Error).message).toBe('shard side');

    const watcher = await system.spawn<typeof Peer>(PEER, { thread: 1 });
    const watched = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 0 });
    await watcher.call({ type: 'monitor', target: watched.pid });
    watched.cast({ type: 'stop' });
    await expect.poll(async () => (await watcher.call({ type: 'downs' })).ok as Array<{ reason: unknown }>).toMatchObject([{ type: 'DOWN', pid: watched.pid, reason: 'normal' }]);
  });

  it('an actor on a shard spawns on main, and by each placement policy', async () => {
    const peer = await system.spawn<typeof Peer>(PEER, { thread: 1 });
    const onMain = (await peer.call({ type: 'spawn', url: COUNTER.href, args: 7, thread: 0 })).ok as ActorRef['pid'];
    expect(onMain.thread).toBe(0);
    expect(await new ActorRef<typeof Counter>(onMain, system).call({ type: 'get' })).toBe(7);

    const keyed = await Promise.all([0, 1].map(async () => ((await peer.call({ type: 'spawn', url: COUNTER.href, args: 0, thread: { key: 'tenant-7' } })).ok as ActorRef['pid']).thread));
    const fromMain = (await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: { key: 'tenant-7' } })).pid.thread;
    expect(keyed).toEqual([fromMain, fromMain]); // the same key lands on the same shard from any thread

    const turns = new Set<number>();
    for (let i = 0; i < 4; i++) turns.add(((await peer.call({ type: 'spawn', url: COUNTER.href, args: 0, thread: 'round-robin' })).ok as ActorRef['pid']).thread);
    expect([...turns].sort()).toEqual([1, 2]);
  });

  it('least-loaded reads every shard’s live-actor count, from main and from shards alike', async () => {
    const { threads } = await system.stats();
    const [, one, two] = threads;
    const lighter = one.actors <= two.actors ? 1 : 2;
    const heavier = 3 - lighter;
    // Load the lighter shard until it is the heavier by two; least-loaded must then pick the other.
    const extra: ActorRef<typeof Counter>[] = [];
    for (let i = 0; i < Math.abs(one.actors - two.actors) + 2; i++) extra.push(await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: lighter }));
    expect((await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 'least-loaded' })).pid.thread).toBe(heavier);
    const peer = await system.spawn<typeof Peer>(PEER, { thread: 0 });
    expect(((await peer.call({ type: 'spawn', url: COUNTER.href, args: 0, thread: 'least-loaded' })).ok as ActorRef['pid']).thread).toBe(heavier);
    for (const counter of extra) counter.cast({ type: 'stop' });
  });

  it('stats count main’s actors', async () => {
    const before = (await system.stats()).threads[0].actors;
    const counter = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 0 });
    expect((await system.stats()).threads[0].actors).toBe(before + 1);
    counter.cast({ type: 'stop' });
    await expect.poll(async () => (await system.stats()).threads[0].actors).toBe(before);
  });
});

describe('stop', () => {
  it('runs terminate of the actors on main, and then of the shards’', async () => {
    const local = await start({ threads: 1 });
    const log = join(mkdtempSync(join(tmpdir(), 'weft-')), 'log');
    await local.spawn<typeof Recorder>(RECORDER, { args: log, thread: 0 });
    await local.spawn<typeof Recorder>(RECORDER, { args: log, thread: 1 });
    await local.stop();
    expect(readFileSync(log, 'utf8')).toBe('init\ninit\nterminate shutdown\nterminate shutdown\n');
  });
});
