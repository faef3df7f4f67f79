/**
 * Supervisors on real shards: each strategy over children on both shards, restart types, intensity
 * and its escalation up a two-level tree, shutdown order and timeouts, names after restarts,
 * dynamic supervisors, and supervisors under actors.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChildError,
  InvalidArgumentError,
  MaxChildrenError,
  SpawnError,
  child,
  start,
  supervisorChild,
  type ActorRef,
  type Pid,
  type SupervisionEvent,
  SupervisorRef,
  type System,
} from '../src/main/index.js';
import { fixtureUrl } from './helpers.js';
import type Worker from './fixtures/actors/worker.js';
import type Parent from './fixtures/actors/parent.js';

const WORKER = fixtureUrl('actors/worker');
const PARENT = fixtureUrl('actors/parent');

/**
 * Every test runs on shards and inline (`threads: 0`: supervisors and children all on main), with
 * the same semantics. `on(n)`: where a child placed on shard n lands.
 */
describe.each([{ threads: 2 }, { threads: 0 }])('with threads: $threads', ({ threads }) => {
  const on = (shard: number): number => (threads === 0 ? 0 : shard);

  let system: System;
  const restarts: SupervisionEvent[] = [];
  beforeAll(async () => {
    system = await start({ threads });
    system.on('restart', (event) => restarts.push(event));
  });
  afterAll(() => system.stop());

  const newLog = () => join(mkdtempSync(join(tmpdir(), 'weft-sup-')), 'log');
  const lines = (log: string) => readFileSync(log, 'utf8').trim().split('\n');
  let names = 0;
  /** Three workers a, b, c: on shard 1, shard 2, and the supervisor's own thread; each named. */
  function abc(log: string, prefix = `w${++names}`) {
    return (['a', 'b', 'c'] as const).map((id, i) => child<typeof Worker>(id, WORKER, { args: { id, log }, thread: [1, 2, 'local' as const][i], name: `${prefix}-${id}` }));
  }
  async function pids(sup: SupervisorRef): Promise<Record<string, Pid | null>> {
    return Object.fromEntries((await sup.whichChildren()).map((c) => [c.id, c.pid]));
  }
  async function crash(sup: SupervisorRef, id: string): Promise<void> {
    const ref = await sup.child<typeof Worker>(id);
    await ref!.call({ type: 'crash' }).catch(() => undefined);
  }
  /**
   * A two-level tree spanning both shards: a root on shard `rootThread` whose one child is a supervisor
   * with `spec` on the other shard. Returns the inner supervisor, and a check that the root never
   * had to restart it.
   */
  async function tree(spec: Parameters<typeof supervisorChild>[1], rootThread: 1 | 2) {
    const root = await system.supervise({ children: [supervisorChild('inner', spec, { thread: 3 - rootThread })] }, { thread: rootThread });
    const innerPid = (await pids(root)).inner!;
    expect(innerPid.thread).toBe(on(3 - rootThread));
    const inner = new SupervisorRef(innerPid, system);
    return { root, inner, untouched: async () => expect((await pids(root)).inner).toEqual(innerPid) };
  }

  /** Waits until the child `id` runs under a pid other than `old`. */
  async function replaced(sup: SupervisorRef, id: string, old: Pid | null): Promise<Pid> {
    await expect.poll(async () => (await pids(sup))[id]?.serial ?? null).not.toBe(old?.serial ?? null);
    await expect.poll(async () => (await pids(sup))[id]).not.toBeNull();
    return (await pids(sup))[id]!;
  }

  describe('strategies, each in a two-level tree over both shards', () => {
    it('one_for_one: only the crashed child restarts (on its own shard, with its name back)', async () => {
      const log = newLog();
      const { root, inner: sup, untouched } = await tree({ strategy: 'one_for_one', children: abc(log, 'ofo') }, 2);
      const before = await pids(sup);
      expect([before.a!.thread, before.b!.thread, before.c!.thread]).toEqual([on(1), on(2), on(1)]);
      await crash(sup, 'b');
      const b = await replaced(sup, 'b', before.b);
      expect(b.thread).toBe(on(2));
      const after = await pids(sup);
      expect(after.a).toEqual(before.a);
      expect(after.c).toEqual(before.c);
      await expect.poll(() => system.whereis('ofo-b')?.pid).toEqual(b);
      expect(await system.whereis<typeof Worker>('ofo-b')!.call({ type: 'ping' })).toBe('pong b 1');
      expect(restarts).toContainEqual(expect.objectContaining({ type: 'restart', supervisor: sup.pid, id: 'b', old: before.b, pid: b }));
      await untouched();
      await root.stop();
    });

    it('one_for_all: every child is stopped (others in reverse order) and all start again in order', async () => {
      const log = newLog();
      const { root, inner: sup, untouched } = await tree({ strategy: 'one_for_all', children: abc(log) }, 1);
      const before = await pids(sup);
      await crash(sup, 'b');
      await replaced(sup, 'b', before.b);
      await expect.poll(() => lines(log).length).toBe(9);
      expect(lines(log)).toEqual(['start a', 'start b', 'start c', 'stop b b crashed', 'stop c shutdown', 'stop a shutdown', 'start a', 'start b', 'start c']);
      const after = await pids(sup);
      for (const id of ['a', 'b', 'c']) expect(after[id]!.serial).not.toBe(before[id]!.serial);
      await untouched();
      await root.stop();
    });

    it('rest_for_one: the crashed child and those started after it restart; earlier ones live on', async () => {
      const log = newLog();
      const { root, inner: sup, untouched } = await tree({ strategy: 'rest_for_one', children: abc(log) }, 2);
      const before = await pids(sup);
      await crash(sup, 'b');
      await replaced(sup, 'c', before.c);
      await expect.poll(() => lines(log).length).toBe(7);
      expect(lines(log).slice(3)).toEqual(['stop b b crashed', 'stop c shutdown', 'start b', 'start c']);
      const after = await pids(sup);
      expect(after.a).toEqual(before.a);
      expect(after.b!.serial).not.toBe(before.b!.serial);
      await untouched();
      await root.stop();
    });
  });

  describe('restart types', () => {
    it('permanent always restarts; transient only after a crash; temporary never, and its spec goes', async () => {
      const specs = (['permanent', 'transient', 'temporary'] as const).map((restart) =>
        child<typeof Worker>(restart, WORKER, { args: { id: restart }, restart, thread: 2 }),
      );
      const sup = await system.supervise({ children: specs, maxRestarts: 10 }, { thread: 1 });
      const call = async (id: string, msg: { type: 'crash' } | { type: 'exit'; reason: string }) => (await sup.child<typeof Worker>(id))!.call(msg).catch(() => undefined);
      const first = await pids(sup);

      await call('permanent', { type: 'exit', reason: 'normal' });
      const permanent = await replaced(sup, 'permanent', first.permanent);

      await call('transient', { type: 'exit', reason: 'normal' });
      await expect.poll(async () => (await pids(sup)).transient).toBeNull();
      await sup.restartChild('transient');
      const transient = (await pids(sup)).transient;
      await call('transient', { type: 'crash' });
      await replaced(sup, 'transient', transient);

      await call('temporary', { type: 'crash' });
      await expect.poll(async () => (await sup.whichChildren()).map((c) => c.id)).toEqual(['permanent', 'transient']);
      expect((await pids(sup)).permanent).toEqual(permanent);
      expect(await sup.countChildren()).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 });
      await sup.stop();
    });
  });

  describe('intensity and escalation', () => {
    it('past maxRestarts in maxSeconds the supervisor stops its children and exits with shutdown', async () => {
      const log = newLog();
      const sup = await system.supervise({ maxRestarts: 2, maxSeconds: 10, children: abc(log) }, { thread: 2 });
      const { down } = system.monitor(sup.pid);
      for (let i = 0; i < 2; i++) {
        const old = (await pids(sup)).a;
        await crash(sup, 'a');
        await replaced(sup, 'a', old);
      }
      await crash(sup, 'a');
      expect((await down).reason).toBe('shutdown');
      expect(lines(log).slice(-3)).toEqual(['stop a a crashed', 'stop c shutdown', 'stop b shutdown']);
    });

    it('a two-level tree over both shards: an inner supervisor that gives up is restarted by the root', async () => {
      const log = newLog();
      const inner = supervisorChild('inner', { maxRestarts: 0, children: [child<typeof Worker>('leaf', WORKER, { args: { id: 'leaf', log }, name: 'tree-leaf', thread: 1 })] }, { thread: 2 });
      const root = await system.supervise({ strategy: 'one_for_one', children: [child<typeof Worker>('sibling', WORKER, { args: { id: 'sibling', log } }), inner] }, { thread: 1 });
      const before = await pids(root);
      expect(before.inner!.thread).toBe(on(2));
      const leaf = system.whereis<typeof Worker>('tree-leaf')!;
      await leaf.call({ type: 'crash' }).catch(() => undefined);
      const innerAgain = await replaced(root, 'inner', before.inner);
      expect(restarts).toContainEqual(expect.objectContaining({ supervisor: root.pid, id: 'inner', old: before.inner, pid: innerAgain, reason: 'shutdown' }));
      expect((await pids(root)).sibling).toEqual(before.sibling);
      await expect.poll(() => system.whereis('tree-leaf')?.pid.serial).not.toBe(leaf.pid.serial);
      expect(await system.whereis<typeof Worker>('tree-leaf')!.call({ type: 'ping' })).toBe('pong leaf 1');
      await root.stop();
      expect(lines(log)).toEqual(['start sibling', 'start leaf', 'stop leaf leaf crashed', 'start leaf', 'stop leaf shutdown', 'stop sibling shutdown']);
    });
  });

  describe('shutdown', () => {
    it('stops children in reverse order, killing one that outlives its shutdown time; brutal_kill skips terminate', async () => {
      const log = newLog();
      const sup = await system.supervise(
        {
          children: [
            child<typeof Worker>('patient', WORKER, { args: { id: 'patient', log, trap: true, stopDelay: 100 }, shutdown: 5000, thread: 2 }),
            child<typeof Worker>('slow', WORKER, { args: { id: 'slow', log, trap: true, stopDelay: 5000 }, shutdown: 200, thread: 1 }),
            child<typeof Worker>('brutal', WORKER, { args: { id: 'brutal', log }, shutdown: 'brutal_kill', thread: 2 }),
          ],
        },
        { thread: 1 },
      );
      const started = performance.now();
      await sup.stop();
      const took = performance.now() - started;
      // brutal: killed, no terminate; slow: killed after 200 ms, no terminate; patient: stops cleanly.
      expect(lines(log)).toEqual(['start patient', 'start slow', 'start brutal', 'stop patient shutdown']);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(4000);
    });

    it('system.stop ends a tree started under an actor too (every thread stopping at once), without waiting out timeouts', async () => {
      const local = await start({ threads });
      const log = newLog();
      const parent = await local.spawn<typeof Parent>(PARENT, { thread: 1 });
      const children = (['a', 'b', 'c'] as const).map((id, i) => ({ id, actor: WORKER.href, args: { id, log }, thread: [1, 2, 'local' as const][i] }));
      await parent.call({ type: 'supervise', spec: { children }, thread: 2 });
      const started = performance.now();
      await local.stop();
      expect(performance.now() - started).toBeLessThan(3000);
      expect(lines(log).sort()).toEqual(['start a', 'start b', 'start c', 'stop a shutdown', 'stop b shutdown', 'stop c shutdown']);
    });

    it('system.stop stops supervision trees first, newest tree first, each child in reverse order', async () => {
      const local = await start({ threads });
      const log = newLog();
      for (const tree of ['x', 'y', 'z']) {
        const children = ['1', '2'].map((n, i) => child<typeof Worker>(`${tree}${n}`, WORKER, { args: { id: `${tree}${n}`, log }, thread: i + 1 }));
        await local.supervise({ children }, { thread: 2 });
      }
      await local.stop();
      expect(lines(log).slice(6)).toEqual(['stop z2 shutdown', 'stop z1 shutdown', 'stop y2 shutdown', 'stop y1 shutdown', 'stop x2 shutdown', 'stop x1 shutdown']);
    });

    it("a supervisor stops with its parent whatever the parent's reason, normal included, and ignores other EXITs", async () => {
      const log = newLog();
      const parent = await system.spawn<typeof Parent>(PARENT, { thread: 1 });
      const supPid = await parent.call({ type: 'supervise', spec: { children: [{ id: 'kid', actor: WORKER.href, args: { id: 'kid', log } }] }, thread: 2 });
      const { down } = system.monitor(supPid!);
      await parent.call({ type: 'stop' });
      expect((await down).reason).toBe('normal');
      expect(lines(log)).toEqual(['start kid', 'stop kid shutdown']);
    });
  });

  describe('dynamic supervisors', () => {
    it('startChild up to maxChildren, which/count/terminate, and a crashed dynamic child restarts', async () => {
      const sup = await system.supervise({ strategy: 'dynamic', maxChildren: 2 }, { thread: 2 });
      expect(await sup.countChildren()).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
      const one: ActorRef<typeof Worker> = await sup.startChild<typeof Worker>({ actor: WORKER, args: { id: 'one' }, thread: 1 });
      await sup.startChild<typeof Worker>({ actor: WORKER, args: { id: 'two' } });
      await expect(sup.startChild<typeof Worker>({ actor: WORKER, args: { id: 'three' } })).rejects.toBeInstanceOf(MaxChildrenError);
      expect(await one.call({ type: 'ping' })).toBe('pong one 1');
      const [first, second] = await sup.whichChildren();
      expect(first.pid).toEqual(one.pid);
      await one.call({ type: 'crash' }).catch(() => undefined);
      await replaced(sup, first.id, one.pid);
      await sup.terminateChild(second.id);
      expect(await sup.countChildren()).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
      await sup.stop();
    });

    it('static supervisors refuse a taken id, an unknown id, and deleting a running child', async () => {
      const sup = await system.supervise({ children: [child<typeof Worker>('x', WORKER, { args: { id: 'x' } })] }, { thread: 1 });
      await expect(sup.startChild(child<typeof Worker>('x', WORKER, { args: { id: 'x' } }))).rejects.toBeInstanceOf(ChildError);
      await expect(sup.terminateChild('nope')).rejects.toBeInstanceOf(ChildError);
      await expect(sup.deleteChild('x')).rejects.toBeInstanceOf(ChildError);
      await sup.terminateChild('x');
      await sup.deleteChild('x');
      expect(await sup.whichChildren()).toEqual([]);
      await sup.stop();
    });
  });

  describe('supervisors under actors, and bad specs', () => {
    it('ctx.supervise: when the parent actor crashes, its supervisor stops the children and goes too', async () => {
      const log = newLog();
      const parent = await system.spawn<typeof Parent>(PARENT, { thread: 1 });
      const spec = { children: [{ id: 'kid', actor: WORKER.href, args: { id: 'kid', log }, thread: 2 }] };
      const supPid = await parent.call({ type: 'supervise', spec, thread: 2 });
      const { down } = system.monitor(supPid!);
      await parent.call({ type: 'crash' }).catch(() => undefined);
      expect(((await down).reason as Error).message).toBe('parent crashed');
      expect(lines(log)).toEqual(['start kid', 'stop kid shutdown']);
    });

    it('a bad spec is an InvalidArgumentError; a child that cannot start fails the supervisor and stops its elders', async () => {
      await expect(system.supervise({ strategy: 'one_for_none' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(system.supervise({ children: [child('a', WORKER, { restart: 'sometimes' as never })] })).rejects.toThrow(/`restart`/);
      await expect(system.supervise({ children: [child('a', WORKER), child('a', WORKER)] })).rejects.toThrow(/unique/);
      const log = newLog();
      const error = await system
        .supervise({ children: [child<typeof Worker>('fine', WORKER, { args: { id: 'fine', log }, thread: 2 }), child('missing', new URL('./nope.js', WORKER))] }, { thread: 1 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as Error).message).toMatch(/could not start its child "missing"/);
      expect(lines(log)).toEqual(['start fine', 'stop fine shutdown']);
    });
  });
});
