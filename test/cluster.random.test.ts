/**
 * Randomized: nodes that never lose a request (issue 21). Each run starts two or three node
 * processes over a real nats-server (a new cluster name each run) and plays a seeded stream of
 * calls, casts, spawns, `runOn`s and global-name operations from node a, interleaved with faults:
 * the server SIGKILLed and restarted, a node paused (SIGSTOP, then SIGCONT) with, sometimes, a
 * second process started under its name meanwhile, a node SIGKILLed and started again. It asserts
 *
 * - every request settles, within its deadline plus `downAfter` (and slack for a loaded machine),
 *   with its value, `NodeDownError`, `CallTimeoutError` or the callee's own error (a global name
 *   may also be taken, `AlreadyRegisteredError`, or its bucket unreachable while the server is
 *   away, `ClusterError`; a task nobody takes within `downAfter`, `ClusterError`: NATS gave it
 *   to a paused node, or its node was up but not serving yet);
 * - no node name is held by two live processes, and no two nodes up name different holders of one
 *   global name;
 * - every process exits by itself after `stop()`.
 *
 * `npm test` runs `randomRuns(2)` seeds (each spawns processes: a few seconds a run); `npm run
 * soak` runs many. A failure prints its seed; replay it with `WEFT_SOAK_SEED`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureUrl, randomRuns, randomSeed } from './helpers.js';
import { eventually, startNatsServer, startNode, toPid, type NatsServer, type NodeProcess } from './cluster/harness.js';

const WANDERER = fixtureUrl('actors/wanderer');
const WHERE = fixtureUrl('tasks/where');
const HEARTBEAT = 200;
const DOWN_AFTER = 1000;
/** Added to every bound: a loaded 2-core machine delays timers and IPC. */
const SLACK = 3000;

type Target = 'b' | 'c';
type Step =
  | { kind: 'call'; to: Target; ms: number; timeout: number }
  | { kind: 'cast'; to: Target }
  | { kind: 'spawn'; on: Target }
  | { kind: 'runOn'; where: Target | 'any'; fn: 'sleep' | 'fail'; ms: number; timeout: number }
  | { kind: 'global'; on: 'a' | Target; name: number }
  | { kind: 'serverRestart'; downMs: number }
  | { kind: 'pause'; node: Target; ms: number; namesake: boolean }
  | { kind: 'kill'; node: Target; restartAfter: number };

const target = (three: boolean): fc.Arbitrary<Target> => (three ? fc.constantFrom<Target>('b', 'c') : fc.constant<Target>('b'));

const scenario = fc.boolean().chain((three) =>
  fc.record({
    three: fc.constant(three),
    steps: fc.array(
      fc.record({
        wait: fc.integer({ min: 0, max: 250 }),
        step: fc.oneof(
          { weight: 4, arbitrary: fc.record({ kind: fc.constant('call' as const), to: target(three), ms: fc.integer({ min: 0, max: 1500 }), timeout: fc.integer({ min: 200, max: 3000 }) }) },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('cast' as const), to: target(three) }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('spawn' as const), on: target(three) }) },
          {
            weight: 4,
            arbitrary: fc.record({
              kind: fc.constant('runOn' as const),
              where: fc.oneof(target(three), fc.constant('any' as const)),
              fn: fc.constantFrom('sleep' as const, 'fail' as const),
              ms: fc.integer({ min: 0, max: 1500 }),
              timeout: fc.integer({ min: 300, max: 3000 }),
            }),
          },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('global' as const), on: fc.oneof(fc.constant('a' as const), target(three)), name: fc.integer({ min: 0, max: 2 }) }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('serverRestart' as const), downMs: fc.integer({ min: 20, max: 600 }) }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), node: target(three), ms: fc.integer({ min: 200, max: 2200 }), namesake: fc.boolean() }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), node: target(three), restartAfter: fc.integer({ min: 0, max: 1500 }) }) },
        ) as fc.Arbitrary<Step>,
      }),
      { minLength: 6, maxLength: 16 },
    ),
  }),
);

interface Settled {
  ok: boolean;
  value?: unknown;
  error?: { name?: string; code?: string; message?: string; why?: string };
  ms: number;
}

let nats: NatsServer;
let run = 0;

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await nats?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const alive = (p: NodeProcess): boolean => p.child.exitCode === null && p.child.signalCode === null;

