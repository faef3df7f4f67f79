/**
 * Issue 21: nodes that never lose a request. Core NATS delivers at most once and a client that
 * loses its server flushes what it buffered before the others have subscribed again, so weft
 * takes a lost connection as Erlang does: a nodedown, on both sides. Real nats-server and node
 * processes throughout, paused (SIGSTOP), resumed and killed; this test process is node 'a'.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { start, type System } from '../../src/main/index.js';
import { AlreadyRegisteredError, ClusterError, NodeDownError } from '../../src/shm/errors.js';
import type Wanderer from '../fixtures/actors/wanderer.js';
import { fixtureUrl } from '../helpers.js';
import { eventually, startNatsServer, startNode, startRelay, type NatsServer, type NodeProcess, type Relay } from './harness.js';

const WANDERER = fixtureUrl('actors/wanderer');
const WHERE = fixtureUrl('tasks/where');
const MATH = fixtureUrl('tasks/math');

let nats: NatsServer;
let system: System;
const nodes: NodeProcess[] = [];
const relays: Relay[] = [];
const downs: Array<{ node: string; why: string }> = [];

async function node(name: string, options: Parameters<typeof startNode>[2] = {}): Promise<NodeProcess> {
  const started = await startNode(name, nats.url, { ...options, node: { nats: { servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 }, ...options.node } as never });
  nodes.push(started);
  await system.awaitNode(name, 10_000);
  return started;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How a promise settled, and when (ms after `since`). */
async function outcome(promise: Promise<unknown>, since: number): Promise<{ ok: boolean; value?: unknown; error?: unknown; at: number }> {
  try {
    return { ok: true, value: await promise, at: Date.now() - since };
  } catch (error) {
    return { ok: false, error, at: Date.now() - since };
  }
}

beforeAll(async () => {
  process.env.WEFT_NODE_NAME = 'a';
  nats = await startNatsServer();
  system = await start({ threads: 1, node: { name: 'a', nats: { servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 }, heartbeat: 200, downAfter: 1000 } });
  system.on('nodedown', (event) => void downs.push(event));
});

afterEach(async () => {
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGCONT');
  await Promise.all(nodes.splice(0).map((n) => n.kill()));
  await Promise.all(relays.splice(0).map((r) => r.close()));
  await eventually(() => system.nodes().length === 1, 10_000, 'the killed nodes to be declared down');
  downs.length = 0;
});

afterAll(async () => {
  await system?.stop();
  await nats?.stop();
});

