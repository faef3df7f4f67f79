/**
 * Every failure weft reports, one class each, with a stable `code`.
 *
 * Callers match on `code` (or `instanceof` within one realm), never on message text. Errors cross
 * threads through the codec's error extension, which carries name, message, stack, `code` and
 * `cause`, and rebuilds the right class from `code` on the other side (`errorFromCode`). A cross-realm
 * brand (`Symbol.for('weft.error')`) lets `isWeftError` recognise a weft error from any thread or
 * module copy.
 *
 * Messages say what was expected and end with `got: …`, so a log line alone explains the fault.
 */

const BRAND = Symbol.for('weft.error');

/** The stable codes, one per error class. */
export const ErrorCodes = {
  WEFT_ERR: 'WEFT_ERR',
  ENCODE: 'WEFT_ERR_ENCODE',
  DECODE: 'WEFT_ERR_DECODE',
  INVALID_ARGUMENT: 'WEFT_ERR_INVALID_ARGUMENT',
  RING_CORRUPT: 'WEFT_ERR_RING_CORRUPT',
  CALL_TIMEOUT: 'WEFT_ERR_CALL_TIMEOUT',
  EXIT: 'WEFT_ERR_EXIT',
  NO_PROC: 'WEFT_ERR_NO_PROC',
  SPAWN: 'WEFT_ERR_SPAWN',
  SYSTEM_STOPPED: 'WEFT_ERR_SYSTEM_STOPPED',
  ALREADY_REGISTERED: 'WEFT_ERR_ALREADY_REGISTERED',
  CHILD: 'WEFT_ERR_CHILD',
  MAX_CHILDREN: 'WEFT_ERR_MAX_CHILDREN',
  MODULE: 'WEFT_ERR_MODULE',
  ABORTED: 'WEFT_ERR_ABORTED',
  QUEUE_FULL: 'WEFT_ERR_QUEUE_FULL',
  MAILBOX_FULL: 'WEFT_ERR_MAILBOX_FULL',
  POOL_CLOSED: 'WEFT_ERR_POOL_CLOSED',
  CHECKOUT_TIMEOUT: 'WEFT_ERR_CHECKOUT_TIMEOUT',
  FUSE: 'WEFT_ERR_FUSE',
  NODE_DOWN: 'WEFT_ERR_NODE_DOWN',
  CLUSTER: 'WEFT_ERR_CLUSTER',
  ACTOR_EXITED: 'WEFT_ERR_ACTOR_EXITED',
  INSPECT: 'WEFT_ERR_INSPECT',
  NOT_ITERABLE: 'WEFT_ERR_NOT_ITERABLE',
  MISSING_PACKAGE: 'WEFT_ERR_MISSING_PACKAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The base of every weft error. `code` is stable across versions; the message is for people. */
export class WeftError extends Error {
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = options?.code ?? ErrorCodes.WEFT_ERR;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }

  /**
   * `x instanceof WeftError` holds for every weft error, those that must extend a built-in class
   * instead (InvalidOptionTypeError, InvalidOptionRangeError) and copies from another realm included:
   * it asks the brand. Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return this === WeftError ? isWeftError(value) : Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/**
 * A value that cannot travel between threads: a function, a symbol, a class instance, a cycle, a
 * SharedArrayBuffer. Thrown at the sender before anything is written to a ring. `path` names the bad
 * value inside the message, as `msg.items[3].handler`.
 */
export class EncodeError extends WeftError {
  readonly path: string;

  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.ENCODE });
    this.path = path;
  }
}

/** Bytes that do not decode to a message: a bug or memory corruption, never a user error. */
export class DecodeError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.DECODE });
  }
}

/** An option or argument outside what is accepted; the message echoes the bad value. */
export class InvalidArgumentError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.INVALID_ARGUMENT });
  }
}

/**
 * An option of the wrong type or shape, where piscina's users expect a `TypeError` (ThreadPool's
 * options): a TypeError, and a weft error by brand (`instanceof WeftError`) and `code`.
 */
export class InvalidOptionTypeError extends TypeError {
  readonly code: string = ErrorCodes.INVALID_ARGUMENT;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return 'InvalidOptionTypeError';
  }
}

/** Options that contradict each other, where piscina's users expect a `RangeError` (`minThreads > maxThreads`). */
export class InvalidOptionRangeError extends RangeError {
  readonly code: string = ErrorCodes.INVALID_ARGUMENT;

