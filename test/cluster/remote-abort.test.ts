/**
 * A call to an actor on another node carries its caller's abort (issue 17): the actor's
 * `ctx.signal` aborts there, over a real nats-server, whether the caller is main (by pid or by
 * `{ name, node }`) or an actor on a shard; and a timeout aborts it there too. This process is
 * node 'a'; node 'b' is a child process (harness.ts). The actor (patient.ts) answers each `wait`
 * when its signal aborts, and records what ended it: read back with `seen`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, ActorRef, CallTimeoutError, start, type System } from '../../src/main/index.js';
import type { Pid } from '../../src/shm/pid.js';
import type Patient from '../fixtures/actors/patient.js';
import type Aborter from '../fixtures/actors/aborter.js';
import { fixtureUrl, sleep } from '../helpers.js';
import { eventually, startNatsServer, startNode, type NatsServer, type NodeProcess } from './harness.js';

const PATIENT = fixtureUrl('actors/patient');
const ABORTER = fixtureUrl('actors/aborter');

let nats: NatsServer;
let system: System;
let b: NodeProcess | undefined;

beforeAll(async () => {
  process.env.WEFT_NODE_NAME = 'a';
  nats = await startNatsServer();
  system = await start({ threads: 1, node: { name: 'a', nats: { servers: nats.url }, heartbeat: 200, downAfter: 1000 } });
  b = await startNode('b', nats.url);
  await system.awaitNode('b', 10_000);
}, 60_000);

afterAll(async () => {
  await b?.kill();
  await system?.stop();
  await nats?.stop();
});

let patients = 0;
/** A fresh patient on node b, and a ref to it from a's main. */
async function patientOnB(): Promise<{ ref: ActorRef<typeof Patient>; name: string }> {
  const name = `patient-${patients++}`;
  const pid = await b!.spawn(PATIENT, { name });
  return { ref: new ActorRef<typeof Patient>(pid, system), name };
}

/** What ended the patient's `wait` calls so far. */
async function seen(ref: ActorRef<typeof Patient>): Promise<string[]> {
  return ((await ref.call({ type: 'seen' })) as Array<{ why: string }>).map((entry) => entry.why);
}

describe('a remote actor sees its caller give up', () => {
  it('main aborts a call by pid: AbortError here at once, and ctx.signal aborts on node b', async () => {
    const { ref } = await patientOnB();
    const controller = new AbortController();
    const call = ref.call({ type: 'wait', ms: 60_000 }, { signal: controller.signal, timeout: Infinity });
    await sleep(200); // the call is in the handler on b
    controller.abort('enough');
    await expect(call).rejects.toBeInstanceOf(AbortError);
    await eventually(async () => (await seen(ref)).length === 1, 10_000, 'the handler on b to see its signal abort');
    expect(await seen(ref)).toEqual(['AbortError']);
  });

  it('main aborts a call by { name, node }: the same', async () => {
    const { ref, name } = await patientOnB();
    const controller = new AbortController();
    const call = system.call({ name, node: 'b' }, { type: 'wait', ms: 60_000 }, { signal: controller.signal, timeout: Infinity });
    await sleep(200);
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(AbortError);
    await eventually(async () => (await seen(ref)).length === 1, 10_000, 'the handler on b to see its signal abort');
    expect(await seen(ref)).toEqual(['AbortError']);
  });

  it('an actor on a shard of a aborts its call: the abort goes through main and NATS to b', async () => {
    const { ref } = await patientOnB();
    const aborter = await system.spawn<typeof Aborter>(ABORTER, { thread: 1 });
    expect(await aborter.call({ to: ref.pid as Pid, abortAfterMs: 200 }, { timeout: 10_000 })).toBe('AbortError');
    await eventually(async () => (await seen(ref)).length === 1, 10_000, 'the handler on b to see its signal abort');
    expect(await seen(ref)).toEqual(['AbortError']);
  });

  it('a call that times out here aborts ctx.signal there with CallTimeoutError', async () => {
    const { ref } = await patientOnB();
    await expect(ref.call({ type: 'wait', ms: 60_000 }, { timeout: 300 })).rejects.toBeInstanceOf(CallTimeoutError);
    await eventually(async () => (await seen(ref)).length === 1, 10_000, 'the handler on b to see its signal abort');
    expect(await seen(ref)).toEqual(['CallTimeoutError']);
  });

  it('calls not aborted are answered as before, and a late abort changes nothing', async () => {
    const { ref } = await patientOnB();
    const controller = new AbortController();
    expect(await ref.call({ type: 'wait', ms: 10 }, { signal: controller.signal })).toBe('finished');
    controller.abort();
    await sleep(200);
    expect(await seen(ref)).toEqual(['finished']);
  });
});
