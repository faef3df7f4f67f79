/**
 * Micro-benchmark of the message codec (src/shm/codec.ts) against its peers, in one thread.
 *
 * Why it exists: the codec sits on every message's path, twice. This shows what it costs next to
 * plain msgpackr and next to the structured clone that `postMessage` would do, and what the codec's
 * own checks cost on top of the msgpackr mode it uses.
 *
 * Candidates, each on a tiny message `{ id: 17, op: 'add', args: [1, 2] }` and a medium one (20
 * fields, a nested array of objects, a 200-character string):
 *
 * | candidate          | encode                          | decode                     | round trip        |
 * |--------------------|---------------------------------|----------------------------|-------------------|
 * | `weft`             | `MessageEncoder.encode`         | `MessageDecoder.decode`    | both              |
 * | `msgpackr`         | `pack` (plain, no records)      | `unpack`                   | both              |
 * | `structuredClone`  | `v8.serialize` (the serializer structured clone uses) | `v8.deserialize` | `structuredClone()` |
 * | `msgpackr-seq`     | the Packr mode weft uses, without weft's checks | its Unpackr | both     |
 * | `msgpackr-seq+hooks` | as above, checking objects and functions with msgpackr's hooks instead of a walk | | |
 *
 * The last two explain the codec's design: `weft` vs `msgpackr-seq` is the price of the pre-walk,
 * `msgpackr-seq+hooks` the price of the alternative (which cannot see -0, lone surrogates or cycles).
 *
 * Decoding repeats one frame; for the sequential candidates that frame names a shape the decoder
 * learned from an earlier frame, exactly as in a running pair.
 *
 * Run: `npm run build && node dist/bench/micro/codec.js [--quick] [row filter...]`, e.g. `weft` or
 * `medium` (WEFT_BENCH_QUICK=1 also means --quick).
 * Figures are ops per second in one thread; compare them within one run only.
 */
import { deserialize, serialize } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { Packr, Unpackr, pack, unpack, REUSE_BUFFER_MODE } from 'msgpackr';
import { MessageDecoder, MessageEncoder, MAX_SHAPES } from '../../src/shm/codec.js';

export const TINY_MESSAGE = { id: 17, op: 'add', args: [1, 2] };

export const MEDIUM_MESSAGE = {
  id: 12345,
  type: 'order.created',
  customer: 'alice',
  email: 'alice@example.com',
  amount: 123.45,
  currency: 'EUR',
  paid: true,
  tags: ['priority', 'gift', 'eu'],
  items: [
    { sku: 'X-100', quantity: 2, price: 19.99 },
    { sku: 'X-200', quantity: 1, price: 83.47 },
  ],
  note: 'n'.repeat(200),
  created: 1_700_000_000_000,
  region: 'eu-west-1',
  priority: 3,
  retries: 0,
  source: 'web',
  version: 7,
  flags: [true, false, true],
  score: -0.5,
  parent: null,
  shipping: { street: 'Main St 1', city: 'Berlin', zip: '10115' },
};

/** One candidate: how it encodes, decodes, and round-trips a message. */
interface Candidate {
  name: string;
  /** Sets the candidate up for `message` and returns the three operations to time. */
  prepare(message: unknown): { encode: () => unknown; decode: () => unknown; roundTrip: () => unknown };
}

function sequentialOptions(): ConstructorParameters<typeof Packr>[0] {
  return { useRecords: true, sequential: true, moreTypes: true, maxOwnStructures: MAX_SHAPES, useToJSON: false };
}

/** A sequential msgpackr candidate around `packr`, with the unpackr paired to it (primed with `message`'s shape). */
function sequentialPair(packr: Packr, message: unknown): ReturnType<Candidate['prepare']> {
  const unpackr = new Unpackr({ ...sequentialOptions(), int64AsType: 'bigint', copyBuffers: true });
  unpackr.unpack(packr.pack(message));
  const frame = new Uint8Array(packr.pack(message));
  return {
    encode: () => packr.pack(message, REUSE_BUFFER_MODE),
    decode: () => unpackr.unpack(frame),
    roundTrip: () => unpackr.unpack(packr.pack(message)),
  };
}

const HOOK_FAILURE = new Error('rejected by a hook');

