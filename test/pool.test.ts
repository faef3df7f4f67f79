/**
 * poolboy's semantics on real shards: checkout and checkin, blocking and not, overflow growth and
 * reaping, lifo and fifo, transactions that throw, a worker that dies while lent, a borrower that
 * dies or gives up, and `status()` at each step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, CheckoutTimeoutError, ExitError, PoolClosedError, start, type PoolRef, type System } from '../src/main/index.js';
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

const newPool = (size: number, maxOverflow: number, strategy: 'lifo' | 'fifo' = 'lifo') =>
  system.pool<typeof Worker>({ actor: WORKER, args: { id: 'w' }, size, maxOverflow, strategy });

describe('checkout and checkin', () => {
  it('lends workers spread over the shards, and takes them back; status follows each step', async () => {
    const pool = await newPool(2, 0);
    expect(await pool.status()).toEqual({ state: 'ready', available: 2, overflow: 0, checkedOut: 0 });
    const a = await pool.checkout();
    const b = await pool.checkout();
    expect(new Set([a.pid.thread, b.pid.thread])).toEqual(new Set([1, 2]));
    expect(await a.call({ type: 'ping' })).toBe('pong w 1');
    expect(await pool.status()).toEqual({ state: 'full', available: 0, overflow: 0, checkedOut: 2 });
    expect(await pool.checkout({ block: false })).toBe('full');
    pool.checkin(a);
    pool.checkin(a); // twice: nothing more happens
    expect(await pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 1 });
    await pool.stop();
  });

  it('a blocking checkout waits for a checkin, in order, or times out with CheckoutTimeoutError', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    const first = pool.checkout({ timeout: 2000 });
    const second = pool.checkout({ timeout: 2000 });
    await expect(pool.checkout({ timeout: 50 })).rejects.toBeInstanceOf(CheckoutTimeoutError);
    pool.checkin(held);
    const got = await first;
    expect(got.pid).toEqual(held.pid);
    pool.checkin(got);
    expect((await second).pid).toEqual(held.pid);
    await pool.stop();
  });

  it('overflow: extra workers start under load and are let go when they come back with nobody waiting', async () => {
    const pool = await newPool(1, 2);
    const base = await pool.checkout();
    expect(await pool.status()).toMatchObject({ state: 'overflow', available: 0, overflow: 0 });
    const extra1 = await pool.checkout();
    const extra2 = await pool.checkout();
    expect(await pool.status()).toEqual({ state: 'full', available: 0, overflow: 2, checkedOut: 3 });
    expect(await pool.checkout({ block: false })).toBe('full');
    const { down } = system.monitor(extra2);
    pool.checkin(extra2);
    expect((await down).reason).toBe('shutdown'); // reaped
    expect(await pool.status()).toEqual({ state: 'overflow', available: 0, overflow: 1, checkedOut: 2 });
    pool.checkin(extra1);
    pool.checkin(base);
    expect(await pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    await pool.stop();
  });

  for (const strategy of ['lifo', 'fifo'] as const) {
    it(`${strategy}: a checkout gets the ${strategy === 'lifo' ? 'last returned' : 'longest idle'} worker`, async () => {
      const pool = await newPool(3, 0, strategy);
      const [x, y, z] = [await pool.checkout(), await pool.checkout(), await pool.checkout()];
      for (const w of [x, y, z]) pool.checkin(w);
      const next = await pool.checkout();
      expect(next.pid).toEqual(strategy === 'lifo' ? z.pid : x.pid);
      await pool.stop();
    });
  }
});

describe('transaction', () => {
  it('checks the worker back in after fn returns, and after it throws', async () => {
    const pool = await newPool(1, 0);
    expect(await pool.transaction((w) => w.call({ type: 'ping' }))).toBe('pong w 1');
    await expect(pool.transaction(() => Promise.reject(new Error('in the transaction')))).rejects.toThrow('in the transaction');
    await expect(pool.transaction((w) => w.call({ type: 'crash' }))).rejects.toBeInstanceOf(ExitError);
    await expect.poll(() => pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    await pool.stop();
  });

  it('a transaction that cannot get a worker in time rejects with CheckoutTimeoutError and leaks nothing', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    await expect(pool.transaction(() => 'never', { timeout: 30 })).rejects.toBeInstanceOf(CheckoutTimeoutError);
    pool.checkin(held);
    expect(await pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    await pool.stop();
  });
});

describe('deaths and give-ups', () => {
  it('a worker that dies while lent is replaced; the borrowing actor gets a DOWN', async () => {
    const pool = await newPool(1, 0);
    const borrower = await system.spawn<typeof Borrower>(BORROWER, { thread: 2 });
    const worker = (await borrower.call({ type: 'borrow', pool: pool.pid })) as Pid;
    // The worker fixture stops when its handleInfo gets an EXIT-shaped message.
    system.send(worker, { type: 'EXIT', from: worker, reason: 'worker died' });
    await expect.poll(async () => ((await borrower.call({ type: 'downs' })) as Array<{ type: string; pid: Pid }>).map((d) => d.type)).toEqual(['DOWN']);
    expect(((await borrower.call({ type: 'downs' })) as Array<{ pid: Pid }>)[0].pid).toEqual(worker);
    await expect.poll(() => pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    const fresh = await pool.checkout();
    expect(fresh.pid.serial).not.toBe(worker.serial);
    expect(await fresh.call({ type: 'ping' })).toBe('pong w 1');
    await pool.stop();
  });

  it('a borrowing actor that dies gives its worker back', async () => {
    const pool = await newPool(1, 0);
    const borrower = await system.spawn<typeof Borrower>(BORROWER, { thread: 1 });
    const worker = (await borrower.call({ type: 'borrow', pool: pool.pid })) as Pid;
    expect(await pool.status()).toMatchObject({ checkedOut: 1, available: 0 });
    await borrower.call({ type: 'crash' }).catch(() => undefined);
    await expect.poll(() => pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    expect((await pool.checkout()).pid).toEqual(worker);
    await pool.stop();
  });

  it('a borrower that dies while waiting leaves the queue: the next checkin never lends to it', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    const borrower = await system.spawn<typeof Borrower>(BORROWER, { thread: 2 });
    const { down } = system.monitor(borrower.pid);
    // Its checkout waits (the only worker is held), then it is killed while waiting.
    const asked = borrower.call({ type: 'borrow', pool: pool.pid, timeout: 60_000, killSelfAfter: 300 }).catch((error: unknown) => error);
    expect((await down).reason).toBe('killed');
    await asked;
    // The pool hears its waiter's DOWN (a message from thread 2) well within a second.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    pool.checkin(held);
    // Straight after the checkin (no time for a noproc DOWN to bring it back): the worker is free.
    expect(await pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    expect(await pool.checkout({ block: false })).not.toBe('full');
    await pool.stop();
  });

  it('a caller that aborts its wait gets AbortError and never keeps a worker', async () => {
    const pool = await newPool(1, 0);
    const held = await pool.checkout();
    const controller = new AbortController();
    const waiting = pool.checkout({ signal: controller.signal, timeout: 5000 });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    pool.checkin(held);
    await expect.poll(() => pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    // An abort that crosses the worker on its way: the worker goes straight back.
    const again = await pool.checkout();
    const crossing = new AbortController();
    const late = pool.checkout({ signal: crossing.signal });
    pool.checkin(again);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the worker is on its way to `late`
    crossing.abort();
    await late.then((w) => pool.checkin(w), () => undefined);
    await expect.poll(() => pool.status()).toEqual({ state: 'ready', available: 1, overflow: 0, checkedOut: 0 });
    await pool.stop();
  });

  it('stop ends the workers; waiting checkouts reject with PoolClosedError', async () => {
    const pool: PoolRef<typeof Worker> = await newPool(1, 0);
    const held = await pool.checkout();
    const waiting = pool.checkout({ timeout: 5000 });
    const { down } = system.monitor(held);
    await pool.stop();
    await expect(waiting).rejects.toBeInstanceOf(PoolClosedError);
    expect((await down).reason).toBe('shutdown');
  });
});