async function play({ three, steps }: { three: boolean; steps: Array<{ wait: number; step: Step }> }): Promise<void> {
  const cluster = `r${process.pid}x${run++}`;
  const options = { node: { cluster, heartbeat: HEARTBEAT, downAfter: DOWN_AFTER, nats: { servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 } } } as never;
  const processes: NodeProcess[] = [];
  const paused = new Set<NodeProcess>();
  const launch = async (name: string): Promise<NodeProcess | undefined> => {
    try {
      const p = await startNode(name, nats.url, options);
      processes.push(p);
      await p.ask('serve', { module: WHERE.href, as: 'where' });
      return p;
    } catch {
      return undefined; // refused its name (a namesake), or killed while starting
    }
  };
  /** The process acting as `name` now: the newest live one. */
  const current = (name: string): NodeProcess | undefined => [...processes].reverse().find((p) => p.name === name && alive(p));
  const background: Array<Promise<unknown>> = [];
  const checks: Array<Promise<void>> = [];
  try {
    const a = (await launch('a'))!;
    const names: Target[] = three ? ['b', 'c'] : ['b'];
    for (const name of names) if ((await launch(name)) === undefined) throw new Error(`node ${name} did not start`);
    for (const name of ['a', ...names]) await current(name)!.ask('awaitNode', { node: name === 'a' ? names[0] : 'a' });
    const actors = new Map<Target, Array<{ node: string; thread: number; serial: number; creation: number }>>();
    for (const name of names) actors.set(name, [await current(name)!.spawn(WANDERER)].map((pid) => ({ node: pid.node, thread: pid.thread, serial: pid.serial, creation: pid.creation })));

    /** Asks a for `what` and checks how and when it settled. */
    const request = (what: string, args: Record<string, unknown>, deadline: number, allowed: (s: Settled) => boolean, label: string): void => {
      checks.push(
        a.ask<Settled>('settle', { what, ...args }).then((settled) => {
          expect(settled.ms, `${label} settled after ${settled.ms} ms`).toBeLessThanOrEqual(deadline + DOWN_AFTER + SLACK);
          if (!settled.ok) expect(allowed(settled), `${label} rejected with ${JSON.stringify(settled.error)}`).toBe(true);
        }),
      );
    };
    const code = (s: Settled): string | undefined => s.error?.code;
    const downOrTimeout = (s: Settled): boolean => code(s) === 'WEFT_ERR_NODE_DOWN' || code(s) === 'WEFT_ERR_CALL_TIMEOUT';

    for (const { wait, step } of steps) {
      await sleep(wait);
      switch (step.kind) {
        case 'call': {
          const to = actors.get(step.to)!.at(-1)!;
          request('call', { to, msg: { type: 'slow', ms: step.ms }, timeout: step.timeout }, step.timeout, downOrTimeout, `a call to ${step.to} (${step.ms} ms, timeout ${step.timeout})`);
          break;
        }
        case 'cast': {
          const to = actors.get(step.to)!.at(-1)!;
          request('cast', { to, msg: { type: 'seq', n: 0 } }, 0, () => false, `a cast to ${step.to}`);
          break;
        }
        case 'spawn': {
          // the spawned pid becomes the target of later calls, when it came
          checks.push(
            a.ask<Settled>('settle', { what: 'spawn', module: WANDERER.href, options: { node: step.on } }).then((settled) => {
              expect(settled.ms).toBeLessThanOrEqual(5000 + 1000 + 2 * DOWN_AFTER + SLACK);
              if (settled.ok) actors.get(step.on)!.push(settled.value as never);
              else expect(downOrTimeout(settled), `a spawn on ${step.on} rejected with ${JSON.stringify(settled.error)}`).toBe(true);
            }),
          );
          break;
        }
        case 'runOn': {
          const label = `runOn(${step.where}, ${step.fn} ${step.ms} ms, timeout ${step.timeout})`;
          const own = (s: Settled): boolean => step.fn === 'fail' && s.error?.name === 'RangeError';
          // nobody took it within downAfter: NATS gave it to a paused node, or the node was up but not serving yet (a restarted node serves after its start)
          const nobodyTook = (s: Settled): boolean => code(s) === 'WEFT_ERR_CLUSTER' && /no node took/.test(s.error?.message ?? '');
          request('runOn', { where: step.where, module: 'where', exportName: step.fn, args: [step.ms], timeout: step.timeout }, step.timeout, (s) => downOrTimeout(s) || own(s) || nobodyTook(s), label);
          break;
        }
        case 'global': {
          const on = step.on === 'a' ? a : current(step.on);
          if (on === undefined || paused.has(on)) break;
          checks.push(
            on.ask<Settled>('settle', { what: 'spawnGlobal', module: WANDERER.href, name: `g${step.name}` }).then(
              (settled) => {
                // a spawn, then the bucket's create, get and update, each up to JetStream's 5 s timeout while the server is away
                expect(settled.ms, `a global name on ${step.on} settled after ${settled.ms} ms`).toBeLessThanOrEqual(5000 + 3 * 5000 + SLACK);
                if (!settled.ok) expect(['WEFT_ERR_ALREADY_REGISTERED', 'WEFT_ERR_CLUSTER', 'WEFT_ERR_NODE_DOWN', 'WEFT_ERR_CALL_TIMEOUT']).toContain(code(settled));
              },
              () => {}, // its process was killed meanwhile
            ),
          );
          break;
        }
        case 'serverRestart':
          await nats.kill(true);
          await sleep(step.downMs);
          await nats.restart();
          break;
        case 'pause': {
          const p = current(step.node);
          if (p === undefined || paused.has(p)) break;
          p.child.kill('SIGSTOP');
          paused.add(p);
          background.push(
            (async () => {
              // a second process under the paused node's name: refused, or (paused past downAfter) it takes the name
              const namesake = step.namesake ? launch(step.node) : undefined;
              await sleep(step.ms);
              if (alive(p)) p.child.kill('SIGCONT');
              paused.delete(p);
              await namesake;
            })(),
          );
          break;
        }
        case 'kill': {
          const p = current(step.node);
          if (p === undefined || paused.has(p)) break;
          await p.kill();
          background.push(sleep(step.restartAfter).then(() => (current(step.node) === undefined ? launch(step.node) : undefined)));
          break;
        }
      }
    }
    await Promise.all(background);
    await Promise.all(checks);

    // One process per name: of the live processes under a name, one at most has not lost it.
    await eventually(
      async () => {
        for (const name of ['a', ...names]) {
          const holders: NodeProcess[] = [];
          for (const p of processes.filter((q) => q.name === name && alive(q))) {
            const errors = await p.ask<string[]>('clusterErrors');
            if (!errors.some((m) => /lost its name/.test(m))) holders.push(p);
          }
          if (holders.length > 1) return false;
        }
        return true;
      },
      3 * DOWN_AFTER + SLACK,
      'each name to be held by one live process',
    );
    // No global name has two holders: the nodes up never name two different actors for it. (A node
    // may not see a name at all for a while: a node started just after a server restart was seen
    // to miss a name its bucket holds, issue noted; that is staleness, not a second holder.)
    const up = ['a', ...names].map(current).filter((p): p is NodeProcess => p !== undefined);
    let views = '';
    await eventually(
      async () => {
        views = '';
        let agree = true;
        for (const name of ['g0', 'g1', 'g2']) {
          const seen = new Set<string>();
          for (const p of up) {
            const pid = await p.ask<{ node: string; thread: number; serial: number; creation: number } | null>('whereisGlobal', { name });
            if (pid !== null) seen.add(String(toPid(pid)));
            views += `${name}@${p.name}(${p.creation}): ${pid === null ? '-' : String(toPid(pid))}; `;
          }
          if (seen.size > 1) agree = false;
        }
        return agree;
      },
      3 * DOWN_AFTER + SLACK,
      'no two nodes to name different holders of one global name',
    ).catch(async (error: Error) => {
      for (const p of up) views += `${p.name}(${p.creation}) sees ${JSON.stringify(await p.ask('nodes'))}, errors ${JSON.stringify(await p.ask('clusterErrors'))}, raw ${JSON.stringify(await p.ask('globalsRaw'))}; `;
      const { connect } = await import('@nats-io/transport-node');
      const { Kvm } = await import('@nats-io/kv');
      const nc = await connect({ servers: nats.url });
      try {
        const kv = await new Kvm(nc).open(`weft_${cluster}_names`);
        for await (const key of await kv.keys()) {
          const entry = await kv.get(key);
          views += `bucket ${key}=${entry?.operation} ${entry?.string()}@${entry?.revision}; `;
        }
      } finally {
        await nc.close();
      }
      throw new Error(`${error.message}: ${views}`);
    });
  } finally {
    // Every process exits by itself after stop().
    for (const p of processes) if (alive(p)) p.child.kill('SIGCONT');
    const exits = processes.filter(alive).map(async (p) => {
      const exited = new Promise<boolean>((resolve) => p.child.once('exit', () => resolve(true)));
      p.ask('stop', { natural: true }).catch(() => {});
      const inTime = await Promise.race([exited, sleep(15_000).then(() => false)]);
      if (!inTime) await p.kill();
      return inTime ? undefined : p.name;
    });
    const stuck = (await Promise.all(exits)).filter((name) => name !== undefined);
    expect(stuck, 'processes that did not exit after stop()').toEqual([]);
  }
}

describe('nodes that never lose a request (randomized)', () => {
  it('every request settles in time with an allowed error, one process per name, every process exits after stop', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await play(s);
      }),
      { numRuns: randomRuns(2), seed: randomSeed(21), endOnFailure: true },
    );
  }, randomRuns(2) * 120_000);
});
