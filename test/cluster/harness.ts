/**
 * Real processes for the cluster tests: weft nodes in child processes (test/fixtures/cluster/node.ts),
 * driven over their IPC channel, beside a real nats-server (nats-server.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Pid } from '../../src/shm/pid.js';
import type { StartOptions } from '../../src/main/options.js';
import { fixtureUrl } from '../helpers.js';

export { startNatsServer, type NatsServer } from './nats-server.js';

type PlainPid = { node: string; thread: number; serial: number; creation: number };

/** A weft node in a child process. */
export interface NodeProcess {
  name: string;
  creation: number;
  child: ChildProcess;
  /** Asks the node to do something (see the fixture); rejects with the error it got. */
  ask<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  spawn(module: URL, options?: Record<string, unknown>): Promise<Pid>;
  /** SIGKILL: no goodbye, no cleanup. */
  kill(): Promise<void>;
  /** A clean stop (goodbye to the cluster), then the process exits. */
  stop(): Promise<void>;
}

export function toPid(plain: PlainPid): Pid {
  return new Pid(plain.node, plain.thread, plain.serial, plain.creation);
}

export function plainPid(pid: Pid): PlainPid {
  return { node: pid.node, thread: pid.thread, serial: pid.serial, creation: pid.creation };
}

/** Starts a node process joined to `nats` (a URL), and resolves once it has joined. */
export async function startNode(name: string, nats: string, options: Omit<StartOptions, 'node'> & { node?: Partial<NonNullable<StartOptions['node']>> } = {}): Promise<NodeProcess> {
  const { node, ...rest } = options;
  // Remote spawn is opt-in: the test nodes spawn the fixture actor the tests spawn on them from afar.
  const config: StartOptions = { threads: 1, ...rest, node: { name, nats: { servers: nats }, heartbeat: 200, downAfter: 1000, allowSpawn: [fixtureUrl('actors/wanderer').href], ...node } };
  const child = fork(fileURLToPath(fixtureUrl('cluster/node')), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waits = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<number>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; creation?: number; id?: number; ok?: boolean; value?: unknown; error?: { name: string; message: string; code?: string } }) => {
      if (message.ready === true) return resolve(message.creation!);
      const wait = waits.get(message.id!);
      if (wait === undefined) return;
      waits.delete(message.id!);
      if (message.ok === true) wait.resolve(message.value);
      else wait.reject(Object.assign(new Error(message.error!.message), { name: message.error!.name, code: message.error!.code }));
    });
    void exited.then(() => {
      reject(new Error(`node ${name} exited before it was ready`));
      for (const wait of waits.values()) wait.reject(new Error(`node ${name} exited`));
      waits.clear();
    });
  });
  const creation = await ready;
  const ask = <T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waits.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, cmd, ...args });
    });
  return {
    name,
    creation,
    child,
    ask,
    spawn: async (module, spawnOptions = {}) => toPid(await ask<PlainPid>('spawn', { module: module.href, options: spawnOptions })),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) await ask('stop').catch(() => {});
      await exited;
    },
  };
}

/** Polls `check` until it returns true, or throws after `timeout` ms. */
export async function eventually(check: () => boolean | Promise<boolean>, timeout = 10_000, what = 'a condition'): Promise<void> {
  const until = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A TCP relay in front of the NATS server: `cut()` drops every connection through it (a network
 * blip for its clients only); `hold()` keeps what its clients write from the server (a slow link
 * one way) until `release()`, which passes it on in order.
 */
export interface Relay {
  url: string;
  cut(): void;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startRelay(natsPort: number): Promise<Relay> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(natsPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (!held) client.pipe(upstream);
    upstream.pipe(client);
  });
  let held = false;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = (): void => {
    for (const [client, upstream] of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    cut,
    hold: () => {
      held = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        client.pause(); // unpipe leaves the stream flowing: what arrives now waits in its buffer
      }
    },
    release: () => {
      held = false;
      for (const [client, upstream] of pairs) client.pipe(upstream); // resumes it, the buffer first
    },
    close: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
