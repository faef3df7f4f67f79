/**
 * The supervisor's client side: the specs a user writes (`child(...)`, `supervisorChild(...)`),
 * their checks and defaults, and `SupervisorRef`, the typed handle `system.supervise` and
 * `ctx.supervise` return. The supervisor itself is an actor (supervisor.ts), reached by calls.
 */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';
import { compiledModule } from './compiled-module.js';
import { moduleUrl } from './module-url.js';
import { mailboxLimit, type MailboxOptions } from './mailbox.js';
import type { Pid } from '../shm/pid.js';
import type { Placement } from '../shm/placement.js';
import type { AnyActor, ArgsOf } from './actor.js';
import { ActorRef, type Router } from './actor-ref.js';
import type Supervisor from './supervisor.js';
import { checkSupervisorFlags, type ChildCounts, type ChildInfo, type ChildSpecData, type Restart, type Shutdown, type Strategy, type SupervisorCall, type SupervisorReply, type SupervisorSpecData } from './supervisor.js';

/** The supervisor's module, for the thread that hosts it. */
export const SUPERVISOR_URL = compiledModule('common/supervisor.js').href;

/** One child of a supervisor: what to start, and how to treat its exits. Build it with `child()`. */
export interface ChildSpec<A extends AnyActor = AnyActor> {
  /** Unique among the supervisor's children (a dynamic supervisor numbers its own). */
  id: string;
  /** The actor module (its default export is `defineActor(...)`). */
  actor: URL | string;
  args?: ArgsOf<A>;
  /** @default 'permanent' */
  restart?: Restart;
  /** @default 5000 for a worker, 'infinity' for a supervisor */
  shutdown?: Shutdown;
  /** @default 'worker' */
  type?: 'worker' | 'supervisor';
  /** Where it runs: `'local'` (the supervisor's thread), a thread number, or a placement policy. @default 'local' */
  thread?: Placement | 'local';
  /** Registered under this name while it runs, the same name again after each restart. */
  name?: string;
  /** Bound its mailbox (see `MailboxOptions`), the same bound again after each restart. @default unbounded */
  mailbox?: MailboxOptions;
}

export interface SupervisorSpec {
  /** @default 'one_for_one' */
  strategy?: Strategy;
  /** @default 3 */
  maxRestarts?: number;
  /** @default 5 */
  maxSeconds?: number;
  /** A dynamic supervisor's limit on `startChild`. @default Infinity */
  maxChildren?: number;
  /** Started in order (a dynamic supervisor takes none here). */
  children?: ChildSpec[];
}

/** Options of `system.supervise` / `ctx.supervise`: where the supervisor itself runs, and its name. */
export interface SuperviseOptions {
  thread?: Placement | 'local';
  name?: string;
  /** Milliseconds for the supervisor and all its children to start. @default 30000 */
  timeout?: number;
}

/**
 * A child spec, typed by its actor so that `args` is checked:
 * `child<typeof Counter>('counter', COUNTER_URL, { args: 5, restart: 'transient' })`.
 */
export function child<A extends AnyActor>(id: string, actor: URL | string, options: Omit<ChildSpec<A>, 'id' | 'actor'> = {}): ChildSpec<A> {
  // Resolved here, so a relative path is read against the file that wrote the spec.
  return { ...options, id, actor: moduleUrl(actor, `child ${JSON.stringify(id)}'s actor`) };
}

/** A child that is itself a supervisor, for trees: `supervisorChild('workers', { strategy: 'one_for_all', children: [...] })`. */
export function supervisorChild(id: string, spec: SupervisorSpec, options: Omit<ChildSpec, 'id' | 'actor' | 'args' | 'type'> = {}): ChildSpec {
  return { ...options, id, actor: SUPERVISOR_URL, args: supervisorData(spec) as never, type: 'supervisor' };
}

const RESTARTS: readonly string[] = ['permanent', 'transient', 'temporary'];

/**
 * A child spec as the supervisor keeps it (plain data, defaults applied); throws InvalidArgumentError.
 * `idOptional`: a child for a dynamic supervisor, which names it itself (id '').
 */
export function childData(spec: ChildSpec, idOptional = false): ChildSpecData {
  if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError(`expected a child spec object, got: ${describeValue(spec)}`);
  const { actor, args, restart = 'permanent', type = 'worker', thread = 'local', name } = spec;
  const mailbox = mailboxLimit(spec.mailbox) ?? null;
  const id = idOptional && spec.id === undefined ? '' : spec.id;
  const shutdown = spec.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000);
  if (typeof id !== 'string' || (id === '' && !idOptional)) throw new InvalidArgumentError(`expected a child's \`id\` to be a non-empty string, got: ${describeValue(id)}`);
  if (!RESTARTS.includes(restart)) throw new InvalidArgumentError(`expected child ${JSON.stringify(id)}'s \`restart\` to be 'permanent', 'transient' or 'temporary', got: ${describeValue(restart)}`);
  if (!(shutdown === 'brutal_kill' || shutdown === 'infinity' || (typeof shutdown === 'number' && shutdown >= 0 && shutdown <= 2 ** 31 - 1))) {
    throw new InvalidArgumentError(`expected child ${JSON.stringify(id)}'s \`shutdown\` to be ms, 'brutal_kill' or 'infinity', got: ${describeValue(shutdown)}`);
  }
  if (type !== 'worker' && type !== 'supervisor') throw new InvalidArgumentError(`expected child ${JSON.stringify(id)}'s \`type\` to be 'worker' or 'supervisor', got: ${describeValue(type)}`);
  if (name !== undefined && (typeof name !== 'string' || name === '')) throw new InvalidArgumentError(`expected child ${JSON.stringify(id)}'s \`name\` to be a non-empty string, got: ${describeValue(name)}`);
  return { id, actor: moduleUrl(actor, `child ${JSON.stringify(id)}'s actor`), args, restart, shutdown, type, thread, name: name ?? null, mailbox };
}

