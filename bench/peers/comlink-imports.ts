/**
 * comlink ships CommonJS (UMD) files without an `exports` map, and types its node adapter as
 * `export default function nodeEndpoint`. Imported from ESM, Node hands over `module.exports` (the
 * function itself) as the default export, whereas TypeScript (NodeNext) reads the `.d.ts` as
 * CommonJS and types that default as `{ default: nodeEndpoint }`. So the types and the runtime
 * disagree by one `.default`; this module resolves it once, at runtime, and types the result with
 * comlink's own declaration. Shared by the main side (`comlink.ts`) and the worker
 * (`bench/workers/peer-comlink.ts`).
 */
import Comlink from 'comlink';
import * as adapter from 'comlink/dist/umd/node-adapter.js';

type NodeEndpointFn = typeof adapter.default.default;

const loaded: unknown = adapter.default;
const fn: unknown = typeof loaded === 'function' ? loaded : (loaded as { default?: unknown } | undefined)?.default;
if (typeof fn !== 'function') throw new Error(`comlink/dist/umd/node-adapter.js: expected a function, got: ${typeof fn}`);

export { Comlink };
export const nodeEndpoint = fn as NodeEndpointFn;
