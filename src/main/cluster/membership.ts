/**
 * Who is in the cluster: every node publishes a heartbeat on `weft.<cluster>.hb.<node>` (its own
 * name last, so the server can be told who may publish it) every `heartbeat` ms, says hello when it joins (the others answer with a beat at once, so a new node learns the
 * cluster in one round trip) and goodbye when it stops. A node not heard from for `downAfter` ms
 * is down; one heard with a new creation after its old life fell silent was restarted (the old
 * life is down, the new one up). Without JetStream, a second node started under a live node's
 * name hears that node answer its hello and refuses to start (with it, the server decides:
 * node-lease.ts).
 *
 * Sessions: a lost connection is a nodedown, on both sides, as between Erlang nodes. Each node
 * gives every peer it takes for up a session token of its own, and lists the tokens in its beats
 * (`up: { b: [b's creation, token] }`). Node b keeps the token a gave it; when a's beat shows
 * another token for b, or none after one, a has lost b since (it declared b down, or its own
 * NATS connection dropped): b then declares a down too ('noconnection': links and monitors fire,
 * requests fail) and takes it for up again at once, in the new session. A node that handles a
 * loss told to it this way keeps its own token for the peer, so the peer is not told back.
 *
 * Heartbeats are small JSON: they are rare, and a person reading the subject with `nats sub` can
 * follow them.
 */
import { randomInt } from 'node:crypto';
import { TOKEN } from './node-options.js';

/**
 * Why a node went down: not heard for `downAfter` ('timeout'), it said goodbye, it came back as a
 * new life ('restarted'), or the connection between the two was lost ('noconnection': this node's
 * NATS connection dropped, or the peer says it lost this node).
 */
export type NodeDownWhy = 'timeout' | 'goodbye' | 'restarted' | 'noconnection';

interface Beat {
  weft: 1;
  cluster: string;
  node: string;
  creation: number;
  kind: 'hello' | 'beat' | 'bye';
  /** The peers this node takes for up: name → [their creation, the session token this node gave them]. */
  up?: Record<string, [creation: number, session: number]>;
}

interface Member {
  creation: number;
  lastSeen: number;
  /** The token this node gave the peer when it took it for up (its beats list it). */
  session: number;
  /** The token the peer gave this node, once its beats list one. */
  theirs: number | undefined;
}

export interface MembershipHost {
  publish(bytes: Uint8Array): void;
  up(node: string, creation: number): void;
  down(node: string, creation: number, why: NodeDownWhy): void;
  /** A heartbeat that is not one of weft's (garbage, another version): counted and dropped. */
  foreign(): void;
  /** Another live node has this node's name (a second `start` under a taken name). */
  namesake(creation: number): void;
}

