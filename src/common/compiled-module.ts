/**
 * Where a module that a thread imports by URL lives: a worker thread runs JavaScript, so when weft
 * itself runs as TypeScript source (the test runner loads sources), the compiled copy in dist/ is
 * the one to load; otherwise the one under this file's src root (bundled, this code runs from
 * dist/src/chunks/, at the same depth). Every path given here is an entry of the bundle
 * (scripts/bundle.mjs), so the thread gets the same module instance its other imports share.
 */
const COMPILED_SRC = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/', import.meta.url) : new URL('../', import.meta.url);

/** The URL of `pathInSrc` (as `'worker/shard.js'`) for a thread to import. */
export function compiledModule(pathInSrc: string): URL {
  return new URL(pathInSrc, COMPILED_SRC);
}
