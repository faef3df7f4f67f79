/**
 * The inspect endpoint (`start({ inspect: { port } })` or `{ path }`): what `npx weft top` reads.
 *
 * One HTTP route, `GET /stats`, answers a JSON `InspectReport`: the system's stats in the
 * endpoint's own window (each request resets it, so a viewer polling every second sees per-second
 * rates without touching `system.stats()`'s window), the bound names, and the node; on a cluster
 * node, the other nodes' reports too, asked of their inspect agents (src/main/inspect-agent.ts). HTTP because
 * any tool can read it (`curl --unix-socket`), and it needs nothing beyond node:http.
 *
 * Bound to 127.0.0.1 only (or a Unix socket, whose file permissions say who may read): the figures
 * name actors and their traffic, which is nobody else's business. It serves figures and never
 * takes orders.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { InspectError, describeReason } from '../shm/errors.js';
import type { StatsWindow } from './stats-window.js';
import type { Observability, SystemStats } from './observability.js';

/** What `GET /stats` answers. */
export interface InspectReport {
  node: string;
  /** `process.pid` of the system's process. */
  pid: number;
  /** `Date.now()` at the read. */
  at: number;
  stats: SystemStats;
  /** Names bound on this node, pids printed (`<node.thread.serial>`). */
  names: Array<{ name: string; pid: string }>;
  /** On a cluster node: every other node's report (or why it has none), asked through the cluster. */
  peers?: PeerReport[];
}

export type PeerReport = InspectReport | { node: string; error: string };

/** How long the endpoint waits for other nodes' reports. */
const PEER_TIMEOUT_MS = 2000;

export class InspectServer {
  private constructor(
    private readonly server: Server,
    readonly address: { host: string; port: number } | { path: string },
    private readonly path: string | undefined,
  ) {}

  /** Listens where `where` says; rejects if it cannot (the port is taken, say). */
  static async listen(where: { port: number } | { path: string }, window: StatsWindow, source: Observability): Promise<InspectServer> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/stats') {
        send(response, 404, { error: 'not found: the inspect endpoint serves GET /stats' });
        return;
      }
      Promise.all([source.report(window), source.peerReports(PEER_TIMEOUT_MS)]).then(
        ([report, peers]) => send(response, 200, peers.length === 0 ? report : { ...report, peers }),
        (error: unknown) => send(response, 503, { error: describeReason(error) }),
      );
    });
    // Its sockets must not hold the process open after the system stops.
    server.unref();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const at = 'path' in where ? `the Unix socket ${where.path}` : `127.0.0.1:${where.port}`;
        reject(new InspectError(`cannot open the inspect endpoint on ${at}: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (taken: pick another, or { port: 0 } for any free one)' : ''}`, { cause: error }));
      });
      if ('path' in where) server.listen(where.path, resolve);
      else server.listen(where.port, '127.0.0.1', resolve);
    });
    const bound = server.address();
    const address = 'path' in where || bound === null || typeof bound === 'string' ? { path: 'path' in where ? where.path : String(bound) } : { host: '127.0.0.1', port: bound.port };
    return new InspectServer(server, address, 'path' in where ? where.path : undefined);
  }

  /** Stops listening and ends open connections; a Unix socket's file is removed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        if (this.path !== undefined) rmSync(this.path, { force: true });
        resolve();
      });
      this.server.closeAllConnections();
    });
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(text);
}
