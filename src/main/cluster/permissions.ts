/**
 * The NATS permissions of one node's user, for a server that gives each node a user of its own:
 * with them the server refuses any publish under another node's name, so no node (and no one who
 * holds one node's credentials) can forge another's ops, heartbeats, hello or goodbye. Every weft
 * subject ends in its sender's name (cluster.ts), which is what makes this a plain subject rule.
 *
 * What stays shared, by design: a node may take, renew or free any global name (names belong to
 * the cluster, and `weft_<cluster>_names` is one bucket), and read the node-name bucket; its own
 * node-name key is the only one it may write. The JetStream API subjects are limited to weft's
 * two buckets.
 */
import { InvalidArgumentError, describeValue } from '../../shm/errors.js';
import { TOKEN } from './node-options.js';

/** A user's `permissions` in nats-server's config (JSON is valid nats-server config). */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/**
 * The permissions of node `node`'s user in cluster `cluster` (default 'weft').
 * @example
 * // nats-server.conf, one user per node:
 * // authorization { users = [ { user: a, password: …, permissions: <nodePermissions({ node: 'a' }) as JSON> }, … ] }
 */
export function nodePermissions(options: { node: string; cluster?: string }): NatsPermissions {
  const { node, cluster = 'weft' } = options;
  for (const [what, value] of [['node', node], ['cluster', cluster]] as const) {
    if (typeof value !== 'string' || !TOKEN.test(value)) throw new InvalidArgumentError(`expected \`${what}\` to be 1 to 64 letters, digits, \`_\` or \`-\`, got: ${describeValue(value)}`);
  }
  const p = `weft.${cluster}`;
  // (a NATS wildcard is a whole token: each bucket's stream is named in full)
  const streams = [`KV_weft_${cluster}_names`, `KV_weft_${cluster}_nodes`];
  const jetstream = streams.flatMap((stream) => [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.CREATE.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.FC.${stream}.>`,
    `$JS.ACK.${stream}.>`,
  ]);
  return {
    publish: {
      allow: [
        `${p}.hb.${node}`, // heartbeats, hello, bye: only its own
        `${p}.n.*.${node}`, // batches to any node, from itself
        `${p}.t.*.*.${node}`, // tasks to any node or 'any', from itself
        `$KV.weft_${cluster}_names.>`, // global names are the cluster's
        `$KV.weft_${cluster}_nodes.${node}`, // its own node-name lease
        '$JS.API.INFO',
        ...jetstream,
      ],
    },
    subscribe: {
      allow: [`${p}.hb.*`, `${p}.n.${node}.*`, `${p}.t.*.any.*`, `${p}.t.*.${node}.*`, '_INBOX.>'],
    },
  };
}
