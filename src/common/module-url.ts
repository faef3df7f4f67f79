/**
 * What every API that takes a module (`spawn`, `ctx.spawn`, `child`, `system.pool`'s `actor`,
 * `run`, `map`, `serve`, `ThreadPool`'s `filename`) does with it: the URL string a thread imports.
 *
 * A relative path means what it means in an `import` written where the call is: relative to the
 * *file that made the call*. Without this, `spawn('./counter.js')` travelled as it was, and the
 * shard's `import()` read it against weft's own folder (`dist/src/common/`), where nothing of the
 * user's lives. The caller is the first frame of the call's stack outside weft's own source
 * folder, so it is the user's file however many weft functions sit in between (`system.threadPool`
 * → `new ThreadPool`). Where no such frame has a file (a REPL, `eval`), the current directory
 * stands in, as for `new Worker('./x.js')`.
 *
 * Only a relative string costs a stack capture; a `URL`, an absolute path or a URL string is taken
 * as it is. Bundlers cannot see through either form: a bundled app gives
 * `new URL('./x.js', import.meta.url)`, which they keep as a file beside the bundle.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/** weft's own source folder (`src/` or `dist/src/`): frames inside it are not the caller. */
const WEFT_SRC = new URL('../', import.meta.url).href;

/** `scheme:` at the start, but not a Windows drive (`C:\`). */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;

/**
 * `module` as the URL string a thread imports. Throws InvalidArgumentError for anything but a
 * non-empty string or a URL (`what` names the argument in the message).
 *
 * ```ts
 * moduleUrl('./counter.js')                            // file:///app/dist/counter.js, called from /app/dist/main.js
 * moduleUrl(new URL('./counter.js', import.meta.url))  // the same, and what bundlers keep
 * ```
 */
export function moduleUrl(module: unknown, what = 'module'): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new InvalidArgumentError(`expected \`${what}\` to be a URL, a file URL string or a file path, got: ${describeValue(module)}`);
  if (HAS_SCHEME.test(module) && !WINDOWS_DRIVE.test(module)) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  const caller = callerFile();
  // As a path, not a URL: a `#` or `%` in a file name is a character, not a fragment or an escape.
  return pathToFileURL(caller === undefined ? module : resolve(dirname(fileURLToPath(caller)), module)).href;
}

/** The URL of the first file on the stack outside weft's source folder, if any frame has one. */
function callerFile(): string | undefined {
  const saved = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 50;
    Error.prepareStackTrace = (_, stack) => stack;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, moduleUrl);
    sites = holder.stack as NodeJS.CallSite[];
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = savedLimit;
  }
  for (const site of sites) {
    const file = site.getFileName() ?? site.getScriptNameOrSourceURL();
    if (file === undefined || file === null || file === '' || file.startsWith('node:')) continue;
    const url = HAS_SCHEME.test(file) && !WINDOWS_DRIVE.test(file) ? file : isAbsolute(file) ? pathToFileURL(file).href : undefined;
    if (url === undefined || !url.startsWith('file:')) continue;
    if (url.startsWith(WEFT_SRC)) continue;
    return url;
  }
  return undefined;
}
