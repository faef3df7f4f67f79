/**
 * Bounded mailboxes (issue 14): `spawn(url, { mailbox: { max, overflow } })` caps the user messages
 * that wait for one actor, enforced in the actor's own thread. Past the bound a call always
 * rejects with MailboxFullError; casts are dead letters ('drop-new', 'drop-old'), or, with
 * 'reject', the sender's thread is told and refuses at the source. System messages (EXIT, DOWN)
 * are never counted nor dropped. The actor is held busy by a gate, never by a timer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, MailboxFullError, child, start, type ActorRef, type DeadLetter, type System } from '../src/main/index.js';
import { fixtureUrl, until as pollUntil } from './helpers.js';
import type Probe from './fixtures/actors/mailbox-probe.js';
import type Gate from './fixtures/actors/gate.js';
import type Counter from './fixtures/actors/counter.js';

const PROBE = fixtureUrl('actors/mailbox-probe');
const GATE = fixtureUrl('actors/gate');
const COUNTER = fixtureUrl('actors/counter');

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

/** Polls `check` until it holds (a generous minute: behaviour, not speed, is under test). */
const until = (check: () => boolean | Promise<boolean>, what: string): Promise<void> => pollUntil(check, 60_000, what);

/**
 * Waits until `probe` has handled everything in its mailbox (its figures, `metrics: { actors: true }`):
 * a call made sooner would itself wait in the full mailbox and be refused.
 */
async function caughtUp(sys: System, probe: ActorRef<typeof Probe>): Promise<void> {
  await until(async () => {
    const thread = (await sys.stats()).threads.find((t) => t.thread === probe.pid.thread)!;
    return thread.actorMetrics!.find((a) => a.serial === probe.pid.serial)!.mailboxDepth === 0;
  }, `${String(probe.pid)} to empty its mailbox`);
}

/** A probe on shard 1 held busy at a gate on shard 2 (so the gate answers whatever the probe's thread does). */
async function heldProbe(sys: System, mailbox: { max: number; overflow?: 'reject' | 'drop-new' | 'drop-old' }): Promise<{ probe: ActorRef<typeof Probe>; gate: ActorRef<typeof Gate> }> {
  const gate = await sys.spawn<typeof Gate>(GATE, { thread: 2 });
  const probe = await sys.spawn<typeof Probe>(PROBE, { thread: 1, mailbox });
  probe.cast({ type: 'hold', gate: gate.pid });
  return { probe, gate };
}

