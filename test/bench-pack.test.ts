/**
 * The bench as users get it: `npm pack` this package (as built by `npm test`), install the tarball
 * in an empty folder, and run `npx weft bench` there, as the README says. The peers are optional
 * peer dependencies, so none is installed: their rows must be skipped with a line saying how to
 * add them, and the run must still write its results and its chart where it was told.
 *
 * The install takes weft's own dependencies from the npm cache when it has them (the npm registry
 * otherwise): `--prefer-offline`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npx weft bench from an installed tarball', () => {
  it('runs the suites it ships, skips the peers that are not installed, and writes the JSON and SVG asked for', async () => {
    // the tarball: dist/ as `npm test` built it (prepack would rebuild it; not needed here)
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: ROOT, maxBuffer: 16 << 20 });
    const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    const app = join(dir, 'app');
    await run('mkdir', [app]);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: app, timeout: 60_000 });

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
    expect(readdirSync(app).sort()).toEqual(['node_modules', 'out.json', 'out.svg', 'package-lock.json', 'package.json']);
    // (the package ships bench/*.ts, the sources of its source maps, but no results folder)
    expect(existsSync(join(app, 'node_modules', 'weft', 'bench', 'results'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'weft', 'bench', 'suites', 'ring-stream.ts'))).toBe(true);
  }, 150_000);
});
