/**
 * A cluster that strangers cannot take over: node 'a' (a System in this process) beside a real
 * nats-server, attacked by a raw NATS client that publishes on weft's subjects, and a real node
 * process 'b' that checks a still serves its members afterwards.
 */
import v8 from 'node:v8';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { start, type System } from '../../src/main/index.js';
import { Pid } from '../../src/shm/pid.js';
import { BatchWriter, WireOp } from '../../src/main/cluster/wire.js';
import { CallTimeoutError, QueueFullError } from '../../src/shm/errors.js';
import type Wanderer from '../fixtures/actors/wanderer.js';
import { fixtureUrl } from '../helpers.js';
import { eventually, startNatsServer, startNode, type NatsServer, type NodeProcess } from './harness.js';

const WANDERER = fixtureUrl('actors/wanderer');
const MARKER = fixtureUrl('actors/marker');
const WHERE = fixtureUrl('tasks/where');

let nats: NatsServer;
let system: System;
let raw: NatsConnection;
const nodes: NodeProcess[] = [];

/** A forged batch for node a, as from node `from` in life `fromCreation`. */
function forged(from: string, fromCreation: number, ops: unknown[][]): Uint8Array {
  const writer = new BatchWriter({ cluster: 'weft', from, fromCreation, toCreation: system.creation }, 1024 * 1024);
  for (const op of ops) writer.add(op);
  return writer.bytes();
}

/** Publishes a forged batch for node a on the subject of the node it claims to be from. */
function publishForged(from: string, fromCreation: number, ops: unknown[][]): void {
  raw.publish(`weft.weft.n.a.${from}`, forged(from, fromCreation, ops));
}

async function node(name: string, options: Parameters<typeof startNode>[2] = {}): Promise<NodeProcess> {
  const started = await startNode(name, nats.url, options);
  nodes.push(started);
  await system.awaitNode(name, 10_000);
  await started.ask('awaitNode', { node: 'a' });
  return started;
}

beforeAll(async () => {
  process.env.WEFT_NODE_NAME = 'a';
  nats = await startNatsServer();
  system = await start({ threads: 1, node: { name: 'a', nats: { servers: nats.url }, heartbeat: 200, downAfter: 1000 } });
  raw = await connect({ servers: nats.url });
});

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.kill()));
  await eventually(() => system.nodes().length === 1, 10_000, 'the killed nodes to be declared down');
});

afterAll(async () => {
  await raw?.close();
  await system?.stop();
  await nats?.stop();
});

describe("main's loop never dies", () => {
  it('a deadLetter listener that throws on a foreign message is reported, the next listener still hears, and the node serves on', async () => {
    const heard: unknown[] = [];
    const reported: { event: string; error: unknown }[] = [];
    const thrower = (): never => {
      throw new Error('buggy listener');
    };
    const after = (letter: unknown): void => void heard.push(letter);
    const onError = (error: { event: string; error: unknown }): void => void reported.push(error);
    system.on('deadLetter', thrower);
    system.on('deadLetter', after);
    system.on('error', onError);
    try {
      const foreignBefore = (await system.stats()).cluster!.foreign;
      raw.publish('weft.weft.n.a.mallory', new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
      publishForged('mallory', 7, [[WireOp.CAST, 'nobody', 0, 'hi']]);
      await raw.flush();
      await eventually(() => heard.length >= 2, 5000, 'the second listener to hear both');
      expect(reported.length).toBeGreaterThanOrEqual(2);
      expect(reported[0]).toMatchObject({ event: 'deadLetter', error: { message: 'buggy listener' } });
      expect((await system.stats()).cluster!.foreign).toBeGreaterThan(foreignBefore);
      // the node still serves a member
      await system.spawn<typeof Wanderer>(WANDERER, { name: 'home' });
      const b = await node('b');
      expect(await b.ask('call', { to: { name: 'home', node: 'a' }, msg: { type: 'echo', value: 42 } })).toBe(42);
    } finally {
      system.off('deadLetter', thrower);
      system.off('deadLetter', after);
      system.off('error', onError);
    }
  });

  it("without an 'error' listener, a throwing actorExit listener becomes a process warning and main's loop runs on", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    const thrower = (): never => {
      throw new Error('exit listener bug');
    };
    process.on('warning', onWarning);
    system.on('actorExit', thrower);
    try {
      const ref = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1 });
      ref.cast({ type: 'stop', reason: 'normal' });
      await eventually(() => warnings.some((w) => (w as Error & { code?: string }).code === 'WEFT_LISTENER_THREW'), 5000, 'the warning');
      const next = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1 });
      expect(await next.call({ type: 'echo', value: 'still here' })).toBe('still here');
    } finally {
      system.off('actorExit', thrower);
      process.off('warning', onWarning);
    }
  });
});

