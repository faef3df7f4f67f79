/**
 * crash-recovery: how long a shard takes to come back and serve again after it dies, and whether
 * any call is lost on the way (weft only: no peer has threads that restart under supervision).
 *
 * A supervisor on main keeps a pool of adder actors on every shard (named `pool-<thread>-<i>`),
 * and callers on main call them in a steady loop (no timeout, so a call that were never answered
 * would stay in flight and be counted). Then, N times, 250 ms apart: an actor on shard 1 calls
 * `process.exit`, and the clock runs from that cast to the first successful call to a restarted
 * pool actor on shard 1. `lostCalls`: calls still unanswered 2 s after the loops stop.
 *
 * The suite fails, rather than count it, on a wrong sum, on a call rejected with anything but the
 * exit of the shard it crossed (`ExitError`, or `NoProcError` for a call that reached the actor's
 * old pid), and on a lost call: each would be a bug, not a cost of recovery.
 *
 * The 250 ms leave the root supervisor time to boot its next standby worker (see
 * src/main/root-supervisor.ts); a shard that dies again sooner than a worker boots (~50 ms here)
 * waits for that boot. One kill before the N is not counted: a system this busy from its first
 * second has not booted its first standby yet (root-supervisor.ts boots it once a core is free),
 * so that restart boots a fresh worker; this measures a service that has been running.
 */
import { start, child, ExitError, NoProcError, type ActorRef } from '../../src/main/index.js';
import { assert, percentile, type Suite } from '../harness.js';
import type Adder from '../actors/adder.js';
import type Crasher from '../actors/crasher.js';

const THREADS = 2;
const PER_SHARD = 4;
const CALLERS = 8;
const KILLS = { full: 30, quick: 5 };
const KILL_EVERY_MS = 250;
const ADDER = new URL('../actors/adder.js', import.meta.url);
const CRASHER = new URL('../actors/crasher.js', import.meta.url);

/** A call's rejection that a shard's death explains: the exit of its thread, or the actor gone with it. */
function crossedTheDeath(err: unknown): boolean {
  return err instanceof ExitError || err instanceof NoProcError;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const suite: Suite = {
  name: 'crash-recovery',
  title: `a shard killed (process.exit) under steady calls to a supervised pool on ${THREADS} shards: ms until it serves again, and calls lost`,
  metrics: ['p50Ms', 'p99Ms', 'lostCalls'],
  better: { lostCalls: 'lower' },
  async run({ quick, log }) {
    const kills = quick ? KILLS.quick : KILLS.full;
    const system = await start({ threads: THREADS, threadRestarts: { maxRestarts: kills + 5, maxSeconds: 600 } });
    try {
      const children = [];
      for (let thread = 1; thread <= THREADS; thread++) {
        for (let i = 0; i < PER_SHARD; i++) children.push(child<typeof Adder>(`pool-${thread}-${i}`, ADDER, { thread, name: `pool-${thread}-${i}` }));
      }
      // On main (thread 0): the supervisor outlives every shard it supervises.
      await system.supervise({ maxRestarts: 10 * kills * PER_SHARD, maxSeconds: 600, children }, { thread: 0 });
      const names = children.map((c) => c.name!);

      let running = true;
      let inFlight = 0;
      let ok = 0;
      let failed = 0;
      const caller = async (offset: number) => {
        for (let n = offset; running; n++) {
          const ref = system.whereis<typeof Adder>(names[n % names.length]);
          if (ref === undefined) {
            await pause(0); // between a death and the restart the name is free
            continue;
          }
          inFlight++;
          let sum: number;
          try {
            sum = await ref.call({ a: n, b: 1 }, { timeout: Infinity });
          } catch (err) {
            if (!crossedTheDeath(err)) throw err;
            failed++; // ExitError({ threadDown }) for calls that crossed the death
            continue;
          } finally {
            inFlight--;
          }
          assert(sum === n + 1, `${ref.pid}: add(${n}, 1) answered ${JSON.stringify(sum)}, expected ${n + 1}`);
          ok++;
        }
      };
      // A caller that throws (a wrong sum, an unexpected error) ends the suite at the next kill.
      let broken: unknown;
      const callers = Array.from({ length: CALLERS }, (_, i) =>
        caller(i).catch((err: unknown) => {
          broken ??= err;
          running = false;
        }),
      );

      const recoveries: number[] = [];
      // kill -1: the uncounted first (see the module comment)
      for (let kill = -1; kill < kills; kill++) {
        await pause(KILL_EVERY_MS);
        const crasher = await system.spawn<typeof Crasher>(CRASHER, { thread: 1 });
        const before = system.whereis('pool-1-0')!.pid.serial;
        const killedAt = performance.now();
        crasher.cast(undefined as never);
        // The first successful call to a restarted pool actor on shard 1.
        for (;;) {
          const ref: ActorRef<typeof Adder> | undefined = system.whereis('pool-1-0');
          if (ref !== undefined && ref.pid.serial !== before) {
            const sum = await ref.call({ a: kill, b: 1 }).catch((err: unknown) => {
              if (crossedTheDeath(err)) return undefined; // restarted, then down again: try the next one
              throw err;
            });
            if (sum !== undefined) {
              assert(sum === kill + 1, `${ref.pid}: add(${kill}, 1) answered ${JSON.stringify(sum)}, expected ${kill + 1}`);
              break;
            }
          }
          await pause(0);
        }
        if (kill >= 0) recoveries.push(performance.now() - killedAt);
        if (broken !== undefined) break;
      }
      running = false;
      const settled = performance.now();
      while (inFlight > 0 && performance.now() - settled < 2000) await pause(5);
      const lostCalls = inFlight;
      await Promise.race([Promise.all(callers), pause(100)]);
      if (broken !== undefined) throw broken;
      assert(lostCalls === 0, `${lostCalls} call(s) still unanswered 2 s after the callers stopped: every call must settle`);
      log(`${kills} kills; ${ok.toLocaleString('en-US')} calls answered, ${failed.toLocaleString('en-US')} rejected with the exit reason, ${lostCalls} lost`);
      log(`recovery ms: min ${Math.min(...recoveries).toFixed(1)}, max ${Math.max(...recoveries).toFixed(1)}`);
      return {
        results: { weft: { p50Ms: percentile(recoveries, 50), p99Ms: percentile(recoveries, 99), lostCalls } },
        config: { weft: { shards: THREADS, poolPerShard: PER_SHARD, callers: CALLERS, kills, killEveryMs: KILL_EVERY_MS, killedShard: 1, supervisorOn: 'main' } },
      };
    } finally {
      await system.stop();
    }
  },
};
