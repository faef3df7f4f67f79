/**
 * Micro-benchmark of one ring (src/shm/ring.ts) in one thread: what a small frame costs to write
 * and read, for each way the producer can write it.
 *
 * Why it exists: the ring's design choices each save a few tens of nanoseconds, and on this machine
 * that is the difference between 3M and 5M messages a second. The rows show them side by side:
 *
 * | candidate        | how the producer writes a 17-byte frame                               |
 * |------------------|-----------------------------------------------------------------------|
 * | `push eager`     | copies it in, stores TAIL after every frame                           |
 * | `push corked`    | copies it in, stores TAIL once per 256 frames                         |
 * | `claim eager`    | writes it in place (claim/commit, as the encoder does), TAIL per frame |
 * | `claim corked`   | in place, TAIL once per 256 frames (what `Endpoint.sendMessage` does in a batch) |
 * | `Atomics.store`, `Atomics.load` | one call each on an Int32Array over shared memory: the reference cost |
 *
 * The consumer drains 256 frames per call and publishes HEAD once per drain in every row.
 *
 * Run: `npm run build && node dist/bench/micro/ring.js [--quick]`. Figures are per frame (write and
 * read together) in one thread; compare them within one run only.
 */
import { pathToFileURL } from 'node:url';
import { RingConsumer, RingProducer, ringBytes } from '../../src/shm/ring.js';

const CAPACITY = 64 * 1024;
const BATCH = 256;
const PAYLOAD = new Uint8Array(17).fill(7);

function newRing(): { producer: RingProducer; consumer: RingConsumer } {
  const region = { buffer: new SharedArrayBuffer(ringBytes(CAPACITY)), byteOffset: 0, capacity: CAPACITY };
  return { producer: new RingProducer(region), consumer: new RingConsumer(region) };
}

type Candidate = (frames: number) => number;

function ringCandidate(corked: boolean, inPlace: boolean): Candidate {
  return (frames) => {
    const { producer, consumer } = newRing();
    producer.corked = corked;
    let sum = 0;
    const onFrame = (_kind: number, _bytes: Uint8Array, start: number, end: number): void => {
      sum += end - start;
    };
    for (let i = 0; i < frames; i += BATCH) {
      for (let j = 0; j < BATCH; j++) {
        if (inPlace) {
          const at = producer.claim(PAYLOAD.length);
          const bytes = producer.bytes;
          for (let k = 0; k < PAYLOAD.length; k++) bytes[at + k] = 7;
          producer.commit(1, PAYLOAD.length);
        } else {
          producer.push(1, PAYLOAD);
        }
      }
      producer.publish();
      consumer.drain(onFrame, BATCH);
    }
    return sum;
  };
}

const words = new Int32Array(new SharedArrayBuffer(64));
const candidates: Record<string, Candidate> = {
  'push eager': ringCandidate(false, false),
  'push corked': ringCandidate(true, false),
  'claim eager': ringCandidate(false, true),
  'claim corked': ringCandidate(true, true),
  'Atomics.store': (n) => {
    for (let i = 0; i < n; i++) Atomics.store(words, 0, i);
    return n;
  },
  'Atomics.load': (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Atomics.load(words, 0);
    return sum;
  },
};

/** Nanoseconds per frame (or per call) for each candidate, best of three runs after a warm-up. */
export function runRingMicro(quick: boolean): Record<string, { nsPerFrame: number }> {
  const frames = quick ? 500_000 : 5_000_000;
  const out: Record<string, { nsPerFrame: number }> = {};
  for (const [name, run] of Object.entries(candidates)) {
    run(frames / 10);
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const start = performance.now();
      run(frames);
      best = Math.min(best, ((performance.now() - start) * 1e6) / frames);
    }
    out[name] = { nsPerFrame: best };
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick') || process.env.WEFT_BENCH_QUICK === '1';
  for (const [name, { nsPerFrame }] of Object.entries(runRingMicro(quick))) console.log(`${name.padEnd(16)} ${nsPerFrame.toFixed(1).padStart(7)} ns`);
}
