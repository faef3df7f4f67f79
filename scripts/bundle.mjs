/**
 * The build's second step, after `tsc` (which type-checks and writes every module to dist/):
 * writes weft's entry modules in dist/src again as a few bundled files, so a thread loads ~10
 * modules instead of ~50. Every worker thread loads weft's code before its first task, and Node 20
 * has no compile cache for ES modules: per module, the loader's reads, stats and resolution, and
 * then V8's compile, made a shard's boot ~25–35 ms slower than bundled (bench/PROFILE.md §4, "the
 * boot, bundled").
 *
 * One rule keeps this safe: **a module has one copy per thread.** User code in a thread imports
 * `weft` (errors it tests with `instanceof`, `workerData` the shard sets, `Pid`s the codec
 * recognises by class), and main spawns actor modules by URL. So every module that is reached
 * that way is an entry point here: the package's exports, every `compiledModule('...')` a thread
 * imports, and every module found from `import.meta.url`. esbuild's code splitting then puts what
 * two entries share in one chunk (dist/src/chunks/), which both import: one instance of each
 * module, whichever entry came first.
 *
 * It bundles from the TypeScript sources, not from tsc's files, so every run is whole and a second
 * one changes nothing. tsc's files for the other modules stay in dist/src: only weft's own tests
 * and tools import them (raw rings in threads of their own); nothing outside the package can
 * (package.json `exports`).
 *
 * A module that finds files from `import.meta.url` does it from weft's src root (`'../main/x.js'`,
 * `'..'`), never from its own folder: bundled, it may run from a chunk, one folder over. The build
 * refuses any other use of `import.meta`, and checks that such a module lands at its own depth.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const outDir = join(root, 'dist', 'src');
/** Modules every build must find as entries: a thread cannot start without them. */
const REQUIRED = ['main/index.js', 'worker/shard.js', 'common/task-runner.js'];
/** A module from the src root, as `new URL('../main/inspect-agent.js', import.meta.url)`: an entry (its path captured). */
const SRC_ROOT_MODULE = /new URL\('\.\.\/([\w-]+\/[\w.-]+\.js)', import\.meta\.url\)/g;
/**
 * The uses of `import.meta` a bundled module may make: from the src root, which is the same folder
 * from dist/src/<folder>/ and from dist/src/chunks/ (the last one is compiled-module.ts's, for
 * weft running as TypeScript).
 */
const ROOTED_URLS = [/new URL\('\.\.\/?', import\.meta\.url\)/g, SRC_ROOT_MODULE, /new URL\('\.\.\/\.\.\/dist\/src\/', import\.meta\.url\)/g, /import\.meta\.url\.endsWith\('\.ts'\)/g];

/** Every .ts file under `dir` (walked by hand: Node 20.0 has no recursive readdir). */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `file`'s path under src, as a module name: 'common/pool.js'. */
function moduleName(file) {
  return relative(srcDir, file).split(sep).join('/').replace(/\.ts$/, '.js');
}

/** The lines of `text` that are code, not comments. */
function codeLines(text) {
  return text.split('\n').filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line));
}

const entries = new Set();
const locating = new Set();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const target of Object.values(pkg.exports)) entries.add(relative(outDir, join(root, target.default)).split(sep).join('/'));
for (const file of sources(srcDir)) {
  const text = readFileSync(file, 'utf8');
  for (const [, path] of text.matchAll(/compiledModule\('([^']+)'\)/g)) entries.add(path);
  for (const line of codeLines(text).filter((code) => code.includes('import.meta'))) {
    const rest = ROOTED_URLS.reduce((left, pattern) => left.replace(pattern, ''), line);
    if (rest.includes('import.meta')) throw new Error(`${relative(root, file)}: bundled, this code may run from dist/src/chunks/, so it must find files from the src root ('../<folder>/<file>.js'), not with: ${line.trim()}`);
    locating.add(moduleName(file));
    for (const [, path] of line.matchAll(SRC_ROOT_MODULE)) entries.add(path);
  }
}
for (const path of REQUIRED) if (!entries.has(path)) throw new Error(`found no entry ${path}: the search for entries is broken`);

const result = await build({
  absWorkingDir: root,
  entryPoints: [...entries].sort().map((path) => join(srcDir, path.replace(/\.js$/, '.ts'))),
  outdir: outDir,
  outbase: srcDir,
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
  metafile: true,
  write: false,
  logLevel: 'warning',
});

// Checked before anything is written: a module that locates files lands at its own depth.
for (const [output, { inputs }] of Object.entries(result.metafile.outputs)) {
  const depth = relative(outDir, join(root, output)).split(sep).length;
  for (const input of Object.keys(inputs)) {
    const name = moduleName(join(root, input));
    if (locating.has(name) && depth !== name.split('/').length) throw new Error(`${name} reads import.meta.url but was bundled into ${output}, at another depth: its URLs would miss`);
  }
}

// Written only once checked; then the chunks of earlier builds go, so dist ships what it uses.
const written = new Set();
for (const { path, contents } of result.outputFiles) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
  written.add(path);
}
const chunks = join(outDir, 'chunks');
mkdirSync(chunks, { recursive: true });
for (const name of readdirSync(chunks)) if (!written.has(join(chunks, name))) rmSync(join(chunks, name));
console.log(`bundled ${entries.size} entry modules into ${result.outputFiles.filter(({ path }) => path.endsWith('.js')).length} files`);
