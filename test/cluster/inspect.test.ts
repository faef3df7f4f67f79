/**
 * One inspect endpoint shows every node of a cluster: two nodes over a real nats-server, each
 * started with `inspect`; node a's endpoint (and `weft top --once` on it) reports node b too,
 * asked through the cluster. A node that runs no endpoint is listed with why.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { start, type System } from '../../src/main/index.js';
import { fetchReport } from '../../src/cli/top.js';
import type { InspectReport } from '../../src/main/inspect-server.js';
import { fixtureUrl } from '../helpers.js';
import { startNatsServer, type NatsServer } from './harness.js';
import type Busy from '../fixtures/actors/busy.js';

const CLI = fileURLToPath(new URL('../../dist/bench/cli.js', import.meta.url));
let nats: NatsServer;
let a: System;
let b: System;

const node = (name: string, inspect: boolean) =>
  start({ threads: 1, ...(inspect ? { inspect: { port: 0 } } : {}), node: { name, nats: { servers: nats.url }, heartbeat: 200, downAfter: 1000 } });

beforeAll(async () => {
  nats = await startNatsServer();
  [a, b] = await Promise.all([node('a', true), node('b', true)]);
  await a.awaitNode('b', 10_000);
  await b.awaitNode('a', 10_000);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await nats?.stop();
});

it("node a's endpoint reports node b's threads and names too, and weft top shows both", async () => {
  await b.spawn<typeof Busy>(fixtureUrl('actors/busy'), { thread: 1, name: 'on-b' });
  const port = (a.inspectAddress as { port: number }).port;
  const report = await fetchReport({ port });
  expect(report.node).toBe('a');
  expect(report.stats.cluster?.nodes).toEqual(['a', 'b']);
  expect(report.peers).toHaveLength(1);
  const peer = report.peers![0] as InspectReport;
  expect(peer.node).toBe('b');
  expect(peer.stats.window.threads.map((thread) => thread.thread)).toEqual([0, 1]);
  expect(peer.names.map((entry) => entry.name)).toContain('on-b');
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'top', '--port', String(port), '--once']);
  expect(stdout).toMatch(/── node b ─+/);
  expect(stdout).toContain('on-b');
  expect(stdout).toMatch(/CLUSTER 2 nodes up: a \(this\), b/);
}, 30_000);

it('a node that runs no endpoint is listed with why', async () => {
  const c = await node('c', false);
  try {
    await a.awaitNode('c', 10_000);
    const report = await fetchReport({ port: (a.inspectAddress as { port: number }).port });
    const peer = report.peers!.find((each) => each.node === 'c');
    expect(peer).toMatchObject({ node: 'c', error: expect.stringMatching(/start it with \{ inspect \} too/) });
  } finally {
    await c.stop();
  }
}, 30_000);
