/**
 * Monitors and links that cross nodes, as main's cluster keeps them: what it must do when a node
 * goes down (every monitor of its actors fires with `'noconnection'`, every link to them delivers
 * that exit, as Erlang does on a lost node) or when one of this node's threads does (its actors'
 * links and monitors to other nodes must still be told).
 *
 * - Monitors this node holds on remote actors: by a `watchId` of this node, with the thread and
 *   monitor ref of the watcher (the DOWN goes back there).
 * - Monitors other nodes hold on this node's actors: main watches the actor itself
 *   (`runtime.monitorFrom` with a listener) and sends the DOWN on.
 * - Links: each pair (local actor, remote actor), by the remote node, whichever side made it.
 */
import { pidEquals, type Pid } from '../../shm/pid.js';

export interface WatchOut {
  thread: number;
  mref: number;
  target: Pid;
}

export interface WatchIn {
  node: string;
  creation: number;
  watchId: number;
  /** Main's own monitor of the local actor, and the listener it calls. */
  ref: number;
  listener: (down: { pid: Pid; reason: unknown }) => void;
}

type LinkPair = [local: Pid, remote: Pid];

const nodeKey = (node: string, creation: number): string => `${node}#${creation}`;
const pairKey = (local: Pid, remote: Pid): string => `${local.thread}.${local.serial}|${remote.thread}.${remote.serial}`;

export class RemoteWatches {
  private readonly out = new Map<number, WatchOut>();
  private readonly outIds = new Map<string, number>();
  private nextWatchId = 1;
  private readonly in = new Map<string, WatchIn>();
  private readonly links = new Map<string, Map<string, LinkPair>>();

  /** How many of each are held: monitors here on remote actors, monitors from afar on actors here, cross-node links. */
  counts(): { monitorsOut: number; monitorsIn: number; links: number } {
    let links = 0;
    for (const pairs of this.links.values()) links += pairs.size;
    return { monitorsOut: this.out.size, monitorsIn: this.in.size, links };
  }

  // ── monitors held here ────────────────────────────────────────────────────────────────────────

  watchOut(thread: number, mref: number, target: Pid): number {
    const id = this.nextWatchId;
    this.nextWatchId = id >= 0x7fff_fff0 ? 1 : id + 1;
    this.out.set(id, { thread, mref, target });
    this.outIds.set(`${thread}:${mref}`, id);
    return id;
  }

  /** The watcher demonitored: the id to tell the target's node, if the watch was known. */
  unwatchOut(thread: number, mref: number): number | undefined {
    const id = this.outIds.get(`${thread}:${mref}`);
    if (id === undefined) return undefined;
    this.outIds.delete(`${thread}:${mref}`);
    this.out.delete(id);
    return id;
  }

  /** A DOWN came for watch `id`, about `pid`: who to tell (none if the watch was of another actor). */
  downOut(id: number, pid: Pid): WatchOut | undefined {
    const watch = this.out.get(id);
    if (watch === undefined || !pidEquals(watch.target, pid)) return undefined;
    this.out.delete(id);
    this.outIds.delete(`${watch.thread}:${watch.mref}`);
    return watch;
  }

  // ── monitors held elsewhere on actors here ────────────────────────────────────────────────────

  watchIn(watch: WatchIn): void {
    this.in.set(`${nodeKey(watch.node, watch.creation)}:${watch.watchId}`, watch);
  }

  unwatchIn(node: string, creation: number, watchId: number): WatchIn | undefined {
    const key = `${nodeKey(node, creation)}:${watchId}`;
    const watch = this.in.get(key);
    this.in.delete(key);
    return watch;
  }

  // ── links ─────────────────────────────────────────────────────────────────────────────────────

  link(local: Pid, remote: Pid): void {
    const key = nodeKey(remote.node, remote.creation);
    let pairs = this.links.get(key);
    if (pairs === undefined) this.links.set(key, (pairs = new Map()));
    pairs.set(pairKey(local, remote), [local, remote]);
  }

  unlink(local: Pid, remote: Pid): void {
    this.links.get(nodeKey(remote.node, remote.creation))?.delete(pairKey(local, remote));
  }

  // ── losses ────────────────────────────────────────────────────────────────────────────────────

  /** Node `node` is gone: the watches and links to drop, which the cluster then fires. */
  nodeDown(node: string, creation: number): { downs: WatchOut[]; watchedFrom: WatchIn[]; links: LinkPair[] } {
    const downs: WatchOut[] = [];
    for (const [id, watch] of [...this.out]) {
      if (watch.target.node !== node || watch.target.creation !== creation) continue;
      downs.push(watch);
      this.out.delete(id);
      this.outIds.delete(`${watch.thread}:${watch.mref}`);
    }
    const watchedFrom: WatchIn[] = [];
    for (const [key, watch] of [...this.in]) {
      if (watch.node !== node || watch.creation !== creation) continue;
      watchedFrom.push(watch);
      this.in.delete(key);
    }
    const key = nodeKey(node, creation);
    const links = [...(this.links.get(key)?.values() ?? [])];
    this.links.delete(key);
    return { downs, watchedFrom, links };
  }

  /** Thread `thread` of this node went down: its watches to drop (the remote side is told), its actors' links to other nodes. */
  threadDown(thread: number): { unwatched: Array<[id: number, target: Pid]>; links: LinkPair[] } {
    const unwatched: Array<[number, Pid]> = [];
    for (const [id, watch] of [...this.out]) {
      if (watch.thread !== thread) continue;
      unwatched.push([id, watch.target]);
      this.out.delete(id);
      this.outIds.delete(`${watch.thread}:${watch.mref}`);
    }
    const links: LinkPair[] = [];
    for (const pairs of this.links.values()) {
      for (const [key, pair] of [...pairs]) {
        if (pair[0].thread !== thread) continue;
        links.push(pair);
        pairs.delete(key);
      }
    }
    return { unwatched, links };
  }
}
