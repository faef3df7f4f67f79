/**
 * Actors that never leak, never take their shard down, and always let the process exit (issue 20):
 * one test per way it went wrong, on main (thread 0) and on a shard alike where both can.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorExitedError,
  AlreadyRegisteredError,
  CallTimeoutError,
  EncodeError,
  ExitError,
  InvalidArgumentError,
  Pid,
  SpawnError,
  child,
  start,
  type ActorRef,
  type System,
} from '../src/main/index.js';
import { QUICK, fixtureUrl } from './helpers.js';
import type Troubled from './fixtures/actors/troubled.js';
import type { Odd, Seen, TroubledArgs } from './fixtures/actors/troubled.js';
import type Counter from './fixtures/actors/counter.js';
import type Peer from './fixtures/actors/peer.js';

const TROUBLED = fixtureUrl('actors/troubled');
const COUNTER = fixtureUrl('actors/counter');
const PEER = fixtureUrl('actors/peer');
const ODD: Odd[] = ['instance', 'symbol', 'errorWithInstanceCause', 'function'];
const THREADS = [0, 1] as const;
/** Runs of the stop-during-restart race (2 of 50 left the process open before the fix). */
const RACES = QUICK ? 20 : 100;

let system: System;
let threadDowns = 0;
beforeAll(async () => {
  system = await start({ threads: 2 });
  system.on('threadDown', () => threadDowns++);
});
afterAll(() => system.stop());

const spawnTroubled = (args: TroubledArgs, thread: number, name?: string, timeout?: number): Promise<ActorRef<typeof Troubled>> =>
  system.spawn<typeof Troubled>(TROUBLED, { args, thread, name, timeout });

/** Resolves with the exit reason once `pid` has exited (at once if it already has). */
const down = (pid: Pid) => system.monitor(pid).down;

/** Live actors on `thread`, as stats() counts them. */
const actorsOn = async (thread: number): Promise<number> => (await system.stats()).threads[thread].actors;

describe('1. an init that throws what cannot travel', () => {
  for (const thread of THREADS) {
    for (const odd of ODD) {
      it(`thread ${thread}, ${odd}: spawn rejects with SpawnError, and the thread's other actors live on`, async () => {
        const bystander = await system.spawn<typeof Counter>(COUNTER, { args: 7, thread });
        const before = threadDowns;
        const error = await spawnTroubled({ init: { throw: odd } }, thread).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SpawnError);
        expect((error as SpawnError).code).toBe('WEFT_ERR_SPAWN');
        expect((error as SpawnError).cause).toBeDefined();
        if (odd === 'errorWithInstanceCause') expect(String((error as SpawnError).message)).toContain('db connect failed');
        expect(await bystander.call({ type: 'get' })).toBe(7);
        expect(threadDowns).toBe(before);
      });
    }
  }

  it('under a supervisor, each failed start is a SpawnError and the shard never goes down', async () => {
    const before = threadDowns;
    const supervised = system.supervise({ children: [child<typeof Troubled>('bad', TROUBLED, { args: { init: { throw: 'errorWithInstanceCause' } } })] }, { thread: 1 });
    await expect(supervised).rejects.toBeInstanceOf(SpawnError);
    const bystander = await system.spawn<typeof Counter>(COUNTER, { args: 1, thread: 1 });
    expect(await bystander.call({ type: 'get' })).toBe(1);
    expect(threadDowns).toBe(before);
  });
});