  constructor(message: string) {
    super(message);
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return 'InvalidOptionRangeError';
  }
}

/** A ring's shared words or frame headers hold values no correct producer writes. */
export class RingCorruptError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.RING_CORRUPT });
  }
}

/** A `call` that got no reply within its timeout. The callee may still handle the message. */
export class CallTimeoutError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.CALL_TIMEOUT });
  }
}

/**
 * The actor exited before it replied (or, for a link, an exit signal). `reason` is the exit
 * reason: `'normal'`, `'shutdown'`, `'kill'`, the error it crashed with, or `{ threadDown }`.
 * It travels as the error's `cause`, so it survives the codec.
 */
export class ExitError extends WeftError {
  constructor(message: string, reason: unknown) {
    super(message, { code: ErrorCodes.EXIT, cause: reason });
  }

  get reason(): unknown {
    return this.cause;
  }
}

/** No actor with that pid or name exists (it never did, or it died before the message came). */
export class NoProcError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.NO_PROC });
  }
}

/** An actor could not be started: its module is missing or is not an actor, or `init` threw. */
export class SpawnError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.SPAWN });
  }
}

/** The system was stopped (or is stopping): nothing more can be sent, spawned or called. */
export class SystemStoppedError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.SYSTEM_STOPPED });
  }
}

/** A name is already taken by a live actor (names are unique per node). */
export class AlreadyRegisteredError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.ALREADY_REGISTERED });
  }
}

/**
 * A supervisor refused a child operation: an id that is taken (`startChild`), unknown, or still
 * running (`deleteChild`, `restartChild`).
 */
export class ChildError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.CHILD });
  }
}

/** A dynamic supervisor already has `maxChildren` children. */
export class MaxChildrenError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.MAX_CHILDREN });
  }
}

/** A task's module could not be imported, or has no function under the export name asked for. */
export class ModuleError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.MODULE });
  }
}

/**
 * A task was aborted through its `AbortSignal` (queued: it never ran; running: its thread was
 * ended). Named `AbortError`, as the DOM's and piscina's are, so `error.name === 'AbortError'` checks work.
 */
export class AbortError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.ABORTED });
  }
}

/** A pool's queue is at its `maxQueue`: the task was refused, not queued. */
export class QueueFullError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.QUEUE_FULL });
  }
}

/**
 * The path to an actor holds `maxPending` bytes already (its thread is not keeping up): the
 * message was not sent. Wait for `ref.drained()` and send again, or slow the producer down.
 */
export class MailboxFullError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.MAILBOX_FULL });
  }
}

/** The pool was destroyed (or its system stopped) before the task ran. */
export class PoolClosedError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.POOL_CLOSED });
  }
}

/** No pool worker came free within the checkout's timeout. */
export class CheckoutTimeoutError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.CHECKOUT_TIMEOUT });
  }
}

/**
 * A fuse that does not exist (never installed, or removed), a second install under a name with
 * other options, a full fuse table, or a blown fuse's answer to `run` (given to its fallback).
 */
export class FuseError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.FUSE });
  }
}

/**
 * The node a call (or spawn, or task) went to went down before it answered: its heartbeats
 * stopped, it said goodbye, or it came back as a new incarnation. As Erlang's `noconnection`: the
 * request may or may not have been handled there. `cause` is `{ nodeDown: { node, why } }`.
 */
export class NodeDownError extends WeftError {
  constructor(message: string, node: string, why: string) {
    super(message, { code: ErrorCodes.NODE_DOWN, cause: { nodeDown: { node, why } } });
  }

  /** The exit reason Erlang gives for a lost node, as monitors and links of its actors see it. */
  get reason(): 'noconnection' {
    return 'noconnection';
  }

  /** The node that went down. */
  get node(): string {
    return (this.cause as { nodeDown?: { node?: string } } | undefined)?.nodeDown?.node ?? '';
  }

  /** Why: 'timeout', 'goodbye', 'restarted', or 'noconnection' (the connection to it was lost). */
  get why(): string {
    return (this.cause as { nodeDown?: { why?: string } } | undefined)?.nodeDown?.why ?? '';
  }
}

/**
 * The cluster could not do what was asked: the NATS server refused or could not be reached, the
 * node's name is taken, no node serves a task module, or the system is not part of a cluster.
 */
