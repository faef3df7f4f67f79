/**
 * weft's published types compile for a user who does not have the NATS client: `@nats-io/*` is an
 * optional peer dependency (src/main/cluster/nats-packages.ts), so no `.d.ts` a user's import can
 * reach may name it. The package is packed and installed in an empty folder (no NATS packages),
 * and a file that imports the public API is type-checked there with `skipLibCheck: false`, which
 * checks weft's own declaration files as the user's compiler would.
 *
 * The check uses this repository's TypeScript and `@types/node` (through `typeRoots`) rather than
 * installing them: only weft itself is installed, from the npm cache when it has msgpackr.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const dir = mkdtempSync(join(tmpdir(), 'weft-types-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, filename)], { cwd: app, timeout: 60_000 });
}, 90_000);

/** Declaration text without its doc comments (which may show an `import('@nats-io/…')` as an example). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '');
}

/** A user's file that touches the public API, the cluster options (`node`) included. */
const USER_FILE = `
import { start, ThreadPool, nodePermissions, type NodeOptions, type StartOptions, type ActorRef, type TaskStream } from 'weft';
import { defineActor } from 'weft/actor';

const counter = defineActor({
  init: (n: number) => n,
  handleCall: (msg: { type: 'get' }, state) => ({ reply: state, state }),
  handleStream: function* (msg: { type: 'upTo' }, state) {
    for (let i = 0; i < state; i++) yield i;
  },
});

export async function main(): Promise<number> {
  const node: NodeOptions = { name: 'a', nats: { servers: 'nats://127.0.0.1:4222', user: 'u', pass: 'p' } };
  const options: StartOptions = { threads: 1, node };
  const system = await start(options);
  const ref: ActorRef<typeof counter> = await system.spawn<typeof counter>(new URL('./counter.js', import.meta.url), { args: 1 });
  const pool = new ThreadPool({ filename: new URL('./task.js', import.meta.url).href });
  const stream: TaskStream<number> = pool.stream<number>(1);
  void stream;
  void nodePermissions;
  await pool.destroy();
  for await (const value of ref.stream({ type: 'upTo' }, { highWaterMark: 8 })) void (value satisfies number);
  await system.runWith(new URL('./task.js', import.meta.url), 'default', [1], { signal: AbortSignal.timeout(100) });
  return ref.call({ type: 'get' });
}
`;

describe('the published types without the NATS client', () => {
  it('name no @nats-io module in any declaration file of the library, reachable or not', () => {
    // dist/src: what the package's exports (`weft`, `weft/actor`) are made of (dist/bench is the CLI's)
    const root = join(app, 'node_modules', 'weft', 'dist', 'src');
    const declarations = (readdirSync(root, { recursive: true }) as string[]).filter((file) => file.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(50);
    const naming = declarations.filter((file) => /(from|import\()\s*['"]@nats-io\//.test(withoutComments(readFileSync(join(root, file), 'utf8'))));
    expect(naming).toEqual([]);
  });

  it('compile with skipLibCheck false in a project that has no @nats-io package', async () => {
    expect(existsSync(join(app, 'node_modules', 'weft', 'package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', '@nats-io'))).toBe(false);
    writeFileSync(join(app, 'main.ts'), USER_FILE);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['main.ts'],
      }),
    );
    const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app, timeout: 120_000 }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(checked).toBe('');
  }, 150_000);
});