describe('a lost NATS connection is a nodedown (item 1)', () => {
  it('a server killed and restarted 130 ms later: every runOn and call waiting on b rejects with NodeDownError (noconnection), none hangs; b is back after', async () => {
    const b = await node('b');
    await b.ask('serve', { module: WHERE.href, as: 'where' });
    // one actor a call: an actor answers one call at a time, and b still works through what a gave up on
    const echoes = await Promise.all(Array.from({ length: 7 }, () => system.spawn<typeof Wanderer>(WANDERER, { node: 'b' })));
    const echo = echoes[6]!;
    const since = Date.now();
    const waiting = [
      ...Array.from({ length: 6 }, (_, i) => system.runOn('b', 'where', 'sleep', i * 500)),
      ...Array.from({ length: 6 }, (_, i) => system.runOn('any', 'where', 'sleep', 400 + i * 400)),
      ...Array.from({ length: 6 }, (_, i) => echoes[i]!.call({ type: 'slow', ms: 400 + i * 300 }, { timeout: 60_000 })),
    ].map((promise) => outcome(promise, since));
    await sleep(250);
    await nats.kill(true);
    const killedAt = Date.now() - since;
    await sleep(130);
    // made while the server is away: no node is up for a, so they fail at once, not after a lost answer
    const during = [system.runOn('b', 'where', 'sleep', 0), system.runOn('any', 'where', 'sleep', 0), echo.call({ type: 'echo', value: 1 }, { timeout: 60_000 })].map((promise) => outcome(promise, since));
    await nats.restart();
    const pending = new Error('requests still pending 30 s after the restart: an answer was lost and nothing ended the wait');
    const settled = await Promise.race([Promise.all([...waiting, ...during]), sleep(30_000).then(() => Promise.reject(pending))]);
    for (const result of settled) {
      if (result.ok) continue;
      expect(result.error).toBeInstanceOf(NodeDownError);
      expect((result.error as NodeDownError).why).toBe('noconnection');
    }
    // the long ones were in flight at the kill: each rejected, and by the drop, not by some deadline
    for (const result of settled.slice(0, 18).filter((_, i) => i % 6 >= 4)) {
      expect(result.ok).toBe(false);
      expect(result.at).toBeLessThan(killedAt + 130 + 3000);
    }
    expect(downs).toContainEqual({ node: 'b', why: 'noconnection' });
    // b comes back in a new session: work flows again
    await system.awaitNode('b', 10_000);
    await eventually(async () => (await b.ask<string[]>('nodes')).includes('a'), 10_000, 'b to see a again');
    expect(await system.runOn('b', 'where', 'where', 'again')).toEqual({ node: 'b', label: 'again' });
    expect(await echo.call({ type: 'echo', value: 'again' })).toBe('again');
    expect((await system.stats()).cluster!.pendingRequests).toBe(0);
  });

  it("b's own connection drops (a blip between b and the server) while a stays connected: a's requests to b reject at b's next beat, not never", async () => {
    const relay = await startRelay(nats.port);
    relays.push(relay);
    const b = await node('b', { node: { nats: { servers: relay.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 } } as never });
    const echo = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
    // and a link across, which the blip breaks on both sides
    const theirs = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
    const mine = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1 });
    await mine.call({ type: 'link', pid: theirs.pid });
    await eventually(async () => (await b.ask<{ links: number }>('stats')).links === 1, 5000, 'the link on b');
    const since = Date.now();
    const calls = Array.from({ length: 5 }, (_, i) => outcome(echo.call({ type: 'slow', ms: 600 + i * 200 }, { timeout: 60_000 }), since));
    await sleep(100);
    relay.cut();
    const settled = await Promise.all(calls);
    for (const result of settled) {
      if (!result.ok) expect(result.error).toMatchObject({ code: 'WEFT_ERR_NODE_DOWN' });
      expect(result.at).toBeLessThan(3000);
    }
    expect(settled.some((r) => !r.ok)).toBe(true);
    expect(downs).toContainEqual({ node: 'b', why: 'noconnection' });
    await eventually(async () => (await system.stats()).cluster!.links === 0 && (await b.ask<{ links: number }>('stats')).links === 0, 5000, 'the link to be gone on both sides');
    expect(await mine.call({ type: 'news' })).toContainEqual({ exit: { from: String(theirs.pid), reason: 'noconnection' } });
    expect(await theirs.call({ type: 'news' })).toContainEqual({ exit: { from: String(mine.pid), reason: 'noconnection' } });
    await system.awaitNode('b', 10_000);
    const fresh = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' }); // echo still works through what a gave up on
    expect(await fresh.call({ type: 'echo', value: 'after' })).toBe('after');
  });

  it('runOn has a finite default deadline (node.taskTimeout)', async () => {
    const b = await node('b', { node: { taskTimeout: 400 } as never });
    await system.serve(WHERE, { as: 'where-a' }).ready;
    const began = Date.now();
    await expect(b.ask('runOn', { where: 'a', module: 'where-a', exportName: 'sleep', args: [5000] })).rejects.toMatchObject({ code: 'WEFT_ERR_CALL_TIMEOUT' });
    expect(Date.now() - began).toBeLessThan(4000);
  });
});

