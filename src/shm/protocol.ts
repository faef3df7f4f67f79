/**
 * What the threads of one system say to each other: the frame kinds of the actor layer and the
 * envelope each kind carries.
 *
 * An envelope is a small array encoded with the codec in one go, body included. Positions, not
 * names: the compact codec writes an array of small integers in a few bytes and no shape. Actors are addressed by `(thread, serial)`; the frame
 * already goes to the right thread, so only the serial travels.
 *
 * The four kinds that carry nearly all traffic skip the envelope: their addresses go as int32
 * words before the encoded body (`Endpoint.sendMessage(…, word0, word1)`, read with `readWord`),
 * which costs neither an array nor codec work. Shown as `serial | body` below.
 *
 * | kind        | from → to        | envelope                                             |
 * |-------------|------------------|------------------------------------------------------|
 * | CAST        | any → actor's    | serial | body                                        |
 * | INFO        | any → actor's    | serial | body                                        |
 * | CALL        | any → actor's    | serial, ref | body                                   |
 * | REPLY       | actor's → caller | ref | body                                           |
 * | REPLY_ERROR | actor's → caller | [ref, error]          (ExitError, NoProcError, …)    |
 * | SPAWN       | any → any        | [ref, moduleUrl, args, name, replacing, reservation, mailbox] |
 * | SPAWNED     | spawner → asker  | [ref, serial]                                        |
 * | SPAWN_ERROR | spawner → asker  | [ref, error]                                         |
 * | EXITED      | shard → main     | [serial, name, reason]   (an actor is gone: free its name) |
 * | DEAD_LETTER | shard → main     | [serial, kind, body, reason] (a cast/send nobody got) |
 * | MONITOR     | watcher → actor's| [serial, mref]           (DOWN when it exits)        |
 * | DEMONITOR   | watcher → actor's| [serial, mref]                                       |
 * | DOWN        | actor's → watcher| [mref, serial, reason]                               |
 * | LINK        | actor → actor's  | [serial, fromSerial]     (both exit together)        |
 * | UNLINK      | actor → actor's  | [serial, fromSerial]                                 |
 * | EXIT_SIGNAL | any → actor's    | [serial, fromSerial, reason, linked] (a link fired, or ctx.exit) |
 * | REGISTER    | shard → main     | [ref, serial, name, thread, replacing] (REPLY true, or REPLY_ERROR) |
 * | UNREGISTER  | shard → main     | [ref, serial, name]      (no reply)                  |
 * | WHEREIS     | shard → main     | [ref, name]              (REPLY pid or null)          |
 * | STATS       | main → shard     | ref (a word, no body; overtakes backlog) (REPLY with ThreadStats) |
 * | STOP        | main → shard     | [ref]                    (terminate every actor)     |
 * | STOPPED     | shard → main     | [ref]                                                |
 * | EVENT       | shard → main     | [event]                  (a supervisor restarted a child) |
 * | THREAD_DOWN | main → shard     | [ref, thread, reason]    (reset rings with it; REPLY true) |
 * | FUSE        | shard → main     | [notice]                 (a fuse blew, or is to go)   |
 * | REMOTE      | shard → main     | RemoteEnvelope           (for an actor on another node: main's cluster carries it) |
 * | MONITOR_NODE| shard → main     | [serial, node]           (send the actor a NodeDown when the node goes down) |
 * | CALL_TRACED | any → actor's    | [serial, ref, traceparent, body] (a CALL made inside an active span, with openTelemetry on) |
 * | NOTICE      | any → actor's    | serial | body  (a system message for handleInfo: a nodedown; never counted against a mailbox bound) |
 * | MAILBOX     | actor's → sender | [serial, full]  (a 'reject' mailbox is full: refuse at the source; or is not any more) |
 * | CONTROL_CALL| any → actor's    | serial, ref | body (a supervisor call on the control lane: overtakes the data backlog, own codec pair) |
 * | CALL_ABORT  | caller → actor's | [serial, ref, timedOut]  (the caller of CALL `ref` stopped waiting: `ctx.signal` aborts) |
 * | STREAM      | consumer → actor's | serial, ref | [op, id, credit, msg] (a call of an actor stream: open, pull, cancel; src/common/actor-stream.ts) |
 *
 * `fromSerial` in LINK, UNLINK and EXIT_SIGNAL, and `serial` in DOWN, name an actor of the sending
 * thread; where the actor is elsewhere (another node, whose news main's cluster passes on, or
 * another thread) the slot holds its whole `Pid` instead.
 *
 * A caller's `ref` is unique on its thread, so a reply finds its waiting caller without naming it.
 */
import { EncodeError } from './errors.js';
import type { Pid } from './pid.js';
import type { Placement } from './placement.js';
import type { ActorMetrics } from '../common/actor-meter.js';
import type { MailboxLimit } from '../common/mailbox.js';