/** A supervisor spec as the supervisor gets it (plain data, defaults applied); throws InvalidArgumentError. */
export function supervisorData(spec: SupervisorSpec, parent: Pid | null = null): SupervisorSpecData {
  if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError(`expected a supervisor spec object, got: ${describeValue(spec)}`);
  const { strategy = 'one_for_one', maxRestarts = 3, maxSeconds = 5, maxChildren = Infinity, children = [] } = spec;
  checkSupervisorFlags(strategy, maxRestarts, maxSeconds, maxChildren);
  if (!Array.isArray(children)) throw new InvalidArgumentError(`expected \`children\` to be an array of child specs, got: ${describeValue(children)}`);
  if (strategy === 'dynamic' && children.length !== 0) throw new InvalidArgumentError(`a dynamic supervisor starts with no children (add them with startChild), got: ${children.length}`);
  const data = children.map((child) => childData(child));
  const ids = new Set<string>();
  for (const { id } of data) {
    if (ids.has(id)) throw new InvalidArgumentError(`expected child ids to be unique, got: ${JSON.stringify(id)} twice`);
    ids.add(id);
  }
  return { parent, strategy, maxRestarts, maxSeconds, maxChildren, children: data };
}

/**
 * A running supervisor. Every method is a call to it, answered in order with its other work; each
 * rejects with the supervisor's error (`ChildError`, `MaxChildrenError`, the child's `SpawnError`)
 * or, if the supervisor is gone, with `ExitError` / `NoProcError` as any call does.
 */
export class SupervisorRef {
  private ref: ActorRef<typeof Supervisor>;
  private readonly router: Router;

  constructor(pid: Pid, router: Router) {
    this.router = router;
    this.ref = new ActorRef<typeof Supervisor>(pid, router);
  }

  /** The supervisor's pid; a top-level supervisor (`system.supervise`) restarted with its thread gets a new one. */
  get pid(): Pid {
    return this.ref.pid;
  }

  /** @internal The system restarted this top-level supervisor as `pid`. */
  rebind(pid: Pid): void {
    this.ref = new ActorRef<typeof Supervisor>(pid, this.router);
  }

  /**
   * Starts a new child (and supervises it from now on). A dynamic supervisor takes a spec without
   * an `id` (it names the child itself); any other needs a fresh id.
   */
  async startChild<A extends AnyActor>(spec: ChildSpec<A> | Omit<ChildSpec<A>, 'id'>): Promise<ActorRef<A>> {
    const pid = (await this.ask({ type: 'startChild', spec: childData(spec as ChildSpec, true) }, Infinity)) as Pid;
    return new ActorRef<A>(pid, this.router);
  }

  /** Stops the child with `id` (as its `shutdown` says); a static supervisor keeps its spec for `restartChild`. */
  async terminateChild(id: string): Promise<void> {
    await this.ask({ type: 'terminateChild', id }, Infinity);
  }

  /** Starts a terminated child again from its spec. */
  async restartChild<A extends AnyActor = AnyActor>(id: string): Promise<ActorRef<A>> {
    return new ActorRef<A>((await this.ask({ type: 'restartChild', id }, Infinity)) as Pid, this.router);
  }

  /** Forgets a terminated child's spec. */
  async deleteChild(id: string): Promise<void> {
    await this.ask({ type: 'deleteChild', id });
  }

  whichChildren(): Promise<ChildInfo[]> {
    return this.ask({ type: 'whichChildren' }) as Promise<ChildInfo[]>;
  }

  countChildren(): Promise<ChildCounts> {
    return this.ask({ type: 'countChildren' }) as Promise<ChildCounts>;
  }

  /** The running child with `id`, typed: `await sup.child<typeof Counter>('counter')`. */
  async child<A extends AnyActor>(id: string): Promise<ActorRef<A> | undefined> {
    const found = (await this.whichChildren()).find((c) => c.id === id);
    return found?.pid ? new ActorRef<A>(found.pid, this.router) : undefined;
  }

  /**
   * Stops every child (last started first, each with `'shutdown'`), then the supervisor, which
   * exits `'normal'`. Like the calls that start and stop children, it waits as long as that takes.
   */
  async stop(): Promise<void> {
    await this.ask({ type: 'stop' }, Infinity);
  }

  toString(): string {
    return String(this.pid);
  }

  /** Every supervisor call goes on the control lane, so a data backlog towards its thread does not hold it (architecture §5). */
  private async ask(msg: SupervisorCall, timeout?: number): Promise<unknown> {
    const reply = (await this.router.controlCall(this.ref.pid, msg, timeout)) as SupervisorReply;
    if (!reply.ok) throw reply.error;
    return reply.value;
  }
}
