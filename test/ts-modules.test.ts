/**
 * Actor and task modules written in TypeScript, on real shards: through tsx registered in every
 * shard (`start({ execArgv: ['--import', './register-tsx.mjs'] })`, the way on Node 20), by Node's own type
 * stripping where the running Node has it, and bundled with esbuild into plain JavaScript whose
 * module refs (`new URL('./x.js', import.meta.url)`) still find their files.
 *
 * The fixtures are the .ts sources under test/fixtures/ts (tsc leaves them alone), importing weft
 * by its package name as an application does (Node resolves the package's own name from inside it).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { SpawnError, ThreadPool, start } from '../src/main/index.js';

const COUNTER_TS = new URL('./fixtures/ts/counter.ts', import.meta.url);
const TASKS_TS = new URL('./fixtures/ts/tasks.ts', import.meta.url);
/** Every shard preloads tsx's API registration (see the fixture: `--import tsx` registers on main only, on Node 20). */
const TSX = ['--import', new URL('./fixtures/ts/register-tsx.mjs', import.meta.url).href];
/** Node strips types by itself (22.18+ and 23.6+ by default; 22.6+ with a flag): `process.features.typescript`. */
const STRIPS_TYPES = Boolean((process.features as { typescript?: unknown }).typescript);

describe('TypeScript modules through tsx (Node 20)', () => {
  it('spawns a .ts actor and runs a .ts task when every shard preloads tsx', async () => {
    const system = await start({ threads: 2, execArgv: TSX });
    try {
      for (const thread of [1, 2]) {
        const counter = await system.spawn(COUNTER_TS, { args: 1, thread });
        expect(await counter.call({ type: 'add', by: 41 })).toBe(42);
        expect(await counter.call({ type: 'file' })).toBe(COUNTER_TS.href); // the .ts itself ran, no compiled copy
      }
      expect(await system.run(TASKS_TS, 'double', 21)).toBe(42);
      expect(await system.run(TASKS_TS)).toBe(TASKS_TS.href);
      // a restarted shard (a new Worker) gets the flags too
      const up = new Promise<{ thread: number }>((resolve) => system.once('threadUp', resolve));
      await system.run('data:text/javascript,export default () => process.exit(3)').catch(() => undefined);
      const { thread } = await up;
      expect(await (await system.spawn(COUNTER_TS, { args: 5, thread })).call({ type: 'get' })).toBe(5);
    } finally {
      await system.stop();
    }
  });

  it('ThreadPool passes its execArgv to its own threads, as piscina does', async () => {
    const pool = new ThreadPool({ filename: TASKS_TS, name: 'double', maxThreads: 1, execArgv: TSX });
    try {
      expect(await pool.run(8)).toBe(16);
    } finally {
      await pool.destroy();
    }
  });

  it.skipIf(STRIPS_TYPES)('without a loader, this Node cannot import a .ts module: the spawn fails, so the flag is what made it work', async () => {
    const system = await start({ threads: 1 });
    try {
      await expect(system.spawn(COUNTER_TS, { args: 0 })).rejects.toBeInstanceOf(SpawnError);
    } finally {
      await system.stop();
    }
  });

  it.runIf(STRIPS_TYPES)('with Node type stripping, a .ts actor and task load with no flag at all', async () => {
    const system = await start({ threads: 1 });
    try {
      expect(await (await system.spawn(COUNTER_TS, { args: 1 })).call({ type: 'add', by: 1 })).toBe(2);
      expect(await system.run(TASKS_TS, 'double', 4)).toBe(8);
    } finally {
      await system.stop();
    }
  });

  it('start refuses an execArgv that is not an array of strings', async () => {
    await expect(start({ threads: 1, execArgv: '--import tsx' as never })).rejects.toThrow(/expected `execArgv` to be an array of strings/);
  });
});

describe('a bundled application', () => {
  // Inside the package, so the bundle's `import 'weft'` (left external) resolves to this build.
  const out = mkdtempSync(join(fileURLToPath(new URL('../dist/test/', import.meta.url)), 'bundle-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("keeps new URL('./x.js', import.meta.url) refs working: esbuild output runs with plain Node", async () => {
    const fixtures = fileURLToPath(new URL('./fixtures/ts/', import.meta.url));
    await build({
      entryPoints: ['bundle-app.ts', 'counter.ts', 'tasks.ts'].map((file) => join(fixtures, file)),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outdir: out,
      outExtension: { '.js': '.js' },
      external: ['weft'],
      logLevel: 'silent',
    });
    const { stdout } = await promisify(execFile)(process.execPath, [join(out, 'bundle-app.js')], { timeout: 60_000 });
    const result = JSON.parse(stdout) as { sum: number; file: string; doubled: number; relative: number };
    expect(result).toEqual({ sum: 42, file: new URL('counter.js', `file://${out}/`).href, doubled: 42, relative: 10 });
  });
});
