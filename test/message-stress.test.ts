/**
 * The whole message path between real threads: codec (compact and msgpackr frames), in-place
 * encoding, corked and eager publishing, chunked large messages, overflow and doorbells, through a
 * 4 KiB ring. Every message is rebuilt by the receiver from its sequence number and compared deeply,
 * so a lost, repeated, reordered or corrupted message fails the test.
 */
import { describe, expect, it } from 'vitest';
import { RingSet } from '../src/shm/ring-set.js';
import { QUICK, runWorker } from './helpers.js';
import { receiveMessages, sendMessages, type MessageReport, type MessageTask } from './fixtures/message-peer.js';

const COUNT = QUICK ? 20_000 : 200_000;

function tasks(sender: number, receiver: number, batch: number): { send: MessageTask; receive: MessageTask } {
  const { buffer } = RingSet.create({ threads: 3, ringCapacity: 4096 });
  const base = { buffer, count: COUNT, batch };
  return {
    send: { ...base, role: 'send', self: sender, peer: receiver },
    receive: { ...base, role: 'receive', self: receiver, peer: sender },
  };
}

describe('message stress across threads (codec + ring + doorbells)', () => {
  for (const batch of [1, 64]) {
    it(`worker → worker, ${COUNT} mixed messages, ${batch === 1 ? 'eager' : `corked by ${batch}`}`, async () => {
      const { send, receive } = tasks(1, 2, batch);
      const [got] = await Promise.all([
        runWorker<MessageReport>('message-peer', { messagePeer: receive }),
        runWorker<MessageReport>('message-peer', { messagePeer: send }),
      ]);
      expect(got.errors).toEqual([]);
      expect(got.received).toBe(COUNT);
    });
  }

  it(`main → worker and worker → main, ${COUNT} mixed messages each`, async () => {
    const out = tasks(0, 1, 64);
    const receiver = runWorker<MessageReport>('message-peer', { messagePeer: out.receive });
    await sendMessages(out.send);
    expect((await receiver).errors).toEqual([]);

    const back = tasks(1, 0, 64);
    const sender = runWorker<MessageReport>('message-peer', { messagePeer: back.send });
    const got = await receiveMessages(back.receive);
    await sender;
    expect(got.errors).toEqual([]);
    expect(got.received).toBe(COUNT);
  });
});
