/**
 * A real `nats-server` (Debian's package; `.ci/run` installs it) on a free loopback port, with
 * JetStream in a temporary store (global names need it), for the cluster tests and benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  url: string;
  port: number;
  /** Kills the server (SIGKILL with `hard`) and waits for it to exit. */
  kill(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `nats-server` on a free loopback port; `config` is the text of a config file (auth tests). */
export async function startNatsServer(options: { jetstream?: boolean; config?: string } = {}): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'weft-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream !== false) args.push('-js', '-sd', dir);
  if (options.config !== undefined) {
    const file = join(dir, 'server.conf');
    writeFileSync(file, options.config);
    args.push('-c', file);
  }
  return runServer(port, dir, args);
}

/** Starts `nats-server` with the whole config in a file (it says where to listen). */
async function startNatsServerAt(port: number, dir: string, config: string): Promise<NatsServer> {
  const file = join(dir, 'server.conf');
  writeFileSync(file, config);
  return runServer(port, dir, ['-c', file]);
}

async function runServer(port: number, dir: string, args: string[]): Promise<NatsServer> {
  let child: ChildProcess | undefined;
  const run = async (): Promise<void> => {
    child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`nats-server exited (${code}) before it was ready:\n${log}`))));
    await Promise.race([waitForPort(port, 10_000), exited]);
  };
  await run();
  const kill = async (hard = false): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const gone = new Promise((resolve) => current.once('exit', resolve));
    current.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await gone;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill,
    restart: run,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeout: number): Promise<void> {
  const until = Date.now() + timeout;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}


/** Three (or `size`) nats-servers routed into one NATS cluster on loopback, JetStream clustered. */
export interface NatsCluster {
  servers: NatsServer[];
  /** Every server's URL, for a client that should fail over between them. */
  urls: string[];
  stop(): Promise<void>;
}

/**
 * The config of server `i` of a cluster on loopback: a name (JetStream's raft needs one), its own
 * store, and routes to every server (its own route is skipped by the server). This is the config
 * the README shows.
 */
export function clusterServerConfig(options: { name: string; port: number; routePort: number; routePorts: number[]; storeDir: string; clusterName?: string }): string {
  return [
    `server_name: ${JSON.stringify(options.name)}`,
    `listen: "127.0.0.1:${options.port}"`,
    `jetstream { store_dir: ${JSON.stringify(options.storeDir)} }`,
    'cluster {',
    `  name: ${JSON.stringify(options.clusterName ?? 'weft-nats')}`,
    `  listen: "127.0.0.1:${options.routePort}"`,
    `  routes: [${options.routePorts.map((port) => JSON.stringify(`nats-route://127.0.0.1:${port}`)).join(', ')}]`,
    '}',
    '',
  ].join('\n');
}

/** Starts `size` clustered nats-servers and waits until their JetStream cluster has a leader. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    routePorts.push(await freePort());
  }
  const servers = await Promise.all(
    ports.map((port, i) => {
      const dir = mkdtempSync(join(tmpdir(), `weft-nats-${i}-`));
      return startNatsServerAt(port, dir, clusterServerConfig({ name: `n${i + 1}`, port, routePort: routePorts[i], routePorts, storeDir: dir }));
    }),
  );
  const urls = servers.map((server) => server.url);
  const cluster = { servers, urls, stop: async () => void (await Promise.all(servers.map((server) => server.stop()))) };
  try {
    await jetStreamReady(urls, 30_000);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Resolves once a JetStream API request is answered (the cluster elected its meta leader). */
async function jetStreamReady(urls: string[], timeout: number): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: urls });
  try {
    const until = Date.now() + timeout;
    for (;;) {
      try {
        const reply = await nc.request('$JS.API.INFO', undefined, { timeout: 2000 });
        const info = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: unknown };
        if (info.error === undefined) return;
      } catch {
        // not yet
      }
      if (Date.now() > until) throw new Error(`the JetStream cluster of ${urls.join(', ')} had no leader after ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await nc.close();
  }
}
