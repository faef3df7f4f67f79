/**
 * remote-failover: calls through a NATS cluster of three nats-servers (routes on loopback), and
 * what killing one costs. This process is on server 1, the answering process on server 2, so every
 * call crosses a route. Two rows, each measured the same way:
 *
 * - `nats`: bare NATS request/reply to a responder process (msgpack `{ a, b }`, it answers a + b).
 * - `weft`: `ActorRef.call` from node `a` to `adder` on node `b`'s shard.
 *
 * `callsPerSec`: WINDOW calls kept in flight for a while. `gapMs`: the same load, then server 1 is
 * SIGKILLed: from its exit to the first answer to a call sent after it (the client notices, fails
 * over to server 2 or 3, and for weft the nodes hear each other again; a caller whose calls in
 * flight wait out their timeout sends no new one until then). Between the rows server 1 is started again
 * and rejoins. Checked: every answer is right, every failed call failed with a reason (weft: a
 * NodeDownError or CallTimeoutError; NATS: its client's error), and calls are answered again after
 * the kill.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { natsClient } from '../cluster/nats-client.js';
import { pack, unpack } from 'msgpackr';
import { setTimeout as sleep } from 'node:timers/promises';
import { start, isWeftError } from '../../src/main/index.js';
import type Adder from '../actors/adder.js';
import { assert, SuiteSkipped, type Metrics, type Suite } from '../harness.js';
import { onPath, startPeer, type Peer } from '../cluster/peers.js';
import { startNatsCluster, type NatsCluster } from '../../test/cluster/nats-server.js';

const MEASURE_MS = { full: 5000, quick: 1500 };
/** Calls in flight at once. */
const WINDOW = 64;
/** How long the load runs before the kill. */
const BEFORE_KILL_MS = 500;
/** A failover that takes longer than this fails the suite. */
const GAP_LIMIT_MS = 30_000;

type Call = (i: number) => Promise<unknown>;

/** What WINDOW workers calling in a loop saw. */
interface Load {
  answered: number;
  failed: number;
  reasons: Set<string>;
}

/**
 * Runs WINDOW workers calling `call` until `stop()` is true. Each answer is checked; a failure must
 * have a reason (`reason(error)` names it, or throws for one that is not acceptable), and its
 * worker pauses 5 ms so a node that is down is not called in a tight loop.
 */
async function load(call: Call, reason: (error: unknown) => string, stop: () => boolean): Promise<Load> {
  const seen: Load = { answered: 0, failed: 0, reasons: new Set() };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stop()) {
      const i = next++;
      try {
        const sum = await call(i);
        assert(sum === i + 1, `add(${i}, 1) answered ${JSON.stringify(sum)}, expected ${i + 1}`);
        seen.answered++;
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('add(')) throw error;
        seen.failed++;
        seen.reasons.add(reason(error));
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return seen;
}

/** Calls per second over `ms`, with WINDOW in flight. */
async function throughput(call: Call, reason: (error: unknown) => string, ms: number): Promise<number> {
  const warm = performance.now();
  await load(call, reason, () => performance.now() - warm > 300); // code compiled, connections warm
  const began = performance.now();
  const seen = await load(call, reason, () => performance.now() - began > ms);
  assert(seen.failed === 0, `${seen.failed} calls failed with no server down: ${[...seen.reasons].join(', ')}`);
  return (seen.answered / (performance.now() - began)) * 1000;
}

/** Kills `server` under load; ms from the kill to the first answer after it. */
async function gap(call: Call, reason: (error: unknown) => string, kill: () => Promise<void>, log: (line: string) => void, what: string): Promise<number> {
  let killedAt = Infinity;
  let firstAfter = Infinity;
  const began = performance.now();
  const stop = (): boolean => {
    const now = performance.now();
    if (now - began > GAP_LIMIT_MS + BEFORE_KILL_MS) return true;
    return firstAfter !== Infinity && now - firstAfter > 300;
  };
  const running = load(
    async (i) => {
      const sent = performance.now();
      const sum = await call(i);
      // only a call sent once the server was gone counts: a reply already on its way when the
      // kill began says nothing about the failover
      if (sent > killedAt && firstAfter === Infinity) firstAfter = performance.now();
      return sum;
    },
    reason,
    stop,
  );
  await sleep(BEFORE_KILL_MS);
  await kill();
  killedAt = performance.now(); // the server's process has exited
  const seen = await running;
  assert(firstAfter !== Infinity, `${what}: no call was answered in the ${GAP_LIMIT_MS} ms after the server was killed`);
  log(`${what}: ${seen.answered} answered, ${seen.failed} failed (${[...seen.reasons].join(', ') || 'none'}), first answer ${(firstAfter - killedAt).toFixed(0)} ms after the kill`);
  return firstAfter - killedAt;
}