export class ClusterError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.CLUSTER });
  }
}

/**
 * An actor that has exited tried to act through its `ctx` (spawn, send, call, link, register,
 * reply…): a handler that was still awaiting when the actor was killed, say. Thrown inside that
 * handler, so a dead actor leaves nothing behind (no orphan child, no name bound to it).
 */
export class ActorExitedError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.ACTOR_EXITED });
  }
}

/** `start({ inspect })` could not open its endpoint: the port is taken, the socket path unusable. */
export class InspectError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.INSPECT });
  }
}

/**
 * `stream()` was asked of a task function whose result is not iterable: a stream needs a generator
 * (`function*` or `async function*`), or a function that returns (or resolves to) an iterable.
 */
export class NotIterableError extends WeftError {
  constructor(message: string) {
    super(message, { code: ErrorCodes.NOT_ITERABLE });
  }
}

/**
 * An optional package that a feature needs is not installed (`start({ node })` without the NATS
 * client). `package` names it; the message gives the `npm install` command.
 */
export class MissingPackageError extends WeftError {
  readonly package: string;

  constructor(message: string, pkg: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: ErrorCodes.MISSING_PACKAGE });
    this.package = pkg;
  }
}

/** True for any weft error, from this thread or another (checks the cross-realm brand). */
export function isWeftError(value: unknown): value is WeftError {
  // A Proxy's get trap may throw: asking must not (it is asked of whatever a task threw).
  return typeof value === 'object' && value !== null && safely(() => (value as Record<symbol, unknown>)[BRAND] === true, false);
}

type ErrorFactory = (message: string, detail: { cause?: unknown; path?: string }) => WeftError;

const factories: Record<string, ErrorFactory> = {
  [ErrorCodes.WEFT_ERR]: (m, d) => new WeftError(m, { cause: d.cause }),
  [ErrorCodes.ENCODE]: (m, d) => new EncodeError(m, d.path ?? '', { cause: d.cause }),
  [ErrorCodes.DECODE]: (m, d) => new DecodeError(m, { cause: d.cause }),
  [ErrorCodes.INVALID_ARGUMENT]: (m) => new InvalidArgumentError(m),
  [ErrorCodes.RING_CORRUPT]: (m) => new RingCorruptError(m),
  [ErrorCodes.CALL_TIMEOUT]: (m) => new CallTimeoutError(m),
  [ErrorCodes.EXIT]: (m, d) => new ExitError(m, d.cause),
  [ErrorCodes.NO_PROC]: (m) => new NoProcError(m),
  [ErrorCodes.SPAWN]: (m, d) => new SpawnError(m, { cause: d.cause }),
  [ErrorCodes.SYSTEM_STOPPED]: (m) => new SystemStoppedError(m),
  [ErrorCodes.ALREADY_REGISTERED]: (m) => new AlreadyRegisteredError(m),
  [ErrorCodes.CHILD]: (m) => new ChildError(m),
  [ErrorCodes.MAX_CHILDREN]: (m) => new MaxChildrenError(m),
  [ErrorCodes.MODULE]: (m, d) => new ModuleError(m, { cause: d.cause }),
  [ErrorCodes.ABORTED]: (m, d) => new AbortError(m, { cause: d.cause }),
  [ErrorCodes.QUEUE_FULL]: (m) => new QueueFullError(m),
  [ErrorCodes.MAILBOX_FULL]: (m) => new MailboxFullError(m),
  [ErrorCodes.POOL_CLOSED]: (m) => new PoolClosedError(m),
  [ErrorCodes.CHECKOUT_TIMEOUT]: (m) => new CheckoutTimeoutError(m),
  [ErrorCodes.FUSE]: (m) => new FuseError(m),
  [ErrorCodes.NODE_DOWN]: (m, d) => {
    const down = (d.cause as { nodeDown?: { node?: unknown; why?: unknown } } | undefined)?.nodeDown;
    return new NodeDownError(m, String(down?.node ?? ''), String(down?.why ?? ''));
  },
  [ErrorCodes.CLUSTER]: (m, d) => new ClusterError(m, { cause: d.cause }),
  [ErrorCodes.ACTOR_EXITED]: (m) => new ActorExitedError(m),
  [ErrorCodes.INSPECT]: (m, d) => new InspectError(m, { cause: d.cause }),
  [ErrorCodes.NOT_ITERABLE]: (m) => new NotIterableError(m),
  [ErrorCodes.MISSING_PACKAGE]: (m, d) => new MissingPackageError(m, /the package (\S+),/.exec(m)?.[1] ?? '', { cause: d.cause }),
};

