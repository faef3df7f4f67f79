/**
 * Names unique across the cluster (`spawn(…, { name, global: true })`, `whereisGlobal`), kept in a
 * NATS KV bucket (`weft_<cluster>_names`, JetStream). Taking a name is `create`, which the server
 * does only if the key is absent: two nodes racing for a name cannot both win. Every node watches
 * the bucket, so `whereisGlobal` is a map read. A name is freed by its node when the actor exits,
 * and by every surviving node when the owner's node goes down (a delete on the revision they saw:
 * whoever comes second changes nothing); a dead owner's name may also be taken over, by revision.
 *
 * A node declared down by mistake (its heartbeats were late, not lost) sees its live actors' names
 * deleted in the bucket, and puts them back; if another actor took one meanwhile, that one keeps
 * it and the owner is told (`GlobalNamesHost.lost`), as Erlang's `global` resolves a clash after a partition.
 *
 * A watch can fall silent without ending: when the server holding its consumer dies, the client
 * makes a new consumer, and under load or during the stream's leader election that can fail for
 * good with no error to the iterator (seen on a 3-server cluster: a node never saw a name taken
 * after the failover). So the node checks its watch every WATCH_CHECK_MS against the bucket's last
 * revision; a revision the bucket had at one check that the watch has still not delivered at the
 * next means the watch is stale, and it is replaced (its replay of every key brings the view up).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionLike } from './nats-types.js';
import type { KV } from '@nats-io/kv';
import { AlreadyRegisteredError, ClusterError } from '../../shm/errors.js';
import { Pid, pidEquals } from '../../shm/pid.js';
import { importNats } from './nats-packages.js';

/** Ms between two checks that the watch keeps up with the bucket (see the module comment). */
const WATCH_CHECK_MS = 5000;

interface Entry {
  pid: Pid;
  revision: number;
}

/** What the names ask of their node. */
export interface GlobalNamesHost {
  /** This node, whose own holders are alive exactly while they own their name. */
  node: string;
  creation: number;
  /** Whether another node's holder may be alive (its node life is up, or may be). */
  alive(holder: Pid): boolean;
  /** A name this node's live actor held was taken while this node was taken for down. */
  lost(name: string, pid: Pid, holder: Pid | undefined): void;
}

interface Stored {
  node: string;
  creation: number;
  thread: number;
  serial: number;
}

export class GlobalNames {
  private readonly entries = new Map<string, Entry>();
  /** Names this node's live actors hold. */
  private readonly owned = new Map<string, Pid>();
  private stopped = false;
  /** The watch being read, and the highest revision it has delivered. */
  private watch: Watch | undefined;
  private seenRevision = 0;
  /** The bucket's last revision at the previous check, if the watch had not delivered it then. */
  private awaitedRevision = 0;
  private checking = false;
  private readonly checker = setInterval(() => void this.checkWatch(), WATCH_CHECK_MS).unref();

  private constructor(
    private readonly kv: KV,
    private readonly host: GlobalNamesHost,
    /** True once the connection is closed for good: no watch can be opened again. */
    private readonly closed: () => boolean,
  ) {}