describe('only members speak', () => {
  /** Main's heap after a full collection, MB. */
  const heapMb = (): number => {
    v8.setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    return process.memoryUsage().heapUsed / 1e6;
  };

  it('a forged SPAWN, EXIT kill, LINK and CALL from a non-member (or from a member name in another life) are foreign: nothing done, nothing answered', async () => {
    const b = await node('b');
    const victim = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1, name: 'victim' });
    const before = (await system.stats()).cluster!;
    const replies: unknown[] = [];
    const inbox = raw.subscribe('weft.weft.n.mallory.*', { callback: (_error, message) => void replies.push(message.data) });
    const mallory = new Pid('mallory', 1, 1, 7);
    const ops = [
      [WireOp.SPAWN, 1, WANDERER.href, null, 'planted', null, 5000, false],
      [WireOp.EXIT, victim.pid, mallory, 'kill', false],
      [WireOp.LINK, victim.pid, mallory],
      [WireOp.CALL, 'victim', 0, 2, 5000, { type: 'echo', value: 'stolen' }],
      [WireOp.WHEREIS, 3, 'victim'],
    ];
    publishForged('mallory', 7, ops);
    // b's name, but not b's life: as foreign as a stranger
    publishForged('b', b.creation + 1, ops.map((op) => (op[0] === WireOp.EXIT || op[0] === WireOp.LINK ? [op[0], victim.pid, new Pid('b', 1, 1, b.creation + 1), ...op.slice(3)] : op)));
    // b's life, but an exit on behalf of an actor of another node
    publishForged('b', b.creation, [[WireOp.EXIT, victim.pid, mallory, 'kill', false]]);
    await raw.flush();
    await eventually(async () => (await system.stats()).cluster!.foreign >= before.foreign + 3, 5000, 'the three batches dropped as foreign');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(system.whereis('planted')).toBeUndefined();
    expect(await victim.call({ type: 'echo', value: 'alive' })).toBe('alive');
    const after = (await system.stats()).cluster!;
    expect(after.links).toBe(before.links);
    expect(after.pendingRequests).toBe(0);
    expect(replies).toEqual([]);
    inbox.unsubscribe();
    // the real b is still served
    expect(await b.ask('call', { to: { name: 'victim', node: 'a' }, msg: { type: 'echo', value: 'member' } })).toBe('member');
    victim.cast({ type: 'stop', reason: 'normal' });
  });

  it('20,000 distinct fake senders asking for answers leave main holding nothing for them, and are counted', async () => {
    await system.spawn<typeof Wanderer>(WANDERER, { name: 'target' });
    // warm up the paths once, then measure
    publishForged('warmup', 1, [[WireOp.WHEREIS, 1, 'target']]);
    await raw.flush();
    const start = heapMb();
    const foreignBefore = (await system.stats()).cluster!.foreign;
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const op = i % 2 === 0 ? [WireOp.WHEREIS, i, 'target'] : [WireOp.CALL, 'target', 0, i, 5000, { type: 'echo', value: i }];
      publishForged(`fake-${i}`, i + 1, [op]);
      if (i % 1000 === 999) await raw.flush();
    }
    await raw.flush();
    await eventually(async () => (await system.stats()).cluster!.foreign >= foreignBefore + N, 30_000, 'every fake batch counted as foreign');
    const grown = heapMb() - start;
    expect(grown).toBeLessThan(8);
    expect(await system.call({ name: 'target', node: 'a' } as never, { type: 'echo', value: 'ok' })).toBe('ok');
  });
});

