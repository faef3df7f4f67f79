/**
 * A cluster that strangers cannot take over: node 'a' (a System in this process) beside a real
 * nats-server, attacked by a raw NATS client that publishes on weft's subjects, and a real node
 * process 'b' that checks a still serves its members afterwards.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { start, type System } from '../../src/main/index.js';
import { BatchWriter, WireOp } from '../../src/main/cluster/wire.js';
import type Wanderer from '../fixtures/actors/wanderer.js';
import { fixtureUrl } from '../helpers.js';
import { eventually, startNatsServer, startNode, type NatsServer, type NodeProcess } from './harness.js';

const WANDERER = fixtureUrl('actors/wanderer');

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
      raw.publish('weft.weft.n.a', new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
      raw.publish('weft.weft.n.a', forged('mallory', 7, [[WireOp.CAST, 'nobody', 0, 'hi']]));
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
