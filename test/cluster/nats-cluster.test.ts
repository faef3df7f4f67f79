/**
 * A NATS cluster, not one server: three real nats-servers routed on loopback with clustered
 * JetStream (weft's buckets with replicas: 3). Node a (this process) is connected to server 1,
 * node b (a node process) to server 2; server 1 is killed while a has 1,000 calls in flight to b.
 * a's client fails over to another server of its list; every call settles, with a reply or a
 * reason, nothing hangs, and the global names of both nodes survive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type System } from '../../src/main/index.js';
import { isWeftError } from '../../src/shm/errors.js';
import type Wanderer from '../fixtures/actors/wanderer.js';
import { fixtureUrl } from '../helpers.js';
import { eventually, plainPid, startNode, toPid, type NodeProcess } from './harness.js';
import { startNatsCluster, type NatsCluster } from './nats-server.js';

const WANDERER = fixtureUrl('actors/wanderer');

let nats: NatsCluster;
let system: System;
let b: NodeProcess;

beforeAll(async () => {
  process.env.WEFT_NODE_NAME = 'a';
  nats = await startNatsCluster(3);
  const [s1, s2, s3] = nats.urls;
  // noRandomize: each node starts on the first server of its list, so a and b are on different servers
  system = await start({ threads: 1, node: { name: 'a', nats: { servers: [s1, s2, s3], noRandomize: true, reconnectTimeWait: 100 }, heartbeat: 200, downAfter: 1000, replicas: 3 } });
  b = await startNode('b', s2, { node: { nats: { servers: [s2, s3, s1], noRandomize: true, reconnectTimeWait: 100 }, replicas: 3 } });
  await system.awaitNode('b', 15_000);
  await b.ask('awaitNode', { node: 'a' });
}, 60_000);

afterAll(async () => {
  await b?.kill();
  await system?.stop();
  await nats?.stop();
});

describe('three nats-servers in a cluster', () => {
  it('the server a node is on dies during 1,000 calls: every call settles with a reply or a reason, the client fails over, global names survive', async () => {
    const [s1] = nats.servers;
    const home = await system.spawn<typeof Wanderer>(WANDERER, { name: 'home', global: true });
    const keeper = toPid(await b.ask('spawnGlobal', { module: WANDERER.href, name: 'keeper' }));
    await eventually(() => system.whereisGlobal('keeper') !== undefined, 10_000, 'a to see b\'s global name');
    await eventually(async () => (await b.ask('whereisGlobal', { name: 'home' })) !== null, 10_000, "b to see a's global name");
    // a and b speak through two servers: the route carries their traffic
    expect(await system.call(keeper, { type: 'echo', value: 'across the route' })).toBe('across the route');

    const N = 1000;
    let done = 0;
    const began = Date.now();
    const calls = Array.from({ length: N }, (_, i) =>
      system.call(keeper, { type: 'slow', ms: 3 }, 30_000).then(
        (value) => ({ ok: true as const, value, i, at: Date.now() - began }),
        (error: unknown) => ({ ok: false as const, error, i, at: Date.now() - began }),
      ).finally(() => void done++),
    );
    await eventually(() => done >= 100, 20_000, 'a hundred calls answered before the kill');
    await s1.kill(true); // SIGKILL: no goodbye from the server
    const settled = await Promise.all(calls); // each settles, or the test times out: nothing hangs
    const replies = settled.filter((s) => s.ok);
    const failed = settled.filter((s) => !s.ok);
    expect(replies.length).toBeGreaterThanOrEqual(100);
    expect(failed.length).toBeGreaterThan(0); // calls were in flight when a's server died
    for (const f of failed) {
      // a reason, not silence: a weft error with a code (NodeDownError 'noconnection' for most)
      expect(isWeftError((f as { error: unknown }).error)).toBe(true);
      expect((f as { error: { code: string } }).error.code).toMatch(/^WEFT_ERR_(NODE_DOWN|CALL_TIMEOUT)$/);
    }
    for (const r of replies) expect((r as { value: unknown }).value).toBe(3);
    console.log(`of ${N} calls: ${replies.length} answered, ${failed.length} rejected (${[...new Set(failed.map((f) => `${(f as { error: { code: string; why?: string } }).error.code}/${(f as { error: { why?: string } }).error.why}`))].join(', ')}), the last settled ${Math.max(...settled.map((s) => s.at))} ms after the first call`);

    // the client failed over: a is on another server and sees b again
    await system.awaitNode('b', 20_000);
    await eventually(async () => {
      try {
        return (await system.call(keeper, { type: 'echo', value: 'after' }, 2000)) === 'after';
      } catch {
        return false;
      }
    }, 20_000, 'a call to b to succeed after the failover');
    // global names survived the loss of one of three servers, seen from both sides
    expect(system.whereisGlobal('keeper')?.pid).toEqual(keeper);
    expect(await b.ask('whereisGlobal', { name: 'home' })).toEqual(plainPid(home.pid));
    // and the bucket (R3, 2 of 3 servers left) still takes new names
    await eventually(async () => {
      try {
        await system.spawn(WANDERER, { name: 'after-failover', global: true });
        return true;
      } catch {
        return false;
      }
    }, 20_000, 'a new global name to be taken');
    // b's watch of the bucket may have had its consumer on the dead server: the client makes a new
    // one after two missed idle heartbeats (5 s each), so b may take ~10 s to see new names
    const seen = Date.now();
    await eventually(async () => (await b.ask('whereisGlobal', { name: 'after-failover' })) !== null, 40_000, 'b to see the new name');
    console.log(`b saw a name taken after the failover in ${Date.now() - seen} ms`);
    expect(await b.ask('call', { to: plainPid(home.pid), msg: { type: 'echo', value: 'b to a' } })).toBe('b to a');
  }, 120_000);
});