/**
 * Why a cast or send became a dead letter: no such actor (`'noproc'`), the path to its thread held
 * `backpressure.maxPending` with `whenFull: 'drop'` (`'full'`), its bounded mailbox refused or
 * dropped it (`'mailbox_full'`), or it came from outside the cluster (`'foreign'`).
 */
export type DeadLetterReason = 'noproc' | 'full' | 'mailbox_full' | 'foreign';

export const Kind = {
  CAST: 1,
  INFO: 2,
  CALL: 3,
  REPLY: 4,
  REPLY_ERROR: 5,
  SPAWN: 6,
  SPAWNED: 7,
  SPAWN_ERROR: 8,
  EXITED: 9,
  STOP: 10,
  STOPPED: 11,
  DEAD_LETTER: 13,
  MONITOR: 14,
  DEMONITOR: 15,
  DOWN: 16,
  LINK: 17,
  UNLINK: 18,
  EXIT_SIGNAL: 19,
  REGISTER: 20,
  UNREGISTER: 21,
  WHEREIS: 22,
  STATS: 23,
  EVENT: 24,
  THREAD_DOWN: 25,
  FUSE: 26,
  REMOTE: 27,
  MONITOR_NODE: 28,
  CALL_TRACED: 29,
  NOTICE: 30,
  MAILBOX: 31,
  CONTROL_CALL: 32,
  CALL_ABORT: 33,
  STREAM: 34,
} as const;

/** What a thread asks main's cluster to carry to an actor on another node (Kind.REMOTE). */
export const RemoteOp = {
  CAST: 1,
  SEND: 2,
  /** The caller is the frame's sender thread, waiting under `ref`. */
  CALL: 3,
  LINK: 4,
  UNLINK: 5,
  EXIT: 6,
  /** The watcher is the frame's sender thread, under monitor ref `mref`. */
  MONITOR: 7,
  DEMONITOR: 8,
  /** The spawner is the frame's sender thread, waiting under `ref` for the pid. */
  SPAWN: 9,
  /** The caller (the frame's sender thread) of CALL `ref` aborted it: the actor's `ctx.signal` aborts there. */
  CALL_ABORT: 10,
} as const;

export type RemoteEnvelope =
  | [op: typeof RemoteOp.CAST | typeof RemoteOp.SEND, to: Pid, body: unknown]
  | [op: typeof RemoteOp.CALL, to: Pid, ref: number, timeout: number, body: unknown]
  | [op: typeof RemoteOp.LINK | typeof RemoteOp.UNLINK, target: Pid, from: Pid]
  | [op: typeof RemoteOp.EXIT, target: Pid, from: Pid, reason: unknown, linked: boolean]
  | [op: typeof RemoteOp.MONITOR | typeof RemoteOp.DEMONITOR, target: Pid, mref: number]
  | [op: typeof RemoteOp.SPAWN, ref: number, node: string, moduleUrl: string, args: unknown, name: string | null, thread: Placement | null, timeout: number]
  | [op: typeof RemoteOp.CALL_ABORT, to: Pid, ref: number];

/** Where the body sits in a RemoteEnvelope of a cast, send (2) or call (4), for `rebaseOntoBody`. */
export const REMOTE_POST_BODY = 2;
export const REMOTE_CALL_BODY = 4;
/** Where a remote spawn's `args` sit in its RemoteEnvelope. */
export const REMOTE_SPAWN_ARGS = 4;

/**
 * The body of a STREAM frame: a call to actor stream `id` of the sending thread. `op` is
 * StreamOp.OPEN (with `msg` for `handleStream`), PULL or CANCEL; `credit` as in task streams
 * (src/common/task-stream.ts). Answered as a CALL is (REPLY, REPLY_ERROR) under the frame's ref.
 */
export type StreamEnvelope = [op: number, id: number, credit: number, msg?: unknown];
export const StreamOp = { OPEN: 1, PULL: 2, CANCEL: 3 } as const;

/** A CALL that carries the caller's trace context (src/common/tracing.ts); the body sits at CALL_TRACED_BODY. */
export type CallTracedEnvelope = [serial: number, ref: number, traceparent: string, body: unknown];
export const CALL_TRACED_BODY = 3;
export type ReplyEnvelope = [ref: number, body: unknown];
/** The caller (the frame's sender thread) of CALL `ref` to actor `serial` aborted it, or (`timedOut`) its timeout passed. */
export type CallAbortEnvelope = [serial: number, ref: number, timedOut: boolean];
/**
 * `name`: registered by the thread that runs the actor, before it runs (see ThreadRuntime.spawn);
 * `replacing`: the actor it replaces, whose hold on the name gives way; `reservation`: main's hold
 * on the name for this spawn (Registry.reserve).
 */
