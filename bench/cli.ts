#!/usr/bin/env node
/**
 * The `weft` command (package.json `bin`):
 *
 *   npx weft bench [suite ...] [--quick] [--repeat N] [--json FILE] [--svg FILE] [--compare [FILE]] [--list]
 *   npx weft top (--port N | --socket PATH) [--interval MS] [--once]
 *
 * See bench/run.ts and bench/README.md for `bench`, src/cli/top.ts for `top`.
 */
import { USAGE, runBench } from './run.js';
import { TOP_USAGE, runTop } from '../src/cli/top.js';

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  if (command === 'bench') return runBench(rest);
  if (command === 'top') return runTop(rest);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(`usage: weft <command>\n\ncommands:\n  bench   measure weft against postMessage and the worker-pool libraries installed here\n  top     a live view of a running system (start it with { inspect: { port } })\n\n${USAGE}\n\n${TOP_USAGE}`);
    return command === undefined ? 2 : 0;
  }
  console.error(`unknown command \`${command}\`; commands: bench, top`);
  return 2;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  },
);
