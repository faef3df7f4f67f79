/**
 * Identity the server enforces: a real nats-server (JetStream on) with one user per node, each
 * allowed by `nodePermissions` to publish only under its own name. Nodes a (this process) and b (a
 * node process) work as usual, global names and tasks included; mallory, a member's credentials
 * in hand (its own user 'm'), tries to speak for b: the server refuses each publish, and a never
 * hears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { nodePermissions, start, type System } from '../../src/main/index.js';
import { Pid } from '../../src/shm/pid.js';
import { BatchWriter, WireOp } from '../../src/main/cluster/wire.js';
import type Wanderer from '../fixtures/actors/wanderer.js';
import { fixtureUrl } from '../helpers.js';
import { eventually, plainPid, startNatsServer, startNode, type NatsServer, type NodeProcess } from './harness.js';

const WANDERER = fixtureUrl('actors/wanderer');
const WHERE = fixtureUrl('tasks/where');

/** The server config: one user per node, each with its node's permissions (JSON is nats-server config). */
export function perNodeUsers(nodes: string[], cluster = 'weft'): string {
  const users = nodes.map((node) => `    { user: ${JSON.stringify(node)}, password: ${JSON.stringify(`${node}-secret`)}, permissions: ${JSON.stringify(nodePermissions({ node, cluster }))} }`);
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`;
}

let nats: NatsServer;
let system: System;
let b: NodeProcess;
let mallory: NatsConnection;
const refusals: string[] = [];

beforeAll(async () => {
  process.env.WEFT_NODE_NAME = 'a';
  nats = await startNatsServer({ config: perNodeUsers(['a', 'b', 'm']) });
  system = await start({ threads: 1, node: { name: 'a', nats: { servers: nats.url, user: 'a', pass: 'a-secret' }, heartbeat: 200, downAfter: 1000 } });
  b = await startNode('b', nats.url, { node: { nats: { servers: nats.url, user: 'b', pass: 'b-secret' } } });
  await system.awaitNode('b', 10_000);
  await b.ask('awaitNode', { node: 'a' });
  mallory = await connect({ servers: nats.url, user: 'm', pass: 'm-secret' });
  void (async () => {
    for await (const status of mallory.status()) if (status.type === 'error') refusals.push(String((status as { error?: Error }).error?.message ?? status));
  })();
}, 30_000);

afterAll(async () => {
  await mallory?.close();
  await b?.kill();
  await system?.stop();
  await nats?.stop();
});

describe('one NATS user per node (nodePermissions)', () => {
  it('the nodes work as usual: calls both ways, global names, tasks, spawns', async () => {
    expect(system.nodes()).toEqual(['a', 'b']);
    const home = await system.spawn<typeof Wanderer>(WANDERER, { name: 'home', global: true });
    expect(await b.ask('call', { to: { name: 'home', node: 'a' }, msg: { type: 'echo', value: 1 } })).toBe(1);
    await eventually(async () => (await b.ask('whereisGlobal', { name: 'home' })) !== null, 5000, 'b to see the global name');
    expect(await b.ask('whereisGlobal', { name: 'home' })).toEqual(plainPid(home.pid));
    const there = await system.spawn<typeof Wanderer>(WANDERER, { node: 'b' });
    expect(await there.call({ type: 'echo', value: 2 })).toBe(2);
    await b.ask('serve', { module: WHERE.href, as: 'where' });
    expect(await system.runOn('b', 'where', 'where', 3)).toEqual({ node: 'b', label: 3 });
    expect(await system.runOn('any', 'where', 'where', 4)).toEqual({ node: 'b', label: 4 });
  });

  it("a member cannot speak for another: b's ops, heartbeat, goodbye and name lease from mallory's user are refused by the server", async () => {
    const victim = await system.spawn<typeof Wanderer>(WANDERER, { thread: 1 });
    const downs: unknown[] = [];
    const onDown = (event: unknown): void => void downs.push(event);
    system.on('nodedown', onDown);
    try {
      const before = (await system.stats()).cluster!.foreign;
      const writer = new BatchWriter({ cluster: 'weft', from: 'b', fromCreation: b.creation, toCreation: system.creation }, 1024 * 1024);
      writer.add([WireOp.EXIT, victim.pid, new Pid('b', 1, 1, b.creation), 'kill', false]);
      const enc = (kind: string): Uint8Array => new TextEncoder().encode(JSON.stringify({ weft: 1, cluster: 'weft', node: 'b', creation: b.creation, kind, up: {} }));
      mallory.publish('weft.weft.n.a.b', writer.bytes()); // b's exit signal
      mallory.publish('weft.weft.hb.b', enc('bye')); // b's goodbye
      mallory.publish('weft.weft.hb.b', enc('hello'));
      mallory.publish('$KV.weft_weft_nodes.b', new Uint8Array(0)); // b's name lease
      await mallory.flush();
      await eventually(() => refusals.length >= 4, 5000, 'the server to refuse all four publishes');
      expect(refusals.join('\n')).toMatch(/Permissions Violation for Publish to "weft\.weft\.n\.a\.b"/i);
      expect(refusals.join('\n')).toMatch(/Permissions Violation for Publish to "weft\.weft\.hb\.b"/i);
      expect(refusals.join('\n')).toMatch(/Permissions Violation for Publish to "\$KV\.weft_weft_nodes\.b"/i);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // past downAfter
      expect(downs).toEqual([]);
      expect(system.nodes()).toEqual(['a', 'b']);
      expect(await victim.call({ type: 'echo', value: 'alive' })).toBe('alive');
      expect((await system.stats()).cluster!.foreign).toBe(before); // they never reached a
      // under its own name mallory may publish, and is only a stranger: foreign, not obeyed
      const own = new BatchWriter({ cluster: 'weft', from: 'm', fromCreation: 1, toCreation: system.creation }, 1024 * 1024);
      own.add([WireOp.EXIT, victim.pid, new Pid('m', 1, 1, 1), 'kill', false]);
      mallory.publish('weft.weft.n.a.m', own.bytes());
      await mallory.flush();
      await eventually(async () => (await system.stats()).cluster!.foreign === before + 1, 5000, 'the stranger counted as foreign');
      expect(await victim.call({ type: 'echo', value: 'still' })).toBe('still');
      expect(await b.ask('call', { to: plainPid(victim.pid), msg: { type: 'echo', value: 'member' } })).toBe('member');
    } finally {
      system.off('nodedown', onDown);
    }
  });
});
