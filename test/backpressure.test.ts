/**
 * Backpressure (issue 14): a producer faster than its consumer is bounded by `maxPending`, told to
 * slow down by `cast()` returning false, and resumes on `drained()`; nothing is lost or reordered,
 * `stats()` answers while a backlog waits and shows it, and `whenFull: 'drop'` turns the excess into
 * dead letters. Real shards, a real slow actor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MailboxFullError, start, type DeadLetter, type System } from '../src/main/index.js';
import type SlowSink from '../bench/actors/slow-sink.js';

/** The bench's slow sink (bench/actors/slow-sink.ts): `micros` µs of CPU a cast, counted and checked for order. */
const SINK = new URL('../dist/bench/actors/slow-sink.js', import.meta.url);
const PAD = 'x'.repeat(200); // ~200 B a message: a backlog in bytes grows fast

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('backpressure', () => {
  it('a producer loop that awaits drained() delivers everything, in order, holding at most maxPending', async () => {
    const maxPending = 256 * 1024;
    system = await start({ threads: 1, backpressure: { maxPending, highWater: 64 * 1024 } });
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 2, thread: 1 });
    const total = 20_000;
    let waits = 0;
    let peak = 0;
    for (let seq = 0; seq < total; seq++) {
      if (!sink.cast({ seq, pad: PAD })) {
        waits++;
        const held = (await system.stats()).threads[0].pending.find((p) => p.to === 1)?.bytes ?? 0;
        peak = Math.max(peak, held);
        await sink.drained();
      }
    }
    expect(waits).toBeGreaterThan(0); // the sink (2 µs + decode a message) cannot keep up with a bare loop
    expect(peak).toBeLessThanOrEqual(maxPending);
    const deadline = Date.now() + 60_000;
    let count = await sink.call({ type: 'count' });
    while (count.got < total && Date.now() < deadline) count = await sink.call({ type: 'count' });
    expect(count).toMatchObject({ got: total, outOfOrder: 0 });
  });

  it('past maxPending a cast throws MailboxFullError, and so does a call; nothing before it is lost', async () => {
    system = await start({ threads: 1, backpressure: { maxPending: 64 * 1024, highWater: 16 * 1024 } });
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 1000, thread: 1 }); // 1 ms a message
    let sent = 0;
    let sawFalse = false;
    let refused: unknown;
    for (; sent < 100_000; sent++) {
      try {
        if (!sink.cast({ seq: sent, pad: PAD })) sawFalse = true;
      } catch (error) {
        refused = error;
        break;
      }
    }
    expect(sawFalse).toBe(true);
    expect(refused).toBeInstanceOf(MailboxFullError);
    expect((refused as MailboxFullError).code).toBe('WEFT_ERR_MAILBOX_FULL');
    await expect(sink.call({ type: 'count' })).rejects.toBeInstanceOf(MailboxFullError);
    // stats() overtakes the backlog: the shard answers before it has even received every cast.
    const stats = await system.stats();
    expect(stats.threads.find((t) => t.thread === 1)!.messagesIn).toBeLessThan(sent);
    const held = stats.threads[0].pending.find((p) => p.to === 1);
    expect(held?.bytes).toBeGreaterThan(0);
    expect(held?.bytes).toBeLessThanOrEqual(64 * 1024 + 1024);
  });

  it("whenFull: 'drop' turns the excess into dead letters: delivered + dropped = sent", async () => {
    system = await start({ threads: 1, backpressure: { maxPending: 32 * 1024, whenFull: 'drop' } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 50, thread: 1 });
    const total = 5000;
    for (let seq = 0; seq < total; seq++) sink.cast({ seq, pad: PAD });
    expect(letters.length).toBeGreaterThan(0);
    expect(letters[0]).toMatchObject({ kind: 'cast' });
    await sink.drained();
    const deadline = Date.now() + 60_000;
    let count = await sink.call({ type: 'count' });
    while (count.got + letters.length < total && Date.now() < deadline) count = await sink.call({ type: 'count' });
    expect(count.got + letters.length).toBe(total);
  });

  it('bounds the same-thread path too: an actor on main, drained() when its queue has run', async () => {
    system = await start({ threads: 1, backpressure: { maxPending: 128 * 1024, highWater: 32 * 1024 } });
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 0, thread: 0 });
    let waits = 0;
    for (let seq = 0; seq < 10_000; seq++) {
      if (!sink.cast({ seq, pad: PAD })) {
        waits++;
        await sink.drained();
      }
    }
    expect(waits).toBeGreaterThan(0);
    expect(await sink.call({ type: 'count' })).toMatchObject({ got: 10_000, outOfOrder: 0 });
  });

  it('a drained() wait is let go by stop()', async () => {
    system = await start({ threads: 1, ringCapacity: 4096, backpressure: { maxPending: 1024 * 1024, highWater: 1024 } });
    const sink = await system.spawn<typeof SlowSink>(SINK, { args: 5000, thread: 1 });
    for (let seq = 0; seq < 100; seq++) sink.cast({ seq, pad: PAD }); // 20 kB through a 4 kB ring
    expect((await system.stats()).threads[0].pending.find((p) => p.to === 1)?.bytes).toBeGreaterThan(0);
    const drained = sink.drained();
    await system.stop();
    system = undefined;
    await expect(drained).resolves.toBeUndefined();
  });

  it('validates its options', async () => {
    await expect(start({ threads: 1, backpressure: { maxPending: 0 } })).rejects.toThrow(/backpressure\.maxPending/);
    await expect(start({ threads: 1, backpressure: { maxPending: 1000, highWater: 2000 } })).rejects.toThrow(/backpressure\.highWater/);
    // @ts-expect-error not a policy
    await expect(start({ threads: 1, backpressure: { whenFull: 'block' } })).rejects.toThrow(/whenFull/);
  });
});