export const suite: Suite = {
  name: 'remote-failover',
  title: 'calls through a cluster of three nats-servers (caller and callee on different servers), and the gap when the caller\'s server is killed; vs bare NATS request/reply',
  baseline: 'nats',
  metrics: ['callsPerSec', 'gapMs'],
  timeoutMs: 240_000,
  async run({ quick, log }) {
    if (!onPath('nats-server')) throw new SuiteSkipped('needs `nats-server` on PATH (Debian/Ubuntu: apt-get install nats-server; or https://nats.io)');
    const ms = quick ? MEASURE_MS.quick : MEASURE_MS.full;
    const nats: NatsCluster = await startNatsCluster(3);
    const [s1, s2, s3] = nats.urls;
    const here = [s1, s2, s3];
    const there = [s2, s3, s1].join(',');
    const peers: Peer[] = [];
    const results: Record<string, Metrics> = {};
    const restartFirst = async (): Promise<void> => {
      await nats.servers[0].restart();
      await sleep(1500); // its routes come back
    };
    try {
      peers.push(await startPeer('nats-echo', there), await startPeer('weft', 'b', there));

      const { connect } = await natsClient();
      const nc: NatsConnection = await connect({ servers: here, noRandomize: true, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
      try {
        const natsCall: Call = async (i) => unpack((await nc.request('bench.echo', pack({ a: i, b: 1 }), { timeout: 2000 })).data);
        const natsReason = (error: unknown): string => (error instanceof Error ? error.name : String(error));
        results.nats = { callsPerSec: await throughput(natsCall, natsReason, ms), gapMs: await gap(natsCall, natsReason, () => nats.servers[0].kill(true), log, 'bare NATS') };
      } finally {
        await nc.close();
      }
      await restartFirst();

      const system = await start({ threads: 1, node: { name: 'a', nats: { servers: here, noRandomize: true, reconnectTimeWait: 50, maxReconnectAttempts: -1 }, globalNames: false } });
      try {
        await system.awaitNode('b', 10_000);
        const adder = await system.whereisOn<typeof Adder>('adder', 'b');
        assert(adder !== undefined, "node b has no actor named 'adder'");
        const weftCall: Call = (i) => adder.call({ a: i, b: 1 }, { timeout: 5000 });
        const weftReason = (error: unknown): string => {
          assert(isWeftError(error) && (error.code === 'WEFT_ERR_NODE_DOWN' || error.code === 'WEFT_ERR_CALL_TIMEOUT'), `a weft call failed with ${String(error)}, not NodeDownError or CallTimeoutError`);
          return `${error.code}${'why' in error ? `/${String((error as { why: unknown }).why)}` : ''}`;
        };
        results.weft = { callsPerSec: await throughput(weftCall, weftReason, ms), gapMs: await gap(weftCall, weftReason, () => nats.servers[0].kill(true), log, 'weft') };
      } finally {
        await system.stop();
      }
      const rate = (row: string): string => `${Math.round(results[row].callsPerSec).toLocaleString('en-US')}/s`;
      log(`through the route: weft ${rate('weft')}, bare NATS ${rate('nats')}; gap after the kill: weft ${results.weft.gapMs.toFixed(0)} ms, bare NATS ${results.nats.gapMs.toFixed(0)} ms`);
      const common = { servers: '3 nats-servers, routes on loopback, JetStream clustered (unused here)', inFlight: WINDOW, killed: "the caller's server, SIGKILL", measureMs: ms };
      return {
        results,
        config: {
          nats: { ...common, api: 'nc.request (timeout 2 s)', payload: 'msgpack { a, b }' },
          weft: { ...common, api: 'ActorRef.call (timeout 5 s)', to: "node b's shard", heartbeat: 500, downAfter: 2500 },
        },
      };
    } finally {
      await Promise.all(peers.map((peer) => peer.stop()));
      await nats.stop();
    }
  },
};
