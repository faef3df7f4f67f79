/**
 * Membership at scale: 16 node processes (one shard each) on one nats-server, with the default
 * heartbeat (500 ms) and downAfter (2500 ms). Measures, and prints for the README: the time until
 * every node's `nodes()` lists all 16, the time until every other node has declared a SIGKILLed
 * node down, and the heartbeat traffic (messages and bytes each node publishes a second, counted
 * by a raw subscriber on `weft.weft.hb.*`). Asserts behaviour with generous bounds, not speed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { startNatsServer, startNode, type NatsServer, type NodeProcess } from './harness.js';

const N = 16;
const HEARTBEAT = 500;
const DOWN_AFTER = 2500;

let nats: NatsServer | undefined;
const nodes: NodeProcess[] = [];

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  await nats?.stop();
});

/** Polls every node until `check` holds for each; resolves with the ms it took. */
async function untilAll(of: NodeProcess[], check: (names: string[]) => boolean, timeout: number, what: string): Promise<number> {
  const began = Date.now();
  for (;;) {
    const views = await Promise.all(of.map((n) => n.ask<string[]>('nodes')));
    if (views.every(check)) return Date.now() - began;
    if (Date.now() - began > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}; views: ${views.map((v) => v.length).join(' ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(`membership of ${N} node processes`, () => {
  it('converges, detects a SIGKILL within downAfter plus a beat or two, and beats once per heartbeat per node', async () => {
    nats = await startNatsServer();
    const names = Array.from({ length: N }, (_, i) => `n${String(i + 1).padStart(2, '0')}`);
    const began = Date.now();
    nodes.push(...(await Promise.all(names.map((name) => startNode(name, nats!.url, { threads: 1, node: { heartbeat: HEARTBEAT, downAfter: DOWN_AFTER, globalNames: false } })))));
    const allStarted = Date.now() - began;
    const converged = await untilAll(nodes, (view) => view.length === N, 60_000, 'every node to see all');
    const fromFirst = allStarted + converged;

    // heartbeat traffic at rest, counted by a raw subscriber
    const raw = await connect({ servers: nats.url });
    const perSender = new Map<string, { count: number; bytes: number }>();
    const sub = raw.subscribe('weft.weft.hb.*', {
      callback: (_error, message) => {
        const sender = message.subject.slice(message.subject.lastIndexOf('.') + 1);
        const seen = perSender.get(sender) ?? { count: 0, bytes: 0 };
        seen.count++;
        seen.bytes += message.data.length;
        perSender.set(sender, seen);
      },
    });
    const WINDOW_MS = 5000;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    sub.unsubscribe();
    await raw.close();
    const rates = [...perSender.values()].map((s) => (s.count / WINDOW_MS) * 1000);
    const beatsPerNodePerSec = rates.reduce((a, b) => a + b, 0) / rates.length;
    const bytesPerBeat = [...perSender.values()].reduce((a, s) => a + s.bytes, 0) / [...perSender.values()].reduce((a, s) => a + s.count, 0);

    // a SIGKILL: no goodbye; the others hear silence
    const victim = nodes[N - 1];
    const rest = nodes.slice(0, N - 1);
    const killedAt = Date.now();
    await victim.kill();
    const detected = await untilAll(rest, (view) => !view.includes(victim.name) && view.length === N - 1, 30_000, `every node to declare ${victim.name} down`);
    const detectedMs = Date.now() - killedAt;

    console.log(
      [
        `${N} node processes (threads: 1 each), heartbeat ${HEARTBEAT} ms, downAfter ${DOWN_AFTER} ms:`,
        `  all ${N} started (ready) in ${allStarted} ms; every nodes() lists all ${N} ${converged} ms after the last was ready (${fromFirst} ms from the first start)`,
        `  heartbeats: ${beatsPerNodePerSec.toFixed(2)} published per node per second, ${bytesPerBeat.toFixed(0)} bytes each; the server delivers each to all ${N}: ${(beatsPerNodePerSec * N * N).toFixed(0)} deliveries/s cluster-wide`,
        `  SIGKILL of ${victim.name}: declared down by all ${N - 1} others in ${detectedMs} ms (the last poll took ${detected} ms from the kill)`,
      ].join('\n'),
    );
    expect(perSender.size).toBe(N);
    // one beat per heartbeat, plus an answer to each hello: about 2 a second with the default, never a flood
    expect(beatsPerNodePerSec).toBeGreaterThan(1);
    expect(beatsPerNodePerSec).toBeLessThan(4);
    // not before downAfter (nobody is taken for down early), and within it plus a few beats on a loaded machine
    expect(detectedMs).toBeGreaterThanOrEqual(DOWN_AFTER - HEARTBEAT);
    expect(detectedMs).toBeLessThan(DOWN_AFTER + 10_000);
  }, 120_000);
});
