/**
 * Where a worker file (or an actor module) named by the user is: piscina's rules, so a piscina
 * script's `filename` means the same here. A `URL` or a string with a scheme (`file:`, `data:`) is
 * taken as given; a path is resolved by CommonJS `require.resolve` (an extensionless path finds
 * `x.js`, `x.cjs`, `x/index.js`; a bare name finds a package), a relative one against the file
 * that called weft, not the current directory. A path that does not resolve is kept as written
 * (made absolute), so the import fails where it always did, with a ModuleError naming it.
 */
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/** weft's own compiled sources: frames in here are not "the caller". */
const WEFT_SRC = fileURLToPath(new URL('..', import.meta.url));

/**
 * The file of the first stack frame outside weft (the user's file that called `new ThreadPool()`,
 * `run()`, `spawn()`), or undefined (called from a REPL or eval).
 */
export function callerFile(): string | undefined {
  const saved = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let frames: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 30;
    Error.prepareStackTrace = (_, stack) => stack;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callerFile);
    frames = holder.stack as NodeJS.CallSite[];
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = limit;
  }
  for (const frame of frames) {
    let file = frame.getFileName() ?? undefined;
    if (file === undefined || file.startsWith('node:')) continue;
    if (file.startsWith('file:')) file = fileURLToPath(file);
    if (!isAbsolute(file) || file.startsWith(WEFT_SRC)) continue;
    return file;
  }
  return undefined;
}

/** Paths already resolved, by base and path: `run(task, { filename })` resolves per task. */
const resolved = new Map<string, string>();

/**
 * The URL string a thread imports for `file` (see the module comment); `from` is the file relative
 * paths and bare names are resolved against (default: the caller, found only when a path needs it;
 * else the current directory). `what` names the option in the error for a value that is neither a
 * path nor a URL.
 */
export function moduleUrl(file: string | URL, what = 'filename', from?: string): string {
  if (file instanceof URL) return file.href;
  if (typeof file !== 'string' || file === '') throw new InvalidArgumentError(`expected \`${what}\` to be a file path or a URL, got: ${describeValue(file)}`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(file) && !/^[a-z]:[\\/]/i.test(file)) return file; // a URL (not a Windows drive)
  const base = isAbsolute(file) ? file : (from ?? callerFile() ?? resolve(process.cwd(), '[eval]'));
  const key = `${base}\0${file}`;
  let url = resolved.get(key);
  if (url === undefined) {
    try {
      url = pathToFileURL(createRequire(base).resolve(file)).href;
    } catch {
      url = pathToFileURL(resolve(dirname(base), file)).href;
    }
    if (resolved.size < 1024) resolved.set(key, url);
  }
  return url;
}
