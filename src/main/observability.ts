/**
 * What a system shows of itself while it runs: `system.stats()` with its window, the inspect
 * endpoint `weft top` attaches to, and OpenTelemetry. All three read the same counters through one
 * `read`, each in a window of its own (src/main/stats-window.ts), and none costs anything unless
 * asked for: the endpoint and OpenTelemetry are off by default, and the counters were kept anyway.
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, describeReason, describeValue } from '../shm/errors.js';
import type { ThreadStats } from '../shm/protocol.js';
import type { Pid } from '../shm/pid.js';
import type { ClusterStats } from './cluster/cluster.js';
import { Windows, type StatsWindow, type StatsWindowView } from './stats-window.js';
import type { ResolvedStartOptions } from './options.js';
import type { InspectReport, InspectServer, PeerReport } from './inspect-server.js';
import type { Telemetry } from './telemetry.js';

export interface FuseStats {
  name: string;
  state: 'ok' | 'blown';
  melts: number;
  blows: number;
  heals: number;
}

/** `system.stats()`: lifetime counters per thread, and the same figures over a window. */
export interface SystemStats {
  awaitedReplies: number;
  /** Main first, then each shard; counters since each thread (re)started. */
  threads: ThreadStats[];
  fuses: FuseStats[];
  /** Shards recycled since start, by the limit they passed (`maxTasksPerThread`, `maxHeapMB`, `maxAgeMs`): not counted as restarts. */
  recycles: { tasks: number; heap: number; age: number };
  cluster?: ClusterStats;
  /**
   * Rates, event-loop utilisation, mailbox high-water and restarts per thread (and per actor, with
   * `start({ metrics: { actors: true } })`) since the last `stats({ reset: true })`, or since start.
   */
  window: StatsWindowView;
}

export interface StatsOptions {
  /**
   * Starts a new window after this read: the next `stats()` covers only what happens from now on
   * (an exporter that reads every N seconds resets each time, as piscina #305 asked).
   * @default false
   */
  reset?: boolean;
}

/** What the figures are read from: the system's threads, restarts and names. */
export interface ObservedHost {
  node(): string;
  creation(): number;
  /** The cluster's nodes up (this one among them), and a call to a named actor on one; undefined outside a cluster. */
  cluster(): { nodes(): string[]; call(node: string, name: string, msg: unknown, timeout: number): Promise<unknown> } | undefined;
  /** Starts the inspect agent on main under `name` (src/main/inspect-agent.ts). */
  spawnAgent(module: URL, name: string): Promise<void>;
  read(): Promise<Omit<SystemStats, 'window'>>;
  restarts(): number[];
  /** Every bound name of this node, for the inspect view. */
  names(): Array<{ name: string; pid: Pid }>;
}

export class Observability {
  private readonly windows = new Windows();
  /** `system.stats()`'s own window. */
  private readonly userWindow: StatsWindow;
  private inspect: InspectServer | undefined;
  private telemetry: Telemetry | undefined;
  /** Set while this node's figures are offered to other nodes (src/main/inspect-agent.ts). */
  private agentKey: string | undefined;

  constructor(private readonly host: ObservedHost) {
    this.userWindow = this.windows.open();
  }

  /** Opens what `options` ask for (the inspect endpoint, OpenTelemetry). */
  async start(options: ResolvedStartOptions): Promise<void> {
    if (options.inspect !== undefined) {
      const { InspectServer } = await import('./inspect-server.js');
      this.inspect = await InspectServer.listen(options.inspect, this.windows.open(), this);
      if (this.host.cluster() !== undefined) {
        // Other nodes' endpoints ask this node for its figures through the agent (one top shows all).
        const agent = await import('./inspect-agent.js');
        const window = this.windows.open();
        this.agentKey = agent.agentKey(this.host.node(), this.host.creation());
        agent.provideReports(this.agentKey, () => this.report(window));
        // From the src root, not './': bundled, this code runs from a chunk in another folder (scripts/bundle.mjs).
        await this.host.spawnAgent(new URL('../main/inspect-agent.js', import.meta.url), agent.INSPECT_AGENT);
      }
    }
    if (options.openTelemetry) {
      const { Telemetry } = await import('./telemetry.js');
      this.telemetry = await Telemetry.start(this.host.node(), this.windows.open(), this);
    }
  }

  /** Where the inspect endpoint listens (`{ port }` on 127.0.0.1, or `{ path }`), if it is open. */
  get inspectAddress(): { host: string; port: number } | { path: string } | undefined {
    return this.inspect?.address;
  }

  async stop(): Promise<void> {
    if (this.agentKey !== undefined) (await import('./inspect-agent.js')).withdrawReports(this.agentKey);
    this.telemetry?.stop();
    await this.inspect?.close();
  }

  stats(options: StatsOptions | undefined): Promise<SystemStats> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      return Promise.reject(new InvalidArgumentError(`expected the options of stats() to be { reset? }, got: ${describeValue(options)}`));
    }
    for (const key of Object.keys(options ?? {})) {
      if (key !== 'reset') return Promise.reject(new InvalidArgumentError(`unknown option \`${key}\` for stats(); accepted: reset`));
    }
    return this.read(this.userWindow, options?.reset === true);
  }

  /** Reads every thread's figures and views them through `window` (every window sees the read's peaks). */
  async read(window: StatsWindow, reset: boolean): Promise<SystemStats> {
    const base = await this.host.read();
    const snapshot = { at: performance.now(), threads: base.threads, restarts: this.host.restarts() };
    this.windows.observe(snapshot);
    return { ...base, window: window.view(snapshot, reset) };
  }

  names(): Array<{ name: string; pid: Pid }> {
    return this.host.names();
  }

  /** This node's report, read in `window` (which it resets). */
  async report(window: StatsWindow): Promise<InspectReport> {
    const stats = await this.read(window, true);
    return { node: this.host.node(), pid: process.pid, at: Date.now(), stats, names: this.names().map(({ name, pid }) => ({ name, pid: String(pid) })) };
  }

  /**
   * The other nodes' reports, asked of their inspect agents at once; a node that does not answer
   * within `timeout` ms (or runs no endpoint) is listed with why. Empty outside a cluster.
   */
  async peerReports(timeout: number): Promise<PeerReport[]> {
    const cluster = this.host.cluster();
    if (cluster === undefined) return [];
    const { INSPECT_AGENT } = await import('./inspect-agent.js');
    const others = cluster.nodes().filter((node) => node !== this.host.node());
    return Promise.all(
      others.map((node) =>
        cluster.call(node, INSPECT_AGENT, 'report', timeout).then(
          (report) => (report === null ? { node, error: 'its endpoint is closing' } : (report as InspectReport)),
          (error: unknown) => ({ node, error: `${describeReason(error)} (start it with { inspect } too, so one endpoint shows it)` }),
        ),
      ),
    );
  }

  get node(): string {
    return this.host.node();
  }
}
