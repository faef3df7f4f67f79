/**
 * What the cluster suites share: a nats-server of their own (the one the tests use), and the other
 * processes (./peer.ts), each ready before the measuring starts and ended after.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SuiteSkipped } from '../harness.js';
import { natsClient } from './nats-client.js';
import { startNatsServer, type NatsServer } from '../../test/cluster/nats-server.js';

export { startNatsServer, type NatsServer };

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));

export interface Peer {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts ./peer.ts in `role` and resolves once it says it is ready. */
export async function startPeer(role: string, ...args: string[]): Promise<Peer> {
  const child = fork(PEER, [role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    void exited.then(() => reject(new Error(`bench peer ${role} exited before it was ready`)));
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** True if an executable `name` is in one of PATH's folders. */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Runs `body` with a nats-server and the peers `roles` started, and stops them all after. Without
 * a `nats-server` on PATH the suite is skipped (`SuiteSkipped`), saying how to install one.
 */
export async function withCluster<T>(roles: Array<(url: string) => [role: string, ...args: string[]]>, body: (url: string) => Promise<T>): Promise<T> {
  if (!onPath('nats-server')) throw new SuiteSkipped('needs `nats-server` on PATH (Debian/Ubuntu: apt-get install nats-server; or https://nats.io)');
  await natsClient(); // skipped, with the install command, when the NATS client is not installed
  const nats = await startNatsServer({ jetstream: false });
  const peers: Peer[] = [];
  try {
    for (const role of roles) peers.push(await startPeer(...role(nats.url)));
    return await body(nats.url);
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
    await nats.stop();
  }
}
