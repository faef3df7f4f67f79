/**
 * The NATS client packages, loaded only when a system starts with `node`.
 *
 * They are optional peer dependencies, not dependencies: `@nats-io/transport-node` pulls in
 * `@nats-io/nuid`, whose `engines` asks for Node >= 22, so as a dependency it made every
 * `npm install weft` on Node 20 print an EBADENGINE warning, cluster or not. npm does not install
 * an optional peer, so a project that never starts a node never has them; one that does installs
 * them itself, and if it has not, `start({ node })` says which packages to add (MissingPackageError)
 * rather than failing on a bare ERR_MODULE_NOT_FOUND.
 *
 * Everything else in src/main/cluster imports them for types only (`import type`), which the
 * compiler erases, and loads them through `importNats` here. No declaration file of weft's names
 * them (src/main/cluster/nats-types.ts).
 */
import { MissingPackageError } from '../../shm/errors.js';

/** The range weft is built and tested with; package.json's peerDependencies ask the same. */
export const NATS_RANGE = '^3.4.0';
const NATS_PACKAGES = ['@nats-io/transport-node', '@nats-io/kv'] as const;

/** True when `error` says that `pkg` itself (not something it imports) could not be found. */
function isMissing(error: unknown, pkg: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}'`);
}

/**
 * Imports one NATS package, or rejects with MissingPackageError naming it and the install command.
 * The caller writes the `import()` (`importNats('@nats-io/kv', () => import('@nats-io/kv'))`), so the
 * module's type is inferred inside the caller's function body: no declaration file of weft's names
 * the package (src/main/cluster/nats-types.ts says why that matters).
 */
export async function importNats<T>(pkg: (typeof NATS_PACKAGES)[number], importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (!isMissing(error, pkg)) throw error;
    const install = NATS_PACKAGES.map((name) => `'${name}@${NATS_RANGE}'`).join(' ');
    throw new MissingPackageError(`start({ node }) needs the package ${pkg}, which is not installed (the NATS client is an optional peer dependency of weft); install it with: npm install ${install}`, pkg, { cause: error });
  }
}