describe('2 and 3. stop() racing what the system does, in a child process that must exit by itself', () => {
  /** Runs the fixture; a failure says how it ended (code, signal) and all it printed. */
  const run = async (args: string[], timeout: number): Promise<{ stdout: string }> => {
    try {
      return await promisify(execFile)(process.execPath, [fixtureUrl('stop-races').pathname, ...args], { timeout });
    } catch (error) {
      const { code, signal, killed, stdout, stderr } = error as { code?: number; signal?: string; killed?: boolean; stdout?: string; stderr?: string };
      throw new Error(`stop-races ${args.join(' ')} failed: code ${code}, signal ${signal}${killed === true ? ` (killed after ${timeout} ms)` : ''}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
  };

  it('supervise() finishing while stop() runs leaves no unhandled rejection (exit code 0)', async () => {
    const { stdout } = await run(['supervise', '3'], 30_000);
    expect(stdout.trim()).toBe('done');
  });

  // The fixture fails by itself, saying where, when a race hangs (one step stuck for 60 s), the
  // process exits before the races are done, or it stays open after the last stop(); the timeout
  // here is only a backstop for a slow machine (the 100 races took 146 s at load 25 on 2 cores).
  // The once-in-six CI failure with no output was the fixture's own: its lanes all waiting for a
  // 'threadDown' at once held nothing open, and the process exited (code 13) before the shard did.
  it(`stop() 0-4 ms into a shard's restart, ${RACES} times: the workers it starts end with the system`, { timeout: 620_000 }, async () => {
    const { stdout } = await run(['restart', String(RACES), '5'], 600_000);
    expect(stdout.trim()).toBe('done');
  });
});

describe('4. a call loop to an actor on main', () => {
  it('does not starve main: timers fire and a shard reply sent first is read', async () => {
    const onMain = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 0 });
    const onShard = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 1 });
    const startedAt = performance.now();
    let timerAt = -1;
    setTimeout(() => (timerAt = performance.now() - startedAt), 50);
    const fromShard = onShard.call({ type: 'slowAdd', by: 1, ms: 20 }, { timeout: 1000 });
    let calls = 0;
    while (performance.now() - startedAt < 1500) {
      await onMain.call({ type: 'get' });
      calls++;
    }
    expect(await fromShard).toBe(1); // a CallTimeoutError when main never read the ring
    expect(timerAt).toBeGreaterThan(0);
    expect(timerAt).toBeLessThan(1000);
    expect(calls).toBeGreaterThan(1000);
  });
});

