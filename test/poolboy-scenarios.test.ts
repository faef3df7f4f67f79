/**
 * poolboy's own eunit scenarios (devinus/poolboy test/poolboy_tests.erl), step by step against
 * weft's pool on real shards. poolboy's introspection maps onto `status()`: `get_avail_workers` is
 * `available`, `get_all_monitors` (the loans) is `checkedOut`, and `get_all_workers` (every worker
 * alive) is `available + checkedOut`. `kill_worker` is `system.exit(worker, 'kill')` awaited
 * through a monitor, and a poolboy `spawn`ed client is a borrower actor on a shard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckoutTimeoutError, start, type ActorRef, type PoolRef, type System } from '../src/main/index.js';
import type { Pid } from '../src/shm/pid.js';
import { fixtureUrl } from './helpers.js';
import type Worker from './fixtures/actors/worker.js';
import type Borrower from './fixtures/actors/borrower.js';

const WORKER = fixtureUrl('actors/worker');
const BORROWER = fixtureUrl('actors/borrower');

let system: System;
beforeAll(async () => {
  system = await start({ threads: 2 });
});
afterAll(() => system.stop());

type Pool = PoolRef<typeof Worker>;

const newPool = (size: number, maxOverflow: number, strategy?: 'lifo' | 'fifo'): Promise<Pool> =>
  system.pool<typeof Worker>({ actor: WORKER, args: { id: 'w' }, size, maxOverflow, ...(strategy === undefined ? {} : { strategy }) });

const checkoutMany = async (pool: Pool, n: number): Promise<Array<ActorRef<typeof Worker>>> => {
  const workers = [];
  for (let i = 0; i < n; i++) workers.push(await pool.checkout());
  return workers;
};

/** Ends a worker and waits for its exit, as poolboy's `kill_worker`; the pool hears it after us, so `status` is awaited with poll. */
const killWorker = async (worker: ActorRef | Pid): Promise<void> => {
  const { down } = system.monitor(worker);
  system.exit(worker, 'kill');
  expect((await down).reason).toBe('killed');
};

/** `{ avail, all, monitors }` as poolboy's three introspection calls count them. */
const counts = async (pool: Pool) => {
  const { available, checkedOut } = await pool.status();
  return { avail: available, all: available + checkedOut, monitors: checkedOut };
};

/** A client actor that checks out and holds its worker; resolves with the worker's pid once it has one. */
const borrowFromActor = async (pool: Pool, timeout = 60_000): Promise<{ got: Promise<Pid>; borrower: ActorRef<typeof Borrower> }> => {
  const borrower = await system.spawn<typeof Borrower>(BORROWER, { thread: 2 });
  const got = borrower.call({ type: 'borrow', pool: pool.pid, timeout }, { timeout: Infinity }) as Promise<Pid>;
  return { got, borrower };
};

/** True if `promise` is still pending after `ms` (poolboy's `receive ... after 500`). */
const stillPending = async (promise: Promise<unknown>, ms: number): Promise<boolean> => {
  const marker = Symbol('pending');
  const first = await Promise.race([promise.then(() => 'settled', () => 'settled'), new Promise((resolve) => setTimeout(() => resolve(marker), ms))]);
  return first === marker;
};