/**
 * Rebuilds a weft error of the right class from its `code` (used by the codec on the receiving
 * thread). Returns undefined for a code this version does not know, so the caller can fall back to a
 * plain `WeftError` that still carries the code.
 */
export function errorFromCode(code: string, message: string, detail: { cause?: unknown; path?: string } = {}): WeftError | undefined {
  const make = factories[code];
  return make === undefined ? undefined : make(message, detail);
}

/** `got: 0 (number)`, the tail of every validation message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`;
  if (typeof value === 'bigint') return `\`${value}n\` (bigint)`;
  if (typeof value === 'symbol') return `\`${String(value)}\` (symbol)`;
  if (typeof value === 'function') {
    const name = safely(() => String(value.name), '');
    return `a function${name ? ` \`${name}\`` : ''}`;
  }
  if (value === null) return '`null`';
  if (typeof value === 'object') {
    const ctor = safely(() => (value as object).constructor, undefined);
    const name = safely(() => String(ctor?.name), '');
    return ctor && ctor !== Object ? `an instance of \`${name}\`` : 'an object';
  }
  return `\`${String(value)}\` (${typeof value})`;
}

/**
 * Reads `read()` and gives `fallback` if it throws: a getter, a Proxy trap or a `toString` of a
 * user's value may throw, and describing a failure must never fail in turn.
 */
function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** A short description of any value for an error message; never throws. */
function preview(value: unknown): string {
  const text = safely(() => JSON.stringify(value), undefined);
  if (typeof text === 'string') return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return safely(() => String(value), '') || describeValue(value);
}

/** `normal`, `Error: boom`, `{"threadDown":…}`: an exit reason or thrown value for a message. Never throws. */
export function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (safely(() => reason instanceof Error, false)) {
    const error = reason as Error;
    return `${safely(() => String(error.name), 'Error')}: ${safely(() => String(error.message), '')}`;
  }
  return safely(() => preview(reason), 'an unreadable value');
}

/**
 * An Error that stands in for a thrown value or exit reason that cannot travel between threads (a
 * class instance, a Symbol, a function, a cycle, a Proxy whose traps throw): it carries what could
 * be read (name, message, stack) and the `EncodeError` that said why, as `cause`. The codec can
 * always encode it. Never throws.
 */
export function standInError(value: unknown, failure: unknown): Error {
  const stand = new Error(describeReason(value), { cause: failure });
  if (safely(() => value instanceof Error, false)) {
    const error = value as Error;
    const name = safely(() => error.name, undefined);
    const stack = safely(() => error.stack, undefined);
    if (typeof name === 'string') stand.name = name;
    if (typeof stack === 'string') stand.stack = stack;
  }
  return stand;
}

/** Levels of weft errors `travelable` rebuilds before it stands in for the rest. */
const TRAVEL_DEPTH = 8;

/**
 * What to send in place of an error or exit reason that failed to encode (`failure` is the
 * `EncodeError`): a weft error keeps its class, `code`, message and stack, with its `cause` (an
 * `ExitError`'s reason, a `SpawnError`'s thrown value) made travelable in turn; any other Error
 * becomes `standInError`; a string or other primitive stays itself; anything else (a class
 * instance, a Symbol, a function) becomes its description (`describeReason`). So a caller on
 * another thread still gets an `ExitError` or `SpawnError` whose reason says what happened, as one
 * on the same thread does. Never throws; the result always encodes.
 */
export function travelable(value: unknown, failure: unknown, depth = 0): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) return value;
  if (isWeftError(value) && depth < TRAVEL_DEPTH) {
    const rebuilt = safely(() => {
      const cause = 'cause' in value ? travelable(value.cause, failure, depth + 1) : undefined;
      const path = (value as { path?: unknown }).path;
      const error = errorFromCode(value.code, String(value.message), { cause, path: typeof path === 'string' ? path : undefined });
      if (error !== undefined && typeof value.stack === 'string') error.stack = value.stack;
      return error;
    }, undefined);
    if (rebuilt !== undefined) return rebuilt;
  }
  if (safely(() => value instanceof Error, false)) return standInError(value, failure);
  return describeReason(value);
}
