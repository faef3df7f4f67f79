/**
 * Runs after `tsc`: rewrites weft's entry modules in dist/src as a few bundled files, so a thread
 * loads ~10 modules instead of ~50. Every worker thread loads weft's code before its first task,
 * and Node 20 has no compile cache for ES modules: per module, the loader's reads, stats and
 * resolution, and then V8's compile, made a shard's boot ~50 ms slower than one bundled (measured
 * in bench/PROFILE.md §4, "the boot, bundled").
 *
 * One rule keeps this safe: **a module has one copy per thread.** User code in a thread imports
 * `weft` (errors it tests with `instanceof`, `workerData` the shard sets, `Pid`s the codec
 * recognises by class), and main spawns actor modules by URL. So every module that is reached
 * that way is an entry point here: the package's exports, and every `compiledModule(...)` a
 * thread imports. esbuild's code splitting then puts what two entries share in one chunk
 * (dist/src/chunks/), which both import: one instance of each module, whichever entry came first.
 *
 * The files tsc wrote for the other modules stay in dist/src. Only weft's own tests and benchmark
 * tools import them directly (raw rings, the codec), never beside a System that holds the bundled
 * copies; nothing outside the package can (package.json `exports`).
 *
 * A module that finds files from `import.meta.url` does it from weft's src root (`'../main/x.js'`,
 * `'..'`), never from its own folder: bundled, it may run from a chunk, one folder over at the same
 * depth. The build checks that depth.
 */
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first line of every file this writes. */
const BANNER = '// bundled by scripts/bundle.mjs from the modules tsc wrote here';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const outDir = join(root, 'dist', 'src');

/** Every .ts file under `dir`. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/** Paths under src (as 'common/pool.js') of the modules a thread or a user imports by name. */
function entryPoints() {
  const entries = new Set();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const target of Object.values(pkg.exports)) entries.add(relative(outDir, join(root, target.default)).split(sep).join('/'));
  for (const file of sources(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const [, path] of text.matchAll(/compiledModule\('([^']+)'\)/g)) entries.add(path);
    for (const [, path] of text.matchAll(/new URL\('\.\.\/([^']+\.js)', import\.meta\.url\)/g)) entries.add(path);
  }
  return [...entries].sort();
}

/** Modules whose code (not only their comments) reads `import.meta.url`, as paths under src ending in .js. */
function locatingModules() {
  const located = [];
  for (const file of sources(srcDir)) {
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.includes('import.meta.url') && !/^\s*(\*|\/\/|\/\*)/.test(line));
    if (lines.length === 0) continue;
    const fromOwnFolder = lines.find((line) => /new URL\('\.\//.test(line));
    if (fromOwnFolder !== undefined) throw new Error(`${file} finds a file from its own folder ('./'); bundled it may run from dist/src/chunks/: write '../<folder>/<file>': ${fromOwnFolder.trim()}`);
    located.push(relative(srcDir, file).split(sep).join('/').replace(/\.ts$/, '.js'));
  }
  return located;
}

const entries = entryPoints();
const locating = new Set(locatingModules());
// Its inputs are tsc's files: once bundled, dist/src has to be compiled again before another run.
if (entries.some((path) => readFileSync(join(outDir, path), 'utf8').startsWith(BANNER))) {
  console.log('dist/src is bundled already: run tsc first to bundle it again');
  process.exit(0);
}
rmSync(join(outDir, 'chunks'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: entries.map((path) => join(outDir, path)),
  outdir: outDir,
  outbase: outDir,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies stay imports (msgpackr, and the optional peers loaded on demand).
  packages: 'external',
  // Error classes name themselves from their constructor (src/shm/errors.ts).
  keepNames: true,
  sourcemap: true,
  banner: { js: BANNER },
  metafile: true,
  logLevel: 'warning',
});

for (const [output, { inputs }] of Object.entries(result.metafile.outputs)) {
  if (output.endsWith('.map')) continue;
  const depth = relative(outDir, join(root, output)).split(sep).length;
  for (const input of Object.keys(inputs)) {
    const path = relative(outDir, join(root, input)).split(sep).join('/');
    if (locating.has(path) && depth !== path.split('/').length) {
      throw new Error(`${path} reads import.meta.url but was bundled into ${output}, at another depth: its relative URLs would miss`);
    }
  }
}
const outputs = Object.keys(result.metafile.outputs).filter((output) => !output.endsWith('.map'));
console.log(`bundled ${entries.length} entry modules into ${outputs.length} files (dist/src/chunks)`);