describe("poolboy's scenarios", () => {
  it('basic pool operations', async () => {
    const pool = await newPool(10, 5);
    expect((await counts(pool)).avail).toBe(10);
    await pool.checkout();
    expect((await counts(pool)).avail).toBe(9);
    const worker = await pool.checkout();
    expect((await counts(pool)).avail).toBe(8);
    pool.checkin(worker);
    expect(await counts(pool)).toEqual({ avail: 9, all: 10, monitors: 1 });
    await pool.stop();
  });

  it('pool overflow should work', async () => {
    const pool = await newPool(5, 5);
    const [a, b, c, d, e, f, g] = await checkoutMany(pool, 7);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 7 });
    pool.checkin(a);
    pool.checkin(b);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 5 });
    pool.checkin(c);
    pool.checkin(d);
    expect(await counts(pool)).toMatchObject({ avail: 2, all: 5 });
    pool.checkin(e);
    pool.checkin(f);
    expect(await counts(pool)).toMatchObject({ avail: 4, all: 5 });
    pool.checkin(g);
    expect(await counts(pool)).toEqual({ avail: 5, all: 5, monitors: 0 });
    await pool.stop();
  });

  for (const overflow of [2, 0]) {
    it(`pool behaves when empty (max_overflow ${overflow})`, async () => {
      const pool = await newPool(5, overflow);
      const workers = await checkoutMany(pool, 5 + overflow);
      expect(await counts(pool)).toMatchObject({ avail: 0, all: 5 + overflow });
      const waiting = pool.checkout({ timeout: 60_000 });
      expect(await stillPending(waiting, 500)).toBe(true);
      pool.checkin(workers[0]);
      pool.checkin(workers[1]);
      const got = await waiting;
      expect(workers.map((w) => w.pid.serial)).toContain(got.pid.serial);
      pool.checkin(got);
      // With overflow, both checkins dismissed an overflow worker (one of them after the waiter was served).
      expect(await counts(pool)).toMatchObject(overflow === 2 ? { avail: 0, all: 5 } : { avail: 2, all: 5 });
      for (const w of workers.slice(2)) pool.checkin(w);
      expect(await counts(pool)).toEqual({ avail: 5, all: 5, monitors: 0 });
      await pool.stop();
    });
  }

  it('pool behaves on worker death: dead workers are replaced only while overflow is 0', async () => {
    const pool = await newPool(5, 2);
    await killWorker(await pool.checkout());
    await expect.poll(() => counts(pool)).toEqual({ avail: 5, all: 5, monitors: 0 });
    const [a, b, c] = await checkoutMany(pool, 7);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 7 });
    await killWorker(a);
    await expect.poll(() => counts(pool)).toMatchObject({ avail: 0, all: 6 });
    await killWorker(b);
    await killWorker(c);
    await expect.poll(() => counts(pool)).toEqual({ avail: 1, all: 5, monitors: 4 });
    await pool.stop();
  });

  it('pool behaves when full and a worker dies: a queued checkout gets a new worker', async () => {
    const pool = await newPool(5, 2);
    await killWorker(await pool.checkout());
    await expect.poll(() => counts(pool)).toMatchObject({ avail: 5, all: 5 });
    const [a, b] = await checkoutMany(pool, 7);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 7 });
    const { got } = await borrowFromActor(pool);
    expect(await stillPending(got, 500)).toBe(true);
    await killWorker(a);
    await got; // the waiting client was served
    await killWorker(b);
    await expect.poll(() => counts(pool)).toEqual({ avail: 0, all: 6, monitors: 6 });
    await pool.stop();
  });

  it('pool behaves when full, a worker dies and overflow is disabled', async () => {
    const pool = await newPool(5, 0);
    await killWorker(await pool.checkout());
    await expect.poll(() => counts(pool)).toMatchObject({ avail: 5, all: 5 });
    const [a, b, c] = await checkoutMany(pool, 5);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 5 });
    const { got } = await borrowFromActor(pool);
    expect(await stillPending(got, 500)).toBe(true);
    await killWorker(a);
    await got;
    await killWorker(b);
    await expect.poll(() => counts(pool)).toMatchObject({ avail: 1, all: 5 });
    await killWorker(c);
    await expect.poll(() => counts(pool)).toEqual({ avail: 2, all: 5, monitors: 3 });
    await pool.stop();
  });

  it('non-blocking pool behaves when full and overflow is disabled', async () => {
    const pool = await newPool(5, 0);
    const workers = await checkoutMany(pool, 5);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 5 });
    expect(await pool.checkout({ block: false })).toBe('full');
    expect(await pool.checkout({ block: false })).toBe('full');
    pool.checkin(workers[0]);
    expect((await pool.checkout()).pid).toEqual(workers[0].pid);
    expect((await counts(pool)).monitors).toBe(5);
    await pool.stop();
  });

  it('non-blocking pool behaves when full: the checked-in worker is shut down while overflow is out', async () => {
    const pool = await newPool(5, 5);
    const workers = await checkoutMany(pool, 10);
    expect(await counts(pool)).toMatchObject({ avail: 0, all: 10 });
    expect(await pool.checkout({ block: false })).toBe('full');
    const { down } = system.monitor(workers[0]);
    pool.checkin(workers[0]);
    const fresh = await pool.checkout({ block: false });
    expect(fresh).not.toBe('full');
    expect((await down).reason).toBe('shutdown');
    expect(await pool.checkout({ block: false })).toBe('full');
    expect((await counts(pool)).monitors).toBe(10);
    await pool.stop();
  });

  it('pool behaves on owner death: the worker comes back', async () => {
    const pool = await newPool(5, 5);
    const { got, borrower } = await borrowFromActor(pool);
    await got;
    const { down } = system.monitor(borrower);
    system.exit(borrower, 'normal-for-poolboy');
    await down;
    await expect.poll(() => counts(pool)).toEqual({ avail: 5, all: 5, monitors: 0 });
    await pool.stop();
  });

  it('worker checked in after an exception in a transaction', async () => {
    const pool = await newPool(2, 0);
    expect((await counts(pool)).avail).toBe(2);
    await expect(
      pool.transaction(async () => {
        expect((await counts(pool)).avail).toBe(1);
        throw new Error('it_on_the_ground');
      }),
    ).rejects.toThrow('it_on_the_ground');
    expect((await counts(pool)).avail).toBe(2);
    await pool.stop();
  });

  it('pool returns status', async () => {
    const steps: Array<[size: number, overflow: number, statuses: Array<[string, number, number, number]>]> = [
      [2, 0, [['ready', 2, 0, 0], ['ready', 1, 0, 1], ['full', 0, 0, 2]]],
      [1, 1, [['ready', 1, 0, 0], ['overflow', 0, 0, 1], ['full', 0, 1, 2]]],
      [0, 2, [['overflow', 0, 0, 0], ['overflow', 0, 1, 1], ['full', 0, 2, 2]]],
      [0, 0, [['full', 0, 0, 0]]],
    ];
    for (const [size, overflow, statuses] of steps) {
      const pool = await newPool(size, overflow);
      for (const [i, [state, available, over, checkedOut]] of statuses.entries()) {
        if (i > 0) await pool.checkout();
        expect(await pool.status(), `pool(${size}, ${overflow}) after ${i} checkouts`).toEqual({ state, available, overflow: over, checkedOut });
      }
      await pool.stop();
    }
  });

  it('a checkout that waited, was served and checked in leaves no loan behind', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    const waiting = pool.checkout({ timeout: 60_000 });
    setTimeout(() => pool.checkin(held), 300);
    const worker = await waiting;
    expect((await counts(pool)).monitors).toBe(1);
    pool.checkin(worker);
    expect((await counts(pool)).monitors).toBe(0);
    await pool.stop();
  });

  it('a checkout that timed out leaves no wait behind', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    await expect(pool.checkout({ timeout: 200 })).rejects.toBeInstanceOf(CheckoutTimeoutError);
    pool.checkin(held);
    expect(await counts(pool)).toEqual({ avail: 1, all: 1, monitors: 0 });
    await pool.stop();
  });

  it('LIFO is the default strategy', async () => {
    const pool = await newPool(2, 0);
    const first = await pool.checkout();
    pool.checkin(first);
    expect((await pool.checkout()).pid).toEqual(first.pid);
    await pool.stop();
  });

  it('FIFO strategy', async () => {
    const pool = await newPool(2, 0, 'fifo');
    const first = await pool.checkout();
    pool.checkin(first);
    const second = await pool.checkout();
    expect(second.pid).not.toEqual(first.pid);
    expect((await pool.checkout()).pid).toEqual(first.pid);
    await pool.stop();
  });

  it('reuses the waiting monitor when a worker exits: the waiting client gets the replacement', async () => {
    const pool = await newPool(1, 0);
    const worker = await pool.checkout();
    const { got } = await borrowFromActor(pool);
    expect(await stillPending(got, 300)).toBe(true);
    await killWorker(worker);
    const replacement = await got;
    expect(replacement.serial).not.toBe(worker.pid.serial);
    expect(await counts(pool)).toEqual({ avail: 0, all: 1, monitors: 1 });
    await pool.stop();
  });

  it('recovers from a transaction whose checkout times out: the same worker, ready again', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    await expect(pool.transaction((w) => w.call({ type: 'ping' }), { timeout: 0 })).rejects.toBeInstanceOf(CheckoutTimeoutError);
    pool.checkin(held);
    expect(await pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    expect((await pool.checkout()).pid).toEqual(held.pid);
    await pool.stop();
  });
});

describe('system.exit from main', () => {
  it("'kill' ends even an actor that traps exits; another reason reaches a trapping actor as an EXIT message", async () => {
    const trapping = await system.spawn<typeof Worker>(WORKER, { args: { id: 't', trap: true }, thread: 1 });
    const { down } = system.monitor(trapping);
    // The worker fixture stops with the reason of an EXIT message it gets.
    system.exit(trapping, 'go away');
    expect((await down).reason).toBe('go away');
    const other = await system.spawn<typeof Worker>(WORKER, { args: { id: 'k', trap: true }, thread: 2 });
    const second = system.monitor(other);
    system.exit(other, 'kill');
    expect((await second.down).reason).toBe('killed');
  });

  it("'normal' does not end an actor that does not trap exits", async () => {
    const plain = await system.spawn<typeof Worker>(WORKER, { args: { id: 'n' }, thread: 1 });
    system.exit(plain, 'normal');
    expect(await plain.call({ type: 'ping' })).toBe('pong n 1');
    system.exit(plain, 'kill');
  });
});
