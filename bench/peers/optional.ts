/**
 * The libraries weft is compared with are not weft's dependencies: an installed copy of weft runs
 * its bench with whichever of them the user has installed (they are optional peer dependencies in
 * package.json), and leaves the others' rows out with a line saying how to add them.
 *
 *   const opossum = await importOptional('opossum', () => import('opossum'), ctx.skip);
 *   if (opossum !== undefined) results.opossum = …;
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../package-root.js';

const OWN_PACKAGE = join(PACKAGE_ROOT, 'package.json');

/** The version range weft's package.json asks for `pkg` (peer, then dev dependency), for the message. */
function wantedRange(pkg: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(OWN_PACKAGE, 'utf8')) as Record<string, Record<string, string> | undefined>;
    return manifest.peerDependencies?.[pkg] ?? manifest.devDependencies?.[pkg];
  } catch {
    return undefined;
  }
}

/** True when `err` says that `pkg` itself (not something inside it) could not be found. */
export function isMissingPackage(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}'`);
}

/** Why a peer's rows are missing, and the command that brings them back. */
export function missingReason(pkg: string): string {
  const range = wantedRange(pkg);
  return `${pkg} is not installed; to compare with it: npm install ${range === undefined ? pkg : `'${pkg}@${range}'`}`;
}

/**
 * Runs `load` (a dynamic import of `pkg`, or of an adapter that imports it) and returns what it
 * gives; if `pkg` is not installed, reports it through `skip(library, reason)` and returns
 * undefined. Any other failure (a broken install, a bug in the adapter) is thrown, not skipped.
 */
export async function importOptional<T>(pkg: string, load: () => Promise<T>, skip: (library: string, reason: string) => void, library: string = pkg): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (!isMissingPackage(err, pkg)) throw err;
    skip(library, missingReason(pkg));
    return undefined;
  }
}

/**
 * The installed version of `pkg`, for `config()`: found from where Node resolves it, so it is right
 * in this repository and in a project that installed weft (where the peers sit beside weft).
 */
export function packageVersion(pkg: string): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)));
    for (let up = 0; up < 6; up++) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
        if (manifest.name === pkg && typeof manifest.version === 'string') return manifest.version;
      } catch {}
      dir = dirname(dir);
    }
  } catch {}
  return 'unknown';
}
