/**
 * The root supervisor on real threads: every way a shard can die (a throw in a timer, an unhandled
 * rejection, process.exit, heap exhaustion, an endless loop) brings it back, and everything that
 * depended on its actors hears why; actors on the other shard never notice. Then the same under a
 * load of calls while a shard is killed again and again: no call is left without an answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ExitError, child, isThreadDown, start, type ActorRef, type System, type ThreadDownCause } from '../src/main/index.js';
import { QUICK, fixtureUrl } from './helpers.js';
import type Counter from './fixtures/actors/counter.js';
import type Peer from './fixtures/actors/peer.js';
import type Saboteur from './fixtures/actors/saboteur.js';
import type { Sabotage } from './fixtures/actors/saboteur.js';

const COUNTER = fixtureUrl('actors/counter');
const PEER = fixtureUrl('actors/peer');
const SABOTEUR = fixtureUrl('actors/saboteur');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const ways: Array<[Sabotage, ThreadDownCause['cause']]> = [
  ['throwInTimer', 'exception'],
  ['unhandledRejection', 'exception'],
  ['exit', 'exit'],
  ['outOfMemory', 'out_of_memory'],
  ['spin', 'hang'],
];

describe('a shard that dies comes back', () => {
  for (const [sabotage, cause] of ways) {
    it(`${sabotage}: pending calls reject with the reason, monitors and links fire, supervised children return, the other shard never notices`, async () => {
      const s = (system = await start({ threads: 2, hangTimeout: 1000, resourceLimits: { maxOldGenerationSizeMb: 48 } }));
      const downs: ThreadDownCause[] = [];
      const ups: number[] = [];
      s.on('threadDown', (why) => downs.push(why));
      s.on('threadUp', ({ thread }) => ups.push(thread));

      const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
      const victim = await s.spawn<typeof Counter>(COUNTER, { args: 1, thread: 1, name: 'victim' });
      const bystander = await s.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
      await bystander.call({ type: 'add', by: 5 });
      const watcher = await s.spawn<typeof Peer>(PEER, { thread: 2 });
      await watcher.call({ type: 'monitor', target: victim.pid });
      const linked = await s.spawn<typeof Peer>(PEER, { thread: 2 });
      await linked.call({ type: 'link', target: victim.pid });
      const linkedDown = s.monitor(linked).down;
      const victimDown = s.monitor(victim).down;
      const sup = await s.supervise({ children: [child<typeof Counter>('phoenix', COUNTER, { args: 7, thread: 1, name: 'phoenix' })] }, { thread: 2 });
      const phoenix = s.whereis<typeof Counter>('phoenix')!;
      const pending = victim.call({ type: 'slowAdd', by: 1, ms: 60_000 }, { timeout: 60_000 });

      saboteur.cast(sabotage);

      const error = await pending.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ExitError);
      const reason = (error as ExitError).reason;
      expect(isThreadDown(reason) && reason.threadDown.cause).toBe(cause);
      expect(isThreadDown(reason) && reason.threadDown.thread).toBe(1);
      expect(isThreadDown((await victimDown).reason)).toBe(true);
      // The linked actor (not trapping exits) dies of the same reason; the monitor gets a DOWN.
      expect(isThreadDown((await linkedDown).reason)).toBe(true);
      await expect.poll(async () => ((await watcher.call({ type: 'downs' })).ok as Array<{ reason: unknown }>).map((d) => isThreadDown(d.reason))).toEqual([true]);
      expect(downs.map((d) => d.cause)).toEqual([cause]);
      if (cause === 'exception') expect(downs[0].error).toBeInstanceOf(Error);

      await expect.poll(() => ups, { timeout: 10_000 }).toEqual([1]);
      // Names on the dead thread are freed; the supervisor (on shard 2) brought its child back on 1.
      await expect.poll(() => (s.whereis('phoenix')?.pid.serial ?? phoenix.pid.serial) !== phoenix.pid.serial, { timeout: 10_000 }).toBe(true);
      const back = s.whereis<typeof Counter>('phoenix')!;
      expect(back.pid.thread).toBe(1);
      expect(await back.call({ type: 'get' })).toBe(7);
      expect(s.whereis('victim')).toBeUndefined();
      expect((await sup.whichChildren())[0].pid).toEqual(back.pid);
      // Calls to the old pids get the reason too, from the new incarnation; new actors start there.
      const late = await victim.call({ type: 'get' }).catch((e: unknown) => e);
      expect(isThreadDown((late as ExitError).reason)).toBe(true);
      const fresh = await s.spawn<typeof Counter>(COUNTER, { args: 3, thread: 1 });
      expect(fresh.pid.serial).toBeGreaterThan(phoenix.pid.serial); // serials are never reused
      expect(await fresh.call({ type: 'get' })).toBe(3);
      // Shard 2 never noticed.
      expect(await bystander.call({ type: 'get' })).toBe(5);
    });
  }
});

describe('shards that die together', () => {
  it('two shards killed at once both come back, and the rings between them carry nothing stale', async () => {
    const s = (system = await start({ threads: 3 }));
    const ups: number[] = [];
    s.on('threadUp', ({ thread }) => ups.push(thread));
    // Traffic between shards 1 and 2 right up to the deaths, so their rings hold frames when they die.
    const a = await s.spawn<typeof Peer>(PEER, { thread: 1 });
    const b = await s.spawn<typeof Peer>(PEER, { thread: 2 });
    void a.call({ type: 'stream', target: b.pid, n: 50_000 }).catch(() => undefined);
    const [one, two] = await Promise.all([1, 2].map((thread) => s.spawn<typeof Saboteur>(SABOTEUR, { thread })));
    one.cast('exit');
    two.cast('exit');
    await expect.poll(() => [...ups].sort(), { timeout: 10_000 }).toEqual([1, 2]);
    const x = await s.spawn<typeof Peer>(PEER, { thread: 1 });
    const y = await s.spawn<typeof Peer>(PEER, { thread: 2 });
    const counter = await s.spawn<typeof Counter>(COUNTER, { args: 1, thread: 2 });
    expect(await x.call({ type: 'call', target: counter.pid, msg: { type: 'add', by: 1 } })).toEqual({ ok: 2 });
    await x.call({ type: 'stream', target: y.pid, n: 10_000 });
    await expect.poll(async () => (await y.call({ type: 'received' })).ok, { timeout: 10_000 }).toMatchObject({ count: 10_000, outOfOrder: 0 });
  });

  it('a supervisor whose many children die with one shard counts it as one restart', async () => {
    const s = (system = await start({ threads: 2 }));
    const children = Array.from({ length: 6 }, (_, i) => child<typeof Counter>(`c${i}`, COUNTER, { args: i, thread: 1 }));
    const sup = await s.supervise({ maxRestarts: 1, children }, { thread: 2 });
    const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
    const before = (await sup.whichChildren()).map((c) => c.pid!.serial);
    saboteur.cast('exit');
    await expect.poll(async () => (await sup.whichChildren()).every((c, i) => c.pid !== null && c.pid.serial !== before[i]), { timeout: 10_000 }).toBe(true);
    expect(await (await sup.child<typeof Counter>('c5'))!.call({ type: 'get' })).toBe(5);
  });
});

describe('top-level supervisors', () => {
  it('one that lived on the dead shard is started again by main, with its tree, and its ref follows', async () => {
    const s = (system = await start({ threads: 2 }));
    const restarts: unknown[] = [];
    s.on('restart', (event) => restarts.push(event));
    const sup = await s.supervise({ children: [child<typeof Counter>('kept', COUNTER, { args: 4, thread: 2, name: 'kept' })] }, { thread: 1, name: 'top' });
    const old = sup.pid;
    const kept = s.whereis<typeof Counter>('kept')!;
    const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
    saboteur.cast('exit');
    // The child on shard 2 was linked to its supervisor: it went down too, and came back with the tree.
    await expect.poll(() => sup.pid.serial !== old.serial, { timeout: 10_000 }).toBe(true);
    expect(sup.pid.thread).toBe(1);
    expect(s.whereis('top')?.pid).toEqual(sup.pid);
    await expect.poll(() => (s.whereis('kept')?.pid.serial ?? kept.pid.serial) !== kept.pid.serial, { timeout: 10_000 }).toBe(true);
    expect(await s.whereis<typeof Counter>('kept')!.call({ type: 'get' })).toBe(4);
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(restarts).toContainEqual(expect.objectContaining({ supervisor: null, old, pid: sup.pid }));
  });
});

describe('under load', () => {
  it('calls to both shards while shard 1 is killed repeatedly: every call settles, and calls succeed after each restart', async () => {
    const s = (system = await start({ threads: 2, threadRestarts: { maxRestarts: 100, maxSeconds: 10 } }));
    const kills = QUICK ? 3 : 6;
    const sup = await s.supervise({ maxRestarts: 100, children: [child<typeof Counter>('one', COUNTER, { args: 0, thread: 1, name: 'one' })] }, { thread: 2 });
    const two = await s.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
    const outcomes = { ok: 0, exit: 0, other: [] as unknown[] };
    let running = true;
    let inFlight = 0;
    const loop = async (target: () => ActorRef<typeof Counter> | undefined) => {
      while (running) {
        const ref = target();
        if (ref === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        inFlight++;
        try {
          await ref.call({ type: 'add', by: 1 });
          outcomes.ok++;
        } catch (error) {
          if (error instanceof ExitError && isThreadDown(error.reason)) outcomes.exit++;
          else outcomes.other.push(error);
        } finally {
          inFlight--;
        }
      }
    };
    const loops = [0, 1, 2, 3].map((i) => loop(i % 2 === 0 ? () => s.whereis<typeof Counter>('one') : () => two));
    for (let kill = 0; kill < kills; kill++) {
      const before = outcomes.ok;
      await expect.poll(() => outcomes.ok, { timeout: 10_000 }).toBeGreaterThan(before + 50);
      const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
      const up = new Promise((resolve) => s.once('threadUp', resolve));
      saboteur.cast('exit');
      await up;
      // Calls succeed again after the restart, on the restarted child.
      await expect.poll(async () => (await s.whereis<typeof Counter>('one')?.call({ type: 'get' }).catch(() => -1)) ?? -1, { timeout: 10_000 }).toBeGreaterThanOrEqual(0);
    }
    running = false;
    await Promise.all(loops);
    expect(inFlight).toBe(0);
    expect(outcomes.other).toEqual([]);
    expect(outcomes.exit).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(kills * 50);
    expect((await s.stats()).awaitedReplies).toBe(0);
    expect((await sup.whichChildren())[0].pid).not.toBeNull();
  });

  it('past threadRestarts the system emits fatal with the history and stops', async () => {
    const s = (system = await start({ threads: 1, threadRestarts: { maxRestarts: 1, maxSeconds: 10 } }));
    const fatal = new Promise<{ history: unknown[] }>((resolve) => s.once('fatal', resolve));
    for (let i = 0; i < 2; i++) {
      const saboteur = await s.spawn<typeof Saboteur>(SABOTEUR, { thread: 1 });
      const next = new Promise((resolve) => s.once(i === 0 ? 'threadUp' : 'fatal', resolve));
      saboteur.cast('exit');
      await next;
    }
    expect((await fatal).history).toHaveLength(2);
    await expect(s.spawn<typeof Counter>(COUNTER, { args: 0 })).rejects.toThrow(/stopped/);
  });
});