describe('5. names are freed whenever their actor is gone', () => {
  for (const thread of THREADS) {
    for (const soon of ['crash', 'stop', 'sendAfter0'] as const) {
      it(`thread ${thread}: an actor that ends right after init (${soon}) leaves its name free`, async () => {
        const name = `soon-${soon}-${thread}`;
        const ref = await spawnTroubled({ init: { soon } }, thread, name);
        await down(ref.pid);
        await expect.poll(() => system.whereis(name)).toBeUndefined();
        // ...and for good: a fresh spawn may take it.
        const again = await spawnTroubled({}, thread, name);
        expect(system.whereis(name)?.pid).toEqual(again.pid);
        again.cast({ stop: 'normal' });
        await down(again.pid);
      });
    }
  }

  it('on a fresh shard (the module still loading, the shard parked meanwhile), a spawn from main of an actor that stops at once frees its name', async () => {
    const fresh = await start({ threads: 1 });
    try {
      for (const soon of ['stop', 'crash', 'sendAfter0'] as const) {
        const ref = await fresh.spawn<typeof Troubled>(TROUBLED, { args: { init: { soon } }, thread: 1, name: `fresh-${soon}` });
        await fresh.monitor(ref.pid).down;
        await expect.poll(() => fresh.whereis(`fresh-${soon}`)).toBeUndefined();
      }
    } finally {
      await fresh.stop();
    }
  });

  for (const [from, to] of [[1, 0], [1, 2], [0, 1], [1, 1]] as const) {
    it(`ctx.spawn from thread ${from} with a name on thread ${to}, of an actor that ends at once, frees it`, async () => {
      const spawner = await spawnTroubled({}, from);
      const name = `ctx-soon-${from}-${to}`;
      const got = (await spawner.call({ type: 'spawn', url: TROUBLED.href, args: { init: { soon: 'crash' } }, name, thread: to })) as { ok?: Pid };
      expect(got.ok).toBeDefined();
      await down(got.ok!);
      await expect.poll(() => system.whereis(name)).toBeUndefined();
      const again = (await spawner.call({ type: 'spawn', url: TROUBLED.href, args: {}, name, thread: to })) as { ok?: Pid };
      expect(again.ok).toBeDefined();
      expect(system.whereis(name)?.pid).toEqual(again.ok);
    });
  }

  it('a supervisor that gives up leaves no name of its children bound, wherever they ran', async () => {
    // Each start of the child (on shard 2, for a supervisor on shard 1) crashes at once: its exit
    // races its registration, until the supervisor gives up.
    const failing = child<typeof Troubled>('far', TROUBLED, { args: { init: { soon: 'crash' } }, name: 'far-child', thread: 2 });
    const started = await system.supervise({ maxRestarts: 2, maxSeconds: 5, children: [failing] }, { thread: 1 }).catch(() => undefined);
    if (started !== undefined) await down(started.pid);
    await expect.poll(() => system.whereis('far-child'), { timeout: 5000 }).toBeUndefined();
  });

  it('two spawns of one name: one wins, the other gets AlreadyRegisteredError and no actor is left', async () => {
    const baseline = await actorsOn(1);
    const results = await Promise.allSettled([spawnTroubled({}, 1, 'twice'), spawnTroubled({}, 1, 'twice')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(AlreadyRegisteredError);
    expect(await actorsOn(1)).toBe(baseline + 1);
  });
});

describe('6. a killed actor', () => {
  for (const thread of THREADS) {
    it(`thread ${thread}: its handler, still awaiting, can no longer spawn, register, send, link, reply, call or monitor`, async () => {
      const victim = await spawnTroubled({}, thread);
      const witness = await spawnTroubled({}, thread);
      const killer = await system.spawn<typeof Peer>(PEER, { thread: 2 });
      const baseline = await actorsOn(thread);
      const name = `late-name-${thread}`;
      const answer = victim.call({ type: 'lateEffects', ms: 1500, url: TROUBLED.href, name }).catch((e: unknown) => e);
      // The kill comes from shard 2, the call from main: let the handler start before the kill.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await killer.call({ type: 'exitOther', target: victim.pid, reason: 'kill' });
      expect(await answer).toBeInstanceOf(ExitError);
      await expect.poll(() => witness.call({ type: 'lastLate' }), { timeout: 20_000 }).not.toBeNull();
      const late = (await witness.call({ type: 'lastLate' })) as Record<string, string>;
      expect(late).toEqual({ spawn: 'ActorExitedError', register: 'ActorExitedError', send: 'ActorExitedError', link: 'ActorExitedError', reply: 'ActorExitedError', call: 'ActorExitedError', monitor: 'ActorExitedError' });
      expect(system.whereis(name)).toBeUndefined();
      // No orphan: the victim is gone and nothing new lives on its thread.
      expect(await actorsOn(thread)).toBe(baseline - 1);
      expect(new ActorExitedError('x').code).toBe('WEFT_ERR_ACTOR_EXITED');
    });
  }
});

describe('7. a spawn that timed out', () => {
  for (const thread of THREADS) {
    it(`thread ${thread}: the actor whose init answered late is killed, and its name is free`, async () => {
      const baseline = await actorsOn(thread);
      const name = `late-init-${thread}`;
      await expect(spawnTroubled({ init: { waitMs: 300 } }, thread, name, 100)).rejects.toBeInstanceOf(CallTimeoutError);
      // The late init answers, and its actor is killed: however long that takes on a loaded machine.
      await expect.poll(() => actorsOn(thread), { timeout: 20_000 }).toBe(baseline);
      expect(system.whereis(name)).toBeUndefined();
      const again = await spawnTroubled({}, thread, name);
      expect(system.whereis(name)?.pid).toEqual(again.pid);
    });
  }

  it('a spawn timeout that is not a number of ms >= 0 is an InvalidArgumentError', async () => {
    for (const timeout of [Number.NaN, '100', -5]) {
      await expect(system.spawn<typeof Troubled>(TROUBLED, { args: {}, timeout: timeout as number, name: 'never' })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(system.whereis('never')).toBeUndefined();
    const spawner = await spawnTroubled({}, 1);
    expect(await spawner.call({ type: 'spawn', url: TROUBLED.href, args: {}, thread: 'local', timeout: -5 })).toMatchObject({ error: { name: 'InvalidArgumentError' } });
  });

  it('timeouts past 2^31-1 ms work, without a 1 ms timer loop or TimeoutOverflowWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const ref = await system.spawn<typeof Troubled>(TROUBLED, { args: {}, thread: 1, timeout: 2 ** 31 });
      expect(await ref.call({ type: 'ping' }, { timeout: 2 ** 40 })).toBe('pong');
      const cpu = process.cpuUsage();
      const held = ref.call({ type: 'lateEffects', ms: 300, url: TROUBLED.href, name: 'x-held' }, { timeout: 2 ** 33 });
      await held;
      const used = process.cpuUsage(cpu);
      // A 1 ms timer loop costs tens of ms of CPU in 300 ms; the wait itself almost nothing.
      expect((used.user + used.system) / 1000).toBeLessThan(150);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('8. replies within a thread', () => {
  it('are copies: a caller on main mutating a reply does not change the actor on main', async () => {
    const ref = await spawnTroubled({}, 0);
    const data = (await ref.call({ type: 'data' })) as { items: number[] };
    data.items.push(99);
    expect(await ref.call({ type: 'data' })).toEqual({ items: [1, 2, 3] });
  });

  for (const thread of THREADS) {
    it(`thread ${thread}: a reply holding a function is an EncodeError, wherever the actor is`, async () => {
      const ref = await spawnTroubled({}, thread);
      await expect(ref.call({ type: 'function' })).rejects.toBeInstanceOf(EncodeError);
    });
  }

  it('an actor on a shard gets a copy from an actor beside it', async () => {
    const owner = await spawnTroubled({}, 1);
    const asker = await system.spawn<typeof Peer>(PEER, { thread: 1 });
    expect(await asker.call({ type: 'call', target: owner.pid, msg: { type: 'function' } })).toMatchObject({ error: 'EncodeError' });
  });
});

describe('9. a crash reason that cannot travel', () => {
  for (const odd of ODD) {
    it(`${odd}: a caller on another thread gets an ExitError with a code and a reason, as one on the same thread does`, async () => {
      for (const [callerThread, calleeThread] of [[0, 1], [1, 2], [0, 0], [1, 1]] as const) {
        const callee = await spawnTroubled({}, calleeThread);
        if (callerThread === 0) {
          const error = await callee.call({ type: 'crash', odd }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ExitError);
          expect((error as ExitError).code).toBe('WEFT_ERR_EXIT');
          expect((error as ExitError).reason).toBeDefined();
        } else {
          const caller = await spawnTroubled({}, callerThread);
          const got = (await caller.call({ type: 'call', target: callee.pid, msg: { type: 'crash', odd } })) as { error: Seen };
          expect(got.error).toMatchObject({ name: 'ExitError', code: 'WEFT_ERR_EXIT', exitError: true });
          expect(got.error.reason).toBeDefined();
        }
      }
    });
  }

  it('a monitor on main gets the reason as far as it could travel: an error stays an Error', async () => {
    const callee = await spawnTroubled({}, 1);
    const watched = down(callee.pid);
    callee.cast({ crash: 'errorWithInstanceCause' });
    const { reason } = await watched;
    expect(reason).toBeInstanceOf(Error);
    expect((reason as Error).message).toContain('db connect failed');
  });
});

describe('10. init that stops or exits itself', () => {
  for (const thread of THREADS) {
    it(`thread ${thread}: ctx.stop(reason) in init rejects the spawn with SpawnError (cause: the reason) and runs nothing`, async () => {
      const baseline = await actorsOn(thread);
      const error = await spawnTroubled({ init: { stop: 'not today' } }, thread, `stopped-${thread}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as SpawnError).cause).toBe('not today');
      expect(await actorsOn(thread)).toBe(baseline);
      expect(system.whereis(`stopped-${thread}`)).toBeUndefined();
    });

    it(`thread ${thread}: ctx.exit(self, reason) in init rejects the spawn too`, async () => {
      for (const reason of ['kill', 'boom']) {
        const error = await spawnTroubled({ init: { exitSelf: reason } }, thread).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SpawnError);
        expect((error as SpawnError).cause).toBe(reason === 'kill' ? 'killed' : reason);
      }
    });
  }
});

describe('11. link and monitor on a pid that died a moment ago', () => {
  for (const thread of THREADS) {
    it(`thread ${thread}: deliver its real exit reason (as documented); one that never existed gives 'noproc'`, async () => {
      const gone = await spawnTroubled({}, thread);
      gone.cast({ stop: 'done here' });
      await down(gone.pid);
      expect((await down(gone.pid)).reason).toBe('done here');
      const watcher = await system.spawn<typeof Peer>(PEER, { thread: 1 });
      await watcher.call({ type: 'monitor', target: gone.pid });
      await watcher.call({ type: 'trap', on: true });
      await watcher.call({ type: 'link', target: gone.pid });
      await expect
        .poll(async () => (await watcher.call({ type: 'downs' })).ok as Array<{ type: string; reason: unknown }>)
        .toEqual([expect.objectContaining({ type: 'DOWN', reason: 'done here' }), expect.objectContaining({ type: 'EXIT', reason: 'done here' })]);
      const never = new Pid(gone.pid.node, thread, 0x3fff_fff0, gone.pid.creation);
      expect((await down(never)).reason).toBe('noproc');
    });
  }
});