describe('one process per node name (item 2)', () => {
  it('a second process under the name of a node paused for less than downAfter is refused', async () => {
    const b = await node('b');
    b.child.kill('SIGSTOP');
    const second = start({ threads: 1, node: { name: 'b', nats: { servers: nats.url }, heartbeat: 200, downAfter: 1000, globalNames: false } });
    await sleep(500);
    b.child.kill('SIGCONT');
    const result = await second.then(
      async (started) => {
        await started.stop(); // two b's: stop the intruder, so the tests after run as they should
        return started;
      },
      (error: unknown) => error,
    );
    expect(result).toBeInstanceOf(ClusterError);
    expect((result as Error).message).toMatch(/already running/);
    expect(await b.ask<string[]>('clusterErrors')).toEqual([]);
    await eventually(async () => (await b.ask<string[]>('nodes')).includes('a'), 5000, 'b to be in the cluster still');
  });

  it('paused past downAfter, the name goes to the newcomer; the first hears clusterError and leaves the cluster', async () => {
    const first = await node('b');
    first.child.kill('SIGSTOP');
    await eventually(() => !system.nodes().includes('b'), 5000, 'the paused b to be declared down');
    const newcomer = await startNode('b', nats.url);
    nodes.push(newcomer);
    await eventually(() => system.nodes().includes('b'), 10_000, 'the newcomer to be up');
    first.child.kill('SIGCONT');
    await eventually(async () => (await first.ask<string[]>('clusterErrors')).some((m) => /lost its name/.test(m)), 5000, 'the first b to hear it lost its name');
    expect(await first.ask('nodes')).toEqual(['b']);
    await expect(first.ask('runOn', { where: 'a', module: 'where', exportName: 'where', args: [] })).rejects.toMatchObject({ code: 'WEFT_ERR_CLUSTER' });
    // a talks to the newcomer only, and it stays up
    await sleep(1500);
    expect(system.nodes()).toEqual(['a', 'b']);
    const there = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
    expect(there.pid.creation).toBe(newcomer.creation);
    expect(await newcomer.ask<string[]>('clusterErrors')).toEqual([]);
  });
});

describe('a nodedown breaks links on both sides (item 3)', () => {
  it('b paused past downAfter, then resumed: b learns a took it for down, and its side of links and monitors fires too', async () => {
    const b = await node('b');
    const theirs = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
    const mine = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1 });
    await mine.call({ type: 'link', pid: theirs.pid });
    await mine.call({ type: 'monitor', pid: theirs.pid });
    await theirs.call({ type: 'monitor', pid: mine.pid });
    await eventually(async () => (await b.ask<{ links: number; monitorsIn: number }>('stats')).links === 1, 5000, 'the link on b');
    b.child.kill('SIGSTOP');
    await eventually(() => !system.nodes().includes('b'), 5000, 'b to be declared down');
    expect((await system.stats()).cluster!.links).toBe(0);
    b.child.kill('SIGCONT');
    await eventually(async () => {
      const stats = await b.ask<{ links: number; monitorsIn: number; monitorsOut: number }>('stats');
      return stats.links === 0 && stats.monitorsIn === 0 && stats.monitorsOut === 0;
    }, 5000, "b's side of the link and monitors to be gone");
    const news = await theirs.call({ type: 'news' });
    expect(news).toContainEqual({ exit: { from: String(mine.pid), reason: 'noconnection' } });
    expect(news).toContainEqual({ down: { pid: String(mine.pid), reason: 'noconnection' } });
    expect(await mine.call({ type: 'news' })).toContainEqual({ exit: { from: String(theirs.pid), reason: 'noconnection' } });
    // the same lives, in a new session: a new link works, and holds
    await system.awaitNode('b', 5000);
    await mine.call({ type: 'link', pid: theirs.pid });
    await sleep(600);
    expect((await b.ask<{ links: number }>('stats')).links).toBe(1);
  });
});

describe('a failed start (item 4)', () => {
  const runFixture = (url: string, name: string): Promise<{ code: number | null; report: Record<string, unknown>; ms: number }> =>
    new Promise((resolve, reject) => {
      const began = Date.now();
      const child = execFile(process.execPath, [fileURLToPath(fixtureUrl('cluster/failed-start')), url, name], { timeout: 20_000, killSignal: 'SIGKILL' }, (error, stdout) => {
        if (error !== null && child.signalCode !== null) return reject(new Error(`the process did not exit by itself (${child.signalCode}); it wrote: ${stdout}`));
        resolve({ code: child.exitCode, report: JSON.parse(stdout) as Record<string, unknown>, ms: Date.now() - began });
      });
    });

  it('against a server that accepts TCP but never speaks NATS: ClusterError, and the process exits by itself', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const { code, report } = await runFixture(`nats://127.0.0.1:${port}`, 'lost');
      expect(report).toMatchObject({ started: false, name: 'ClusterError', code: 'WEFT_ERR_CLUSTER' });
      expect(code).toBe(0);
    } finally {
      silent.close();
    }
  });

  it('under the name of a live node: ClusterError, and the process exits by itself', async () => {
    await node('b');
    const { code, report } = await runFixture(nats.url, 'b');
    expect(report).toMatchObject({ started: false, name: 'ClusterError' });
    expect(report.message).toMatch(/already running/);
    expect(code).toBe(0);
  });
});

