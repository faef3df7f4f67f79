/**
 * What every API that takes a module (`spawn`, `ctx.spawn`, `child`, `system.pool`'s `actor`,
 * `run`, `map`, `serve`, `ThreadPool`'s `filename`) does with it: the URL string a thread imports.
 *
 * A `URL` or a string with a scheme (`file:`, `data:`) is taken as given. A path is resolved by
 * CommonJS `require.resolve` rules, as piscina resolves a `filename` (an extensionless path finds
 * `x.js`, `x.cjs`, `x/index.js`; a bare name finds a package), and a relative one means what it
 * means in an `import` written where the call is: relative to the *file that made the call*, not
 * the current directory and not weft's own folder (where a shard's `import()` would otherwise read
 * it). The caller is the first frame of the call's stack outside weft's own source folder, so it is
 * the user's file however many weft functions sit in between (`system.threadPool` →
 * `new ThreadPool`). Where no frame has a file (a REPL, `eval`), the current directory stands in,
 * as for `new Worker('./x.js')`. A path that does not resolve is kept as written (made absolute),
 * so the import fails where it always did, with a ModuleError naming it.
 *
 * Only a relative string costs a stack capture. Bundlers cannot see through a string: a bundled
 * app gives `new URL('./x.js', import.meta.url)`, which they keep as a file beside the bundle.
 */
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/** weft's own source folder (`src/` or `dist/src/`): frames inside it are not the caller. */
const WEFT_SRC = fileURLToPath(new URL('..', import.meta.url));

/** `scheme:` at the start, but not a Windows drive (`C:\`). */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;

/**
 * The file of the first stack frame outside weft (the user's file that called `new ThreadPool()`,
 * `run()`, `spawn()`), or undefined (called from a REPL or eval).
 */
export function callerFile(): string | undefined {
  const saved = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let frames: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 50;
    Error.prepareStackTrace = (_, stack) => stack;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callerFile);
    frames = holder.stack as NodeJS.CallSite[];
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = limit;
  }
  for (const frame of frames) {
    let file = frame.getFileName() ?? frame.getScriptNameOrSourceURL() ?? undefined;
    if (file === undefined || file === '' || file.startsWith('node:')) continue;
    if (file.startsWith('file:')) file = fileURLToPath(file);
    if (!isAbsolute(file) || file.startsWith(WEFT_SRC)) continue;
    return file;
  }
  return undefined;
}

/** Paths already resolved, by base and path: `run(task, { filename })` resolves per task. */
const resolved = new Map<string, string>();

/**
 * The URL string a thread imports for `module` (see the module comment); `from` is the file
 * relative paths and bare names are resolved against (default: the caller). Throws
 * InvalidArgumentError for anything but a non-empty string or a URL (`what` names the argument).
 *
 * ```ts
 * moduleUrl('./counter.js')                            // file:///app/dist/counter.js, called from /app/dist/main.js
 * moduleUrl(new URL('./counter.js', import.meta.url))  // the same, and what bundlers keep
 * ```
 */
export function moduleUrl(module: unknown, what = 'module', from?: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new InvalidArgumentError(`expected \`${what}\` to be a URL, a file URL string or a file path, got: ${describeValue(module)}`);
  if (HAS_SCHEME.test(module) && !WINDOWS_DRIVE.test(module)) return module;
  const base = isAbsolute(module) ? module : (from ?? callerFile() ?? resolve(process.cwd(), '[eval]'));
  const key = `${base}\0${module}`;
  let url = resolved.get(key);
  if (url === undefined) {
    try {
      url = pathToFileURL(createRequire(base).resolve(module)).href;
    } catch {
      // As a path, not a URL: a `#` or `%` in a file name is a character, not a fragment or an escape.
      url = pathToFileURL(resolve(dirname(base), module)).href;
    }
    if (resolved.size < 1024) resolved.set(key, url);
  }
  return url;
}