  /** Opens (or makes) the cluster's bucket and starts watching it. Rejects with ClusterError without JetStream. */
  static async open(nc: NatsConnectionLike, cluster: string, host: GlobalNamesHost, replicas = 1): Promise<GlobalNames> {
    const { Kvm } = await importNats('@nats-io/kv', () => import('@nats-io/kv'));
    let kv: KV;
    try {
      kv = await new Kvm(nc as NatsConnection).create(`weft_${cluster}_names`, { history: 1, replicas });
    } catch (error) {
      throw new ClusterError(`cannot open the global-names bucket: is JetStream on (nats-server -js)? ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const names = new GlobalNames(kv, host, () => nc.isClosed());
    void names.follow(await kv.watch({ key: '>' }));
    return names;
  }

  /**
   * The actor holding `name`, while it lives (or may: see GlobalNamesHost.alive). A holder whose
   * node is down is nobody's, whether or not its entry is deleted yet: a delete sent while the
   * server was away may never land, and every node must still give the same answer.
   */
  whereis(name: string): Pid | undefined {
    return this.heldBy(name);
  }

  /** The actor holding `name`, if it is alive (or may be: see GlobalNamesHost.alive). */
  heldBy(name: string): Pid | undefined {
    const holder = this.entries.get(name)?.pid;
    return holder !== undefined && this.live(name, holder) ? holder : undefined;
  }

  /** A holder of this node is alive while it owns the name (its exit frees it); another node's, as the host says. */
  private live(name: string, holder: Pid): boolean {
    const { node, creation } = this.host;
    if (holder.node !== node || holder.creation !== creation) return this.host.alive(holder);
    const owner = this.owned.get(name);
    return owner !== undefined && pidEquals(owner, holder);
  }

  /** Takes `name` for `pid`; rejects with AlreadyRegisteredError if a live actor holds it. */
  async register(name: string, pid: Pid): Promise<void> {
    const key = keyOf(name);
    const value = valueOf(pid);
    let refusal: unknown;
    try {
      this.took(name, pid, await this.kv.create(key, value));
      return;
    } catch (error) {
      refusal = error;
    }
    const held = await this.kv.get(key).catch(() => null);
    if (held === null) {
      throw new ClusterError(`cannot register the global name ${JSON.stringify(name)}: ${refusal instanceof Error ? refusal.message : String(refusal)}`, { cause: refusal });
    }
    const holder = held.operation === 'PUT' ? pidOf(held.string()) : undefined;
    if (holder === undefined || !this.live(name, holder)) {
      // Freed meanwhile, or its holder's node is gone before anyone freed it: take it, by revision.
      try {
        this.took(name, pid, await this.kv.update(key, value, held.revision));
        return;
      } catch {
        // another node was quicker
      }
    }
    const now = this.entries.get(name)?.pid ?? holder;
    throw new AlreadyRegisteredError(`the global name ${JSON.stringify(name)} is taken${now === undefined ? '' : ` by ${now}`}`);
  }

  private took(name: string, pid: Pid, revision: number): void {
    this.entries.set(name, { pid, revision });
    this.owned.set(name, pid);
  }

  /** Frees `name` if `pid` still holds it. */
  unregister(name: string, pid: Pid): void {
    if (this.owned.has(name) && pidEquals(this.owned.get(name)!, pid)) this.owned.delete(name);
    const entry = this.entries.get(name);
    if (entry === undefined || !pidEquals(entry.pid, pid)) return;
    this.entries.delete(name);
    this.kv.delete(keyOf(name), { previousSeq: entry.revision }).catch(() => {});
  }

  /** Frees every name held by actors of `node`'s life `creation` (it went down). */
  freeNode(node: string, creation: number): void {
    this.freeWhere((pid) => pid.node === node && pid.creation === creation);
  }

  /** Frees names left by an earlier life of this node (`node`, any creation but `creation`). */
  freeOldLives(node: string, creation: number): void {
    this.freeWhere((pid) => pid.node === node && pid.creation !== creation);
  }

  /**
   * Deletes the names of holders that are gone, on the revision seen. The view here changes only
   * when the bucket says so (the watch): a delete refused (a node that took this one's peer for
   * down by mistake while the owner put its name back) must not leave this node alone in not
   * seeing a name the others see. Meanwhile `whereis` hides a holder whose node is down.
   */
  private freeWhere(gone: (pid: Pid) => boolean): void {
    for (const [name, entry] of [...this.entries]) {
      if (gone(entry.pid)) this.kv.delete(keyOf(name), { previousSeq: entry.revision }).catch(() => {});
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.checker);
  }

  /**
   * The connection is back: the server may have lost what it had not stored yet (killed, not
   * stopped), and a watch resumes after what it saw, so nobody would notice a name gone. Each name
   * this node's live actors hold is read back: there, nothing to do; gone, put back; another's
   * (taken while this node was out of reach), lost. Never rejects.
   */
  reassert(): void {
    for (const [name, pid] of [...this.owned]) void this.check(name, pid);
  }

  private async check(name: string, pid: Pid, attempt = 0): Promise<void> {
    const key = keyOf(name);
    const entry = await this.kv.get(key).catch(() => undefined);
    if (this.stopped || this.closed() || this.owned.get(name) !== pid) return;
    if (entry === undefined) {
      // JetStream may not be back yet on a restarted server: try a few times
      if (attempt < 10) setTimeout(() => void this.check(name, pid, attempt + 1), 500).unref();
      return;
    }
    const holder = entry !== null && entry.operation === 'PUT' ? pidOf(entry.string()) : undefined;
    if (holder !== undefined && pidEquals(holder, pid)) return;
    if (holder !== undefined) return this.lose(name, pid, holder);
    try {
      const revision = entry === null ? await this.kv.create(key, valueOf(pid)) : await this.kv.update(key, valueOf(pid), entry.revision);
      if (this.owned.get(name) === pid) this.took(name, pid, revision);
      else this.kv.delete(key, { previousSeq: revision }).catch(() => {});
    } catch {
      // taken meanwhile: the watch tells this node whose it is now
    }
  }

  /** Our live actor's name was deleted (this node was taken for down): put it back, unless taken. */
  private async reclaim(name: string, pid: Pid): Promise<void> {
    try {
      const revision = await this.kv.create(keyOf(name), valueOf(pid));
      if (this.owned.get(name) !== pid) {
        // it exited while the name was being put back: free it again
        this.kv.delete(keyOf(name), { previousSeq: revision }).catch(() => {});
        return;
      }
      this.took(name, pid, revision);
    } catch {
      if (this.stopped || this.owned.get(name) !== pid) return; // stopping, or it exited meanwhile
      this.lose(name, pid, this.entries.get(name)?.pid);
    }
  }

  private lose(name: string, pid: Pid, holder: Pid | undefined): void {
    this.owned.delete(name);
    this.host.lost(name, pid, holder);
  }

  /**
   * Follows the bucket. A watch that ends while this node runs (the server restarted and the
   * client's consumer could not be set up again) is opened anew: its replay of every key's last
   * value brings this node's view up to date. Never rejects.
   */
  private async follow(first: Watch): Promise<void> {
    let watch: Watch | undefined = first;
    while (!this.stopped) {
      if (watch !== undefined) await this.read(watch);
      if (this.stopped || this.closed()) return;
      await new Promise((resolve) => setTimeout(resolve, 250).unref());
      watch = await this.kv.watch({ key: '>' }).catch(() => undefined);
    }
  }

  /**
   * Replaces the watch if it has fallen behind the bucket: a revision the bucket had at the last
   * check that the watch has still not delivered (see the module comment). Never rejects; a bucket
   * that cannot be asked now (the server is away) is asked again at the next check.
   */
  private async checkWatch(): Promise<void> {
    if (this.stopped || this.checking || this.watch === undefined) return;
    this.checking = true;
    try {
      if (this.awaitedRevision !== 0 && this.seenRevision < this.awaitedRevision) {
        this.awaitedRevision = 0;
        this.watch.stop(); // `follow` opens a new one
        return;
      }
      const last = (await this.kv.status()).streamInfo.state.last_seq;
      this.awaitedRevision = last > this.seenRevision ? last : 0;
    } catch {
      // asked again at the next check
    } finally {
      this.checking = false;
    }
  }

  private async read(watch: Watch): Promise<void> {
    this.watch = watch;
    try {
      for await (const change of watch) {
        if (this.stopped) break;
        if (change.revision > this.seenRevision) this.seenRevision = change.revision;
        const name = nameOf(change.key);
        if (name === undefined) continue;
        const pid = change.operation === 'PUT' ? pidOf(change.string()) : undefined;
        if (pid === undefined) this.entries.delete(name);
        else this.entries.set(name, { pid, revision: change.revision });
        const mine = this.owned.get(name);
        if (mine === undefined || (pid !== undefined && pidEquals(pid, mine))) continue;
        if (pid === undefined) void this.reclaim(name, mine);
        else this.lose(name, mine, pid);
      }
    } catch {
      // the connection closed (the node is stopping), or the watch broke: `follow` says which
    } finally {
      watch.stop();
      this.watch = undefined;
    }
  }
}

type Watch = AsyncIterable<{ key: string; operation: string; revision: number; string(): string }> & { stop(): void };

function valueOf(pid: Pid): string {
  return JSON.stringify({ node: pid.node, creation: pid.creation, thread: pid.thread, serial: pid.serial } satisfies Stored);
}

/** Any name as a KV key: `n.` and the name in base64url (KV keys allow few characters). */
function keyOf(name: string): string {
  return `n.${Buffer.from(name, 'utf8').toString('base64url') || '_'}`;
}

function nameOf(key: string): string | undefined {
  if (!key.startsWith('n.')) return undefined;
  const encoded = key.slice(2);
  return encoded === '_' ? '' : Buffer.from(encoded, 'base64url').toString('utf8');
}

function pidOf(text: string): Pid | undefined {
  try {
    const stored = JSON.parse(text) as Partial<Stored>;
    if (typeof stored.node !== 'string' || typeof stored.creation !== 'number' || typeof stored.thread !== 'number' || typeof stored.serial !== 'number') return undefined;
    return new Pid(stored.node, stored.thread, stored.serial, stored.creation);
  } catch {
    return undefined;
  }
}