describe('serve twice under one `as` (item 5)', () => {
  it('the second is refused (AlreadyRegisteredError); the function a serve returned undoes that registration only', async () => {
    const b = await node('b');
    const unserveFirst = system.serve(WHERE, { as: 'twice' });
    expect(() => system.serve(MATH, { as: 'twice' })).toThrow(AlreadyRegisteredError);
    const ranOnA = async (exportName: string, args: unknown[], expected: unknown): Promise<boolean> => {
      const settled = await b.ask<{ ok: boolean; value: unknown }>('settle', { what: 'runOn', where: 'a', module: 'twice', exportName, args });
      return settled.ok && JSON.stringify(settled.value) === JSON.stringify(expected);
    };
    // Once ready, the server has the subscription: the first task b sends is taken.
    await unserveFirst.ready;
    expect(await ranOnA('where', [1], { node: 'a', label: 1 })).toBe(true);
    unserveFirst();
    const unserveSecond = system.serve(MATH, { as: 'twice' });
    unserveFirst(); // again: the first registration is gone already; the second stays
    await unserveSecond.ready;
    expect(await ranOnA('mul', [2, 3], 6)).toBe(true);
    await sleep(300);
    expect(await ranOnA('mul', [2, 3], 6)).toBe(true);
    unserveSecond();
    await expect(b.ask('runOn', { where: 'a', module: 'twice', exportName: 'mul', args: [2, 3] })).rejects.toMatchObject({ code: 'WEFT_ERR_CLUSTER' });
  });
});

describe('serve says when it is in effect', () => {
  it("ready waits for the server to have the subscription: held back on a slow link, then every task to 'any' reaches the node at once", async () => {
    const relay = await startRelay(nats.port);
    relays.push(relay);
    const b = await node('b', { node: { nats: { servers: relay.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 } } as never });
    relay.hold(); // what b writes (its SUB, then the flush's PING) waits in the relay
    let answered = false;
    const serving = b.ask('serve', { module: WHERE.href, as: 'held' }).then(() => (answered = true)); // b answers once ready
    await sleep(400); // under downAfter (1000 ms): b stays a member
    expect(answered).toBe(false); // the server has not got the subscription: not ready
    relay.release();
    await serving;
    // No wait, no retry: the server has b's subscription now, so NATS gives each task to b.
    const ran = await Promise.all(Array.from({ length: 10 }, (_, i) => system.runOn('any', 'held', 'where', i) as Promise<{ node: string; label: number }>));
    expect(ran).toEqual(Array.from({ length: 10 }, (_, i) => ({ node: 'b', label: i })));
  });

  it('ready rejects with ClusterError when the node leaves the cluster before the server confirms', async () => {
    const relay = await startRelay(nats.port);
    relays.push(relay);
    const c = await start({ threads: 0, node: { name: 'c', nats: { servers: relay.url, reconnectTimeWait: 50 }, heartbeat: 200, downAfter: 1000, globalNames: false } });
    relay.hold();
    const unserve = c.serve(WHERE, { as: 'never' });
    await c.stop();
    await expect(unserve.ready).rejects.toBeInstanceOf(ClusterError);
    relay.release();
  });
});

describe('a runOn cut short by a graceful stop (item 6)', () => {
  it("rejects with NodeDownError ('goodbye'), to b and to 'any', every time", async () => {
    for (let round = 0; round < 2; round++) {
      const b = await node('b');
      await b.ask('serve', { module: WHERE.href, as: 'where' }); // answered once b's serve is ready
      const since = Date.now();
      const tasks = [
        ...Array.from({ length: 3 }, () => system.runOn('b', 'where', 'sleep', 5000)),
        ...Array.from({ length: 3 }, () => system.runOn('any', 'where', 'sleep', 5000)),
      ].map((promise) => outcome(promise, since));
      await sleep(300);
      await b.stop();
      for (const result of await Promise.all(tasks)) {
        expect(result.ok).toBe(false);
        expect(result.error).toBeInstanceOf(NodeDownError);
        expect((result.error as NodeDownError).why).toBe('goodbye');
        expect((result.error as Error).message).not.toMatch(/exited before replying/);
      }
      nodes.splice(nodes.indexOf(b), 1);
      await eventually(() => !system.nodes().includes('b'), 5000, 'b to leave');
    }
  });
});