describe('the subject names the sender', () => {
  it("a member's batch or goodbye published on another sender's subject is foreign; on the member's own subject, any publisher speaks for it unless the server forbids (per-node users)", async () => {
    const b = await node('b');
    const victim = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1, name: 'victim2' });
    const before = (await system.stats()).cluster!.foreign;
    const asB = forged('b', b.creation, [[WireOp.EXIT, victim.pid, new Pid('b', 1, 1, b.creation), 'kill', false]]);
    const byeOfB = new TextEncoder().encode(JSON.stringify({ weft: 1, cluster: 'weft', node: 'b', creation: b.creation, kind: 'bye', up: {} }));
    raw.publish('weft.weft.n.a.mallory', asB); // b's header, mallory's subject
    raw.publish('weft.weft.hb.mallory', byeOfB); // b's goodbye, mallory's subject
    await raw.flush();
    await eventually(async () => (await system.stats()).cluster!.foreign >= before + 2, 5000, 'both counted as foreign');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(system.nodes()).toEqual(['a', 'b']);
    expect(await victim.call({ type: 'echo', value: 'alive' })).toBe('alive');
    // What a publisher without per-node users can do: b's goodbye on b's own subject takes b down
    // here (it comes back with its next beat). The per-node-user test shows the server refusing it.
    const downs: string[] = [];
    const onDown = ({ node, why }: { node: string; why: string }): void => void downs.push(`${node}:${why}`);
    system.on('nodedown', onDown);
    try {
      raw.publish('weft.weft.hb.b', byeOfB);
      await raw.flush();
      await eventually(() => downs.includes('b:goodbye'), 5000, "b taken down by the forged goodbye");
      await system.awaitNode('b', 5000);
    } finally {
      system.off('nodedown', onDown);
    }
    victim.cast({ type: 'stop', reason: 'normal' });
  });
});

describe('remote spawn is opt-in', () => {
  it('a node spawns for others only what node.allowSpawn lists: anything else is SpawnError at the caller, and is never imported', async () => {
    const mark = join(tmpdir(), `weft-spawn-marker-${process.pid}`);
    rmSync(mark, { force: true });
    process.env.WEFT_SPAWN_MARKER = mark; // the node processes inherit it
    try {
      const b = await node('b'); // allowSpawn: [wanderer] (harness.ts)
      await expect(system.spawn(MARKER, { node: 'b' })).rejects.toMatchObject({ code: 'WEFT_ERR_SPAWN', message: expect.stringContaining('node.allowSpawn') });
      // the listed module is spawned
      const allowed = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
      expect(allowed.pid.node).toBe('b');
      // a (no allowSpawn: the default) spawns nothing for b, not even a module it runs itself
      await system.spawn(WANDERER, { thread: 1 });
      await expect(b.ask('spawn', { module: WANDERER.href, options: { node: 'a' } })).rejects.toMatchObject({ code: 'WEFT_ERR_SPAWN' });
      await expect(b.ask('spawn', { module: MARKER.href, options: { node: 'a' } })).rejects.toMatchObject({ code: 'WEFT_ERR_SPAWN' });
      expect(existsSync(mark)).toBe(false);
      // and the module does leave its mark when it is imported: the check above can fail
      await system.spawn(MARKER, { thread: 0 }); // main: its environment has the variable (a's shard started before it was set)
      expect(existsSync(mark)).toBe(true);
    } finally {
      delete process.env.WEFT_SPAWN_MARKER;
      rmSync(mark, { force: true });
    }
  });
});

describe('bounded from the wire', () => {
  it("another node's call waits here at most node.maxRemoteTimeout, even one sent with Infinity", async () => {
    const b = await node('b', { node: { maxRemoteTimeout: 300 } });
    const slow = await b.spawn(WANDERER);
    const started = Date.now();
    await expect(system.call(slow, { type: 'slow', ms: 5000 }, Infinity)).rejects.toBeInstanceOf(CallTimeoutError);
    expect(Date.now() - started).toBeLessThan(4500);
    const other = await b.spawn(WANDERER); // (the slow one is still in its handler)
    expect(await system.call(other, { type: 'echo', value: 'after' })).toBe('after');
  });

  it('tasks from other nodes queue here only up to node.maxQueue: past it the caller gets QueueFullError at once', async () => {
    const b = await node('b', { node: { maxQueue: 2 } });
    await b.ask('serve', { module: WHERE.href, as: 'where' });
    const began = Date.now();
    const settled = await Promise.allSettled([0, 1, 2, 3, 4].map(() => system.runOn('b', 'where', 'sleep', 1500)));
    const refused = settled.filter((s) => s.status === 'rejected');
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1400); // the two held ran their course
    expect(await b.ask('stats')).toMatchObject({ tasksHeld: 0, tasksRefused: 3 });
    // room again once they are answered
    expect(await system.runOn('b', 'where', 'where', 'again')).toEqual({ node: 'b', label: 'again' });
    // and a refusal is told to a task for 'any' too (the node that refused is the one that answers)
    const any = await Promise.allSettled([0, 1, 2].map(() => system.runOn('any', 'where', 'sleep', 800)));
    expect(any.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason)).toEqual([expect.any(QueueFullError)]);
  });
});
