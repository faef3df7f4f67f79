#!/usr/bin/env node
/**
 * The `weft` command (package.json `bin`). One subcommand for now:
 *
 *   npx weft bench [suite ...] [--quick] [--repeat N] [--json FILE] [--svg FILE] [--compare [FILE]] [--list]
 *
 * See bench/run.ts and bench/README.md.
 */
import { USAGE, runBench } from './run.js';

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  if (command === 'bench') return runBench(rest);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(`usage: weft <command>\n\ncommands:\n  bench   measure weft against postMessage and the worker-pool libraries installed here\n\n${USAGE}`);
    return command === undefined ? 2 : 0;
  }
  console.error(`unknown command \`${command}\`; commands: bench`);
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
