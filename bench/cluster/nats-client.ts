/**
 * The NATS client for the cluster suites, loaded when one runs. It is an optional peer dependency
 * of weft (src/main/cluster/nats-packages.ts), so an installed weft may not have it: the suites
 * that need it are then skipped, saying how to add it, and the others still run (a static import
 * here would stop `npx weft bench` from loading any suite).
 */
import { SuiteSkipped } from '../harness.js';
import { isMissingPackage, missingReason } from '../peers/optional.js';

const PACKAGES = ['@nats-io/transport-node', '@nats-io/kv'];

/** `@nats-io/transport-node`; SuiteSkipped if it (or `@nats-io/kv`, which weft's nodes need) is not installed. */
export async function natsClient(): Promise<typeof import('@nats-io/transport-node')> {
  for (const pkg of PACKAGES) {
    try {
      await import(pkg);
    } catch (error) {
      if (isMissingPackage(error, pkg)) throw new SuiteSkipped(`needs ${missingReason(pkg).replace('to compare with it: ', 'to run it: ')}`);
      throw error;
    }
  }
  return import('@nats-io/transport-node');
}