export class Membership {
  private readonly members = new Map<string, Member>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastTick = Date.now();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly self: { cluster: string; node: string; creation: number; heartbeat: number; downAfter: number },
    private readonly host: MembershipHost,
  ) {}

  /** True once `start` has said hello: before, beats are only read for a namesake. */
  private started = false;

  start(): void {
    this.started = true;
    this.say('hello');
    this.timer = setInterval(() => this.tick(), this.self.heartbeat).unref();
  }

  /**
   * This node's NATS connection dropped: every peer is down for it ('noconnection'), as Erlang
   * takes a lost connection. What was in flight may be lost; nothing may wait on it.
   */
  disconnected(): void {
    for (const [node, member] of [...this.members]) this.lose(node, member, 'noconnection');
  }

  /** The connection is back: say hello, so the others answer at once and see the sessions this node lost. */
  reconnected(): void {
    if (!this.stopped) this.say('hello');
  }

  /** Says goodbye: the others declare this node down at once rather than after `downAfter`. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.say('bye');
  }

  /** The names of the nodes up now (this one not included). */
  names(): string[] {
    return [...this.members.keys()];
  }

  creationOf(node: string): number | undefined {
    return this.members.get(node)?.creation;
  }

  /** A message on the heartbeat subject of node `sender`: a beat for any other node is foreign. */
  heard(bytes: Uint8Array, sender: string): void {
    if (this.stopped) return; // leaving: nobody comes up for this node any more
    let beat: Beat;
    try {
      beat = JSON.parse(this.decoder.decode(bytes)) as Beat;
    } catch {
      this.host.foreign();
      return;
    }
    if (!isBeat(beat) || beat.cluster !== this.self.cluster || beat.node !== sender) {
      this.host.foreign();
      return;
    }
    if (beat.node === this.self.node) {
      // Our own beat, or a namesake's: it hears ours in answer to its hello, and refuses to start.
      if (beat.creation === this.self.creation || beat.kind === 'bye') return;
      this.host.namesake(beat.creation);
      if (beat.kind === 'hello' && this.started) this.say('beat');
      return;
    }
    if (!this.started) return; // not in the cluster yet: nobody is up for this node
    const known = this.members.get(beat.node);
    if (beat.kind === 'bye') {
      if (known !== undefined && known.creation === beat.creation) this.lose(beat.node, known, 'goodbye');
      return;
    }
    if (known !== undefined && known.creation !== beat.creation) {
      // A new life under a known name. While the old one still beats, it is a namesake trying to
      // start (it hears the old one and gives up), not a restart: ignore it.
      if (Date.now() - known.lastSeen < 2 * this.self.heartbeat) return;
      this.lose(beat.node, known, 'restarted');
    }
    const mine = beat.up !== undefined && Object.hasOwn(beat.up, this.self.node) ? beat.up[this.self.node] : undefined;
    const theirs = Array.isArray(mine) && mine[0] === this.self.creation && typeof mine[1] === 'number' ? mine[1] : undefined;
    if (known === undefined || known.creation !== beat.creation) {
      this.members.set(beat.node, { creation: beat.creation, lastSeen: Date.now(), session: randomInt(1, 2 ** 31 - 1), theirs });
      this.say('beat'); // the new session is listed before any op of it leaves (one connection keeps order)
      this.host.up(beat.node, beat.creation);
    } else {
      known.lastSeen = Date.now();
      if (known.theirs !== undefined && theirs !== known.theirs) {
        // It lost this node since (a session of its own ended): end ours with it, then start the new one.
        known.theirs = theirs;
        this.host.down(beat.node, beat.creation, 'noconnection');
        if (this.members.get(beat.node) === known) this.host.up(beat.node, beat.creation);
      } else if (theirs !== undefined) {
        known.theirs = theirs;
      }
    }
    if (beat.kind === 'hello') this.say('beat');
  }

  private tick(): void {
    this.say('beat');
    const now = Date.now();
    const late = now - this.lastTick > 2 * this.self.heartbeat;
    this.lastTick = now;
    if (late) {
      // This thread was blocked: the beats it missed may be waiting unread. Silence is not news yet.
      for (const member of this.members.values()) member.lastSeen = Math.max(member.lastSeen, now - this.self.heartbeat);
      return;
    }
    for (const [node, member] of [...this.members]) if (now - member.lastSeen > this.self.downAfter) this.lose(node, member, 'timeout');
  }

  private lose(node: string, member: Member, why: NodeDownWhy): void {
    this.members.delete(node);
    this.host.down(node, member.creation, why);
  }

  private say(kind: Beat['kind']): void {
    const { cluster, node, creation } = this.self;
    const up: NonNullable<Beat['up']> = {};
    for (const [peer, member] of this.members) up[peer] = [member.creation, member.session];
    this.host.publish(this.encoder.encode(JSON.stringify({ weft: 1, cluster, node, creation, kind, up } satisfies Beat)));
  }
}

function isBeat(value: unknown): value is Beat {
  if (typeof value !== 'object' || value === null) return false;
  const beat = value as Partial<Beat>;
  return beat.weft === 1 && typeof beat.cluster === 'string' && typeof beat.node === 'string' && TOKEN.test(beat.node) && typeof beat.creation === 'number' && (beat.kind === 'hello' || beat.kind === 'beat' || beat.kind === 'bye') && (beat.up === undefined || (typeof beat.up === 'object' && beat.up !== null));
}
