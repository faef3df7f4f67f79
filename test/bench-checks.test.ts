/**
 * The suites check their answers: with `WEFT_PEER_FAULT=wrong` every thread's adder answers one
 * call in a thousand with a + b + 1 (bench/workers/peer-task.ts), and each suite that calls an adder
 * must fail on it, naming the wrong sum, instead of recording a figure (or, in crash-recovery,
 * counting it as a call the crash rejected). Each suite runs in quick mode in its own process, as
 * the runner runs it (bench/isolate.ts); the remote suite starts its own nats-server.
 */
import { afterEach, describe, expect, it } from 'vitest';

const { runIsolated } = (await import(new URL('../dist/bench/isolate.js', import.meta.url).href)) as typeof import('../bench/isolate.js');

afterEach(() => {
  delete process.env.WEFT_PEER_FAULT;
});

describe('a suite given wrong sums', () => {
  for (const suite of ['transaction', 'crash-recovery', 'remote-call']) {
    it(`${suite} fails, naming the wrong answer`, async () => {
      process.env.WEFT_PEER_FAULT = 'wrong'; // the suite process, its threads and its node processes inherit it
      const outcome = await runIsolated(suite, true, 60_000);
      expect(outcome).toMatchObject({ type: 'error', message: expect.stringMatching(/add\(\d+, 1\) answered \d+, expected \d+/) });
    }, 90_000);
  }
});