export type SpawnEnvelope = [ref: number, moduleUrl: string, args: unknown, name: string | null, replacing?: Pid | null, reservation?: number | null, mailbox?: MailboxLimit | null];
/** [serial, full]: see Kind.MAILBOX. */
export type MailboxEnvelope = [serial: number, full: boolean];
/** Where the user's `args` sit in a SpawnEnvelope (for `rebaseOntoBody`). */
export const SPAWN_ARGS = 2;
export type SpawnedEnvelope = [ref: number, serial: number];
export type ExitedEnvelope = [serial: number, name: string | null, reason: unknown];
export type StopEnvelope = [ref: number];
export type DeadLetterEnvelope = [serial: number, kind: number, body: unknown, reason?: DeadLetterReason];
export type MonitorEnvelope = [serial: number, mref: number];
export type DownEnvelope = [mref: number, serial: number | Pid, reason: unknown];
export type RegisterEnvelope = [ref: number, serial: number, name: string, thread?: number, replacing?: Pid | null, reservation?: number | null];
export type EventEnvelope = [event: unknown];
/** `final`: the thread will not be started again (the system is going down): waits on it end at once. */
export type ThreadDownEnvelope = [ref: number, thread: number, reason: unknown, final: boolean];
/** `node`: look on that node; `global`: the cluster's global names; neither: this node's. */
export type WhereisEnvelope = [ref: number, name: string, node?: string | null, global?: boolean];
export type LinkEnvelope = [serial: number, fromSerial: number | Pid];
export type ExitSignalEnvelope = [serial: number, fromSerial: number | Pid, reason: unknown, linked: boolean];

/**
 * An EncodeError raised while encoding an envelope names the path inside the envelope
 * (`msg[2].items[0]`); the user gave only the element at `bodyIndex`, so the path is rebased onto
 * it (`msg.items[0]`). Anything else is returned as it is.
 */
export function rebaseOntoBody(error: unknown, bodyIndex: number): unknown {
  if (!(error instanceof EncodeError)) return error;
  const prefix = `msg[${bodyIndex}]`;
  if (error.path !== prefix && !error.path.startsWith(prefix + '.') && !error.path.startsWith(prefix + '[') && !error.path.startsWith(prefix + '<')) return error;
  const path = 'msg' + error.path.slice(prefix.length);
  const rebased = new EncodeError(error.message.split(`\`${error.path}\``).join(`\`${path}\``), path, { cause: error.cause });
  rebased.stack = error.stack;
  return rebased;
}

/** One thread's figures, as `system.stats()` reports them. Counters run from the thread's start. */
export interface ThreadStats {
  thread: number;
  /** Live actors on the thread. */
  actors: number;
  /** Messages waiting in actors' mailboxes (behind a busy async callback) and in the same-thread queue. */
  mailboxDepth: number;
  messagesIn: number;
  messagesOut: number;
  /** Times the thread parked, and the notifies it made to wake parked threads. */
  parks: number;
  notifies: number;
  /** Frames that waited in overflow because a ring was full. */
  overflowed: number;
  deadLetters: number;
  /**
   * What this thread holds back right now, per destination thread whose path is not empty: bytes
   * and frames in its overflow (or, `to` this thread, in its same-thread queue). Backpressure
   * bounds each by `backpressure.maxPending`.
   */
  pending: Array<{ to: number; bytes: number; frames: number }>;
  /**
   * The thread's event loop since it started, ms: time idle (parked included) and active (handling
   * frames, running actors, spinning). Utilisation over a window is Δactive / (Δidle + Δactive):
   * `system.stats()` gives it as `window.threads[i].elu`.
   */
  elu: { idle: number; active: number };
  /** The deepest an actor's mailbox got since the thread last reported its stats (reading resets it). */
  mailboxPeak: number;
  /** Per-actor figures, only with `start({ metrics: { actors: true } })`. */
  actorMetrics?: ActorMetrics[];
}

/** What a shard gets in `workerData` at start. */
export interface ShardData {
  /** The ring set's SharedArrayBuffer (shared, not copied). */
  buffer: SharedArrayBuffer;
  /** This shard's thread number, 1..N. */
  thread: number;
  node: string;
  /** The node's creation (0 outside a cluster): see Pid. */
  creation: number;
  spinMicros: number;
  /** Messages a shard handles before it yields to its event loop. */
  batch: number;
  /** Default `call` timeout of the shard's actors, ms. */
  callTimeout: number;
  /** A restarted shard: why its previous incarnation went down. */
  previousDown?: unknown;
  /** The fuse table's SharedArrayBuffer (src/shm/fuse-table.ts). */
  fuses: SharedArrayBuffer;
  /** What the shard may hold back for another thread (src/common/runtime.ts `Backpressure`). */
  backpressure: { maxPending: number; highWater: number; whenFull: 'throw' | 'drop' };
  /** Time each actor's handlers (`start({ metrics: { actors: true } })`). */
  actorMetrics?: boolean;
  /** Continue callers' traces in handlers (`start({ openTelemetry: true })`). */
  openTelemetry?: boolean;
  /** A ThreadPool's `workerData`, for its worker files (src/common/worker-state.ts). */
  userData?: unknown;
}