describe('bounded mailboxes', () => {
  it("'drop-new': past max the new casts are dead letters (reason mailbox_full) and a call rejects with MailboxFullError", async () => {
    system = await start({ threads: 2, metrics: { actors: true } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const { probe, gate } = await heldProbe(system, { max: 5, overflow: 'drop-new' });
    for (let n = 1; n <= 10; n++) probe.cast({ type: 'n', n });
    const refused = probe.call({ type: 'echo', n: 99 });
    await expect(refused).rejects.toBeInstanceOf(MailboxFullError);
    await expect(refused).rejects.toMatchObject({ code: 'WEFT_ERR_MAILBOX_FULL' });
    await until(() => letters.length === 5, 'five dead letters');
    expect(letters.map((l) => (l.message as { n: number }).n)).toEqual([6, 7, 8, 9, 10]);
    expect(letters.every((l) => l.reason === 'mailbox_full' && l.kind === 'cast' && String(l.to) === String(probe.pid))).toBe(true);
    await gate.call({ type: 'open' });
    await caughtUp(system, probe);
    expect(await probe.call({ type: 'got' })).toEqual([1, 2, 3, 4, 5]);
  });

  it("'drop-old': the oldest waiting message makes way, a call among them rejects with MailboxFullError", async () => {
    system = await start({ threads: 2, metrics: { actors: true } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const { probe, gate } = await heldProbe(system, { max: 3, overflow: 'drop-old' });
    const evicted = probe.call({ type: 'echo', n: 0 }); // oldest: dropped by the fourth message
    for (let n = 1; n <= 6; n++) probe.cast({ type: 'n', n });
    await expect(evicted).rejects.toBeInstanceOf(MailboxFullError);
    await until(() => letters.length === 3, 'three dead letters');
    expect(letters.map((l) => (l.message as { n: number }).n)).toEqual([1, 2, 3]);
    expect(letters.every((l) => l.reason === 'mailbox_full')).toBe(true);
    await gate.call({ type: 'open' });
    await caughtUp(system, probe);
    expect(await probe.call({ type: 'got' })).toEqual([4, 5, 6]);
  });

  it('system messages (EXIT, DOWN) are never counted against the bound nor dropped', async () => {
    system = await start({ threads: 2, metrics: { actors: true } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const linked = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 2 });
    const watched = await system.spawn<typeof Counter>(COUNTER, { args: 0, thread: 1 });
    const gate = await system.spawn<typeof Gate>(GATE, { thread: 2 });
    const probe = await system.spawn<typeof Probe>(PROBE, { thread: 1, mailbox: { max: 2, overflow: 'drop-old' } });
    probe.cast({ type: 'link', pid: linked.pid });
    probe.cast({ type: 'monitor', pid: watched.pid });
    await probe.call({ type: 'got' }); // both done
    probe.cast({ type: 'hold', gate: gate.pid });
    probe.cast({ type: 'n', n: 1 });
    probe.cast({ type: 'n', n: 2 });
    const meterOf = async () => (await system!.stats()).threads.find((t) => t.thread === 1)!.actorMetrics!.find((a) => a.serial === probe.pid.serial)!;
    // Held (so the EXIT, which comes on another ring than the hold, cannot reach it idle first).
    await until(async () => (await meterOf()).mailboxDepth === 2, 'the probe to be held with two casts waiting');
    await expect(linked.call({ type: 'crash', message: 'boom' })).rejects.toThrow(); // an EXIT for the trapping probe, from shard 2
    await expect(watched.call({ type: 'crash', message: 'bang' })).rejects.toThrow(); // a DOWN from the probe's own thread
    // Many more casts than the bound: each pushes the oldest *user* message out, never the EXIT or the DOWN.
    for (let n = 3; n <= 50; n++) probe.cast({ type: 'n', n });
    await until(() => letters.length === 48, 'the 48 evicted casts');
    await until(async () => (await meterOf()).mailboxDepth === 4, 'two casts, the EXIT and the DOWN waiting');
    const meter = await meterOf();
    expect(meter.mailboxHighWater).toBeGreaterThanOrEqual(4);
    expect(meter.mailboxDropped).toBe(48);
    await gate.call({ type: 'open' });
    await caughtUp(system, probe);
    expect(await probe.call({ type: 'got' })).toEqual([49, 50]);
    const infos = (await probe.call({ type: 'infos' })) as Array<{ type: string; reason: Error }>;
    expect(infos.map((i) => [i.type, i.reason.message]).sort()).toEqual([['DOWN', 'bang'], ['EXIT', 'boom']]);
    expect(letters.every((l) => l.reason === 'mailbox_full')).toBe(true);
  });

  it("'reject': the sender's thread is told, refuses at the source until the mailbox is down to half, then sends again", async () => {
    system = await start({ threads: 2, metrics: { actors: true } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const { probe, gate } = await heldProbe(system, { max: 4, overflow: 'reject' });
    for (let n = 1; n <= 6; n++) probe.cast({ type: 'n', n }); // 5 and 6 left main before the bound was known here
    await until(() => letters.length === 2, 'the two casts refused by the mailbox');
    // Once main has been told, it refuses at the source: a cast throws, as at maxPending.
    await until(async () => {
      try {
        await probe.call({ type: 'echo', n: -1 });
      } catch (error) {
        if (!(error instanceof MailboxFullError)) throw error;
        return /down to half/.test(error.message); // the sender's refusal, not the mailbox's
      }
      throw new Error('a call past the bound was answered');
    }, "main to learn that the probe's mailbox is full");
    expect(() => probe.cast({ type: 'n', n: 7 })).toThrow(MailboxFullError);
    await gate.call({ type: 'open' });
    // Drained: the mailbox tells main, and main's casts go through again.
    await until(() => {
      try {
        probe.cast({ type: 'n', n: 8 });
        return true;
      } catch (error) {
        if (!(error instanceof MailboxFullError)) throw error;
        return false;
      }
    }, 'the mailbox to say it has room');
    await until(async () => ((await probe.call({ type: 'got' })) as number[]).includes(8), 'the cast after the release');
    expect(await probe.call({ type: 'got' })).toEqual([1, 2, 3, 4, 8]);
    expect(letters.map((l) => (l.message as { n: number }).n)).toEqual([5, 6]);
  });

  it("with whenFull: 'drop', a sender told of a full 'reject' mailbox drops the cast as a dead letter and returns false", async () => {
    system = await start({ threads: 2, metrics: { actors: true }, backpressure: { whenFull: 'drop' } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const { probe } = await heldProbe(system, { max: 1 }); // 'reject' is the default
    probe.cast({ type: 'n', n: 1 });
    probe.cast({ type: 'n', n: 2 });
    await until(() => letters.length === 1, 'the refused cast');
    await until(async () => {
      await expect(probe.call({ type: 'echo', n: 0 })).rejects.toBeInstanceOf(MailboxFullError);
      return probe.cast({ type: 'n', n: 3 }) === false && letters.length >= 2;
    }, 'main to refuse at the source');
    expect(letters.at(-1)).toMatchObject({ kind: 'cast', reason: 'mailbox_full', message: { n: 3 } });
  });

  it('a supervisor child spec and an actor on main take a bound too', async () => {
    system = await start({ threads: 2, metrics: { actors: true } });
    const letters: DeadLetter[] = [];
    system.on('deadLetter', (letter) => letters.push(letter));
    const gate = await system.spawn<typeof Gate>(GATE, { thread: 2 });
    const sup = await system.supervise({ children: [child<typeof Probe>('probe', PROBE, { thread: 1, mailbox: { max: 1, overflow: 'drop-new' } })] });
    const supervised = (await sup.child<typeof Probe>('probe'))!;
    const onMain = await system.spawn<typeof Probe>(PROBE, { thread: 0, mailbox: { max: 1, overflow: 'drop-new' } });
    for (const probe of [supervised, onMain]) {
      probe.cast({ type: 'hold', gate: gate.pid });
      for (let n = 1; n <= 3; n++) probe.cast({ type: 'n', n });
    }
    await until(() => letters.length === 4, 'two dead letters from each');
    await gate.call({ type: 'open' });
    await caughtUp(system, supervised);
    await caughtUp(system, onMain);
    expect(await supervised.call({ type: 'got' })).toEqual([1]);
    expect(await onMain.call({ type: 'got' })).toEqual([1]);
  });

  it('checks the option', async () => {
    system = await start({ threads: 1 });
    await expect(system.spawn<typeof Probe>(PROBE, { mailbox: { max: 0 } })).rejects.toThrow(InvalidArgumentError);
    await expect(system.spawn<typeof Probe>(PROBE, { mailbox: { max: 1.5 } })).rejects.toThrow(/mailbox\.max.*got: `1\.5`/);
    // @ts-expect-error not a policy
    await expect(system.spawn<typeof Probe>(PROBE, { mailbox: { max: 4, overflow: 'block' } })).rejects.toThrow(/mailbox\.overflow/);
    expect(() => child('c', PROBE, { mailbox: { max: -1 } })).not.toThrow(); // checked when the spec is given to a supervisor
    await expect(system.supervise({ children: [child('c', PROBE, { mailbox: { max: -1 } })] })).rejects.toThrow(/mailbox\.max/);
  });
});