const candidates: Candidate[] = [
  {
    name: 'weft',
    prepare(message) {
      const encoder = new MessageEncoder();
      const decoder = new MessageDecoder();
      decoder.decode(encoder.encode(message)); // defines the shapes
      const frame = encoder.encode(message).slice();
      return {
        encode: () => encoder.encode(message),
        decode: () => decoder.decode(frame),
        roundTrip: () => decoder.decode(encoder.encode(message)),
      };
    },
  },
  {
    name: 'msgpackr',
    prepare(message) {
      const frame = new Uint8Array(pack(message));
      return {
        encode: () => pack(message),
        decode: () => unpack(frame),
        roundTrip: () => unpack(pack(message)),
      };
    },
  },
  {
    name: 'structuredClone',
    prepare(message) {
      const frame = serialize(message);
      return {
        encode: () => serialize(message),
        decode: () => deserialize(frame),
        roundTrip: () => structuredClone(message),
      };
    },
  },
  {
    name: 'msgpackr-seq',
    prepare: (message) => sequentialPair(new Packr(sequentialOptions()), message),
  },
  {
    name: 'msgpackr-seq+hooks',
    prepare(message) {
      const packr = new Packr({
        ...sequentialOptions(),
        // called for every object msgpackr writes as a record: reject class instances
        useRecords: (object: object) => {
          const prototype: unknown = Object.getPrototypeOf(object);
          if (prototype !== Object.prototype && prototype !== null) throw HOOK_FAILURE;
          return true;
        },
        writeFunction: () => {
          throw HOOK_FAILURE;
        },
      });
      return sequentialPair(packr, message);
    },
  },
];

/** Calls `operation` in batches until `milliseconds` have passed; returns calls per second. */
function measure(operation: () => unknown, milliseconds: number): number {
  let sink: unknown;
  // Warm-up: 5,000 calls and a third of the measured time, so the optimizing compiler has finished
  for (let i = 0; i < 5_000; i++) sink = operation();
  const warmUntil = performance.now() + milliseconds / 3;
  while (performance.now() < warmUntil) for (let i = 0; i < 100; i++) sink = operation();
  const batch = 200;
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < batch; i++) sink = operation();
    calls += batch;
    elapsed = performance.now() - started;
  } while (elapsed < milliseconds);
  if (sink === Symbol.for('never')) console.log(sink); // keeps `sink` observable
  return (calls / elapsed) * 1000;
}

const MESSAGES: ReadonlyArray<readonly [string, unknown]> = [
  ['tiny', TINY_MESSAGE],
  ['medium', MEDIUM_MESSAGE],
];

/**
 * Measures every candidate on both messages. Keys are `<candidate> <message>` (`weft tiny`), each
 * with `encodePerSec`, `decodePerSec` and `roundTripPerSec`. `quick` shortens each measurement from
 * 150 ms to 40 ms (the whole run from about 7 s to about 3 s); `only` keeps the rows whose key
 * contains one of its strings.
 */
export async function runCodecMicro(quick: boolean, only: readonly string[] = []): Promise<Record<string, Record<string, number>>> {
  const milliseconds = quick ? 40 : 150;
  const runs: { key: string; operations: ReturnType<Candidate['prepare']> }[] = [];
  for (const [label, message] of MESSAGES) {
    for (const candidate of candidates) {
      const key = `${candidate.name} ${label}`;
      if (only.length === 0 || only.some((name) => key.includes(name))) runs.push({ key, operations: candidate.prepare(message) });
    }
  }
  // Warm every candidate first, so the first one measured does not pay for compiling shared code
  for (const { operations } of runs) {
    for (const operation of [operations.encode, operations.decode, operations.roundTrip]) for (let i = 0; i < (quick ? 3_000 : 20_000); i++) operation();
  }
  const results: Record<string, Record<string, number>> = {};
  for (const { key, operations } of runs) {
    results[key] = {
      encodePerSec: measure(operations.encode, milliseconds),
      decodePerSec: measure(operations.decode, milliseconds),
      roundTripPerSec: measure(operations.roundTrip, milliseconds),
    };
    await new Promise((resolve) => setImmediate(resolve)); // let the event loop (and a harness) breathe
  }
  return results;
}

function formatTable(results: Record<string, Record<string, number>>): string {
  const columns = ['encodePerSec', 'decodePerSec', 'roundTripPerSec'];
  const rows = Object.entries(results).map(([name, metrics]) => [name, ...columns.map((column) => Math.round(metrics[column]).toLocaleString('en-US'))]);
  const header = ['candidate', ...columns];
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index].length)));
  const line = (cells: string[]) => cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]) : cell.padStart(widths[index]))).join('  ');
  return [line(header), widths.map((width) => '─'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick') || process.env.WEFT_BENCH_QUICK === '1';
  console.log(`codec micro-benchmark, one thread, ops/s${quick ? ' (quick)' : ''}; tiny = ${JSON.stringify(TINY_MESSAGE)}`);
  const sizes = MESSAGES.map(([label, message]) => {
    const encoder = new MessageEncoder();
    const first = encoder.encode(message).length; // defines the shapes
    return `${label} ${first} B, then ${encoder.encode(message).length} B (msgpackr alone: ${pack(message).length} B)`;
  });
  console.log(`weft frames: ${sizes.join('; ')}`);
  const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  console.log(formatTable(await runCodecMicro(quick, only)));
}
