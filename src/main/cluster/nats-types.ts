/**
 * weft's own names for the few NATS client types its signatures show.
 *
 * The NATS client is an optional peer dependency (src/main/cluster/nats-packages.ts): a user who
 * never starts a node does not have it, and a declaration file of weft's that named
 * `@nats-io/transport-node` would then be an error in that user's compiler (TS2307, with
 * `skipLibCheck: false`). So every type a `.d.ts` of weft can show is declared here, structurally,
 * with only what weft needs; the code that uses the real client holds its types in function
 * bodies and private fields, which declarations never print. test/package-types.test.ts checks it.
 */

/**
 * The NATS connection options, as `start({ node: { nats } })` takes them and hands them to the
 * client's `connect` unchanged: the usual ones are named here; any other option of
 * `@nats-io/transport-node`'s `NodeConnectionOptions` passes through as it is.
 */
export interface NatsConnectOptions {
  /** `'nats://host:4222'`, or several. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** The client's name as the server shows it. @default `weft:<cluster>:<node>` */
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** An nkey, JWT or creds authenticator (`credsAuthenticator(…)` from the client), or several. */
  authenticator?: unknown;
  /** TLS options (certificate files or PEM text), or null for none. */
  tls?: { [option: string]: unknown } | null;
  reconnect?: boolean;
  maxReconnectAttempts?: number;
  reconnectTimeWait?: number;
  /** ms to wait for the connection. */
  timeout?: number;
  pingInterval?: number;
  maxPingOut?: number;
  waitOnFirstConnect?: boolean;
  /** Any other option of the client's `connect`. */
  [option: string]: unknown;
}

/**
 * A NATS connection, as the cluster's files hand it to one another. Only what every holder may
 * ask is here; a file that works the connection (KV buckets) narrows it to the client's own type.
 */
export interface NatsConnectionLike {
  isClosed(): boolean;
}

/** A NATS subscription, as the cluster's files hand it to one another: ended with `unsubscribe`. */
export interface NatsSubscriptionLike {
  unsubscribe(max?: number): void;
}
