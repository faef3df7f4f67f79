/**
 * backpressure: a producer on main casts as fast as it can to an actor that takes 10 µs a message,
 * written the documented way (`if (!ref.cast(m)) await ref.drained()`), for a fixed time. Measured:
 * the messages the actor handled per second, against the actor's own rate (its handler in a loop,
 * no messaging), and main's peak memory above its start (heap plus array buffers: the ring's
 * overflow lives in the latter). Targets: within 10% of the actor's own rate, peak ≤ 64 MiB.
 * Every message must arrive, in order.
 */
import { start } from '../../src/main/index.js';
import type { Suite } from '../harness.js';
import type SlowSink from '../actors/slow-sink.js';

const SINK = new URL('../actors/slow-sink.js', import.meta.url);
const MICROS = 10;
const SECONDS = { full: 10, quick: 2 };

function memoryMB(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 2 ** 20;
}

export const suite: Suite = {
  name: 'backpressure',
  title: `a producer on main casting to an actor that takes ${MICROS} µs a message, awaiting ref.drained() when cast() says so`,
  baseline: 'actor-alone',
  metrics: ['msgsPerSec', 'peakMB'],
  async run({ quick, log }) {
    const seconds = quick ? SECONDS.quick : SECONDS.full;
    const system = await start({ threads: 1 });
    try {
      const sink = await system.spawn<typeof SlowSink>(SINK, { args: MICROS, thread: 1 });
      const own = await sink.call({ type: 'own', n: Math.round((seconds * 1e6) / MICROS / 10) }, { timeout: 120_000 });
      const base = memoryMB();
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, memoryMB())), 20);
      let sent = 0;
      let waits = 0;
      const started = performance.now();
      const until = started + seconds * 1000;
      try {
        while (performance.now() < until) {
          for (let i = 0; i < 1000; i++) {
            if (!sink.cast({ seq: sent++ })) {
              waits++;
              await sink.drained();
            }
          }
        }
        let count = await sink.call({ type: 'count' }, { timeout: 120_000 });
        while (count.got < sent) count = await sink.call({ type: 'count' }, { timeout: 120_000 });
        const elapsed = performance.now() - started;
        if (count.got !== sent || count.outOfOrder !== 0) throw new Error(`backpressure: sent ${sent}, the actor got ${count.got} with ${count.outOfOrder} out of order`);
        peak = Math.max(peak, memoryMB());
        const delivered = (count.got / elapsed) * 1000;
        log(`${sent.toLocaleString('en-US')} casts in ${(elapsed / 1000).toFixed(1)} s, ${waits.toLocaleString('en-US')} waits on drained(); actor alone ${Math.round(own.perSec).toLocaleString('en-US')}/s`);
        return {
          results: { 'actor-alone': { msgsPerSec: own.perSec, peakMB: 0 }, weft: { msgsPerSec: delivered, peakMB: peak - base } },
          config: { weft: { seconds, microsPerMessage: MICROS, api: 'if (!ref.cast(m)) await ref.drained()', waits }, 'actor-alone': { what: 'the handler in a loop on the shard, no messaging' } },
        };
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await system.stop();
    }
  },
};
