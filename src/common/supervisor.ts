/**
 * The supervisor: an actor whose job is to start other actors (its children), watch them, and
 * restart them when they exit, as OTP's `supervisor` does. It runs on any thread (main included)
 * and its children may live on any thread; it learns of their exits through links, trapping exits,
 * so a child on another shard is watched exactly as one beside it.
 *
 * Start one with `system.supervise(spec)` or `ctx.supervise(spec)` (src/common/supervisor-ref.ts),
 * which check the spec and hand this module its plain-data form:
 *
 * ```ts
 * const sup = await system.supervise({
 *   strategy: 'one_for_one',          // or 'one_for_all', 'rest_for_one', 'dynamic'
 *   maxRestarts: 3, maxSeconds: 5,    // more restarts than this in that window: give up
 *   children: [
 *     child<typeof Cache>('cache', CACHE_URL, { args: { size: 100 }, name: 'cache' }),
 *     child<typeof Api>('api', API_URL, { thread: 2, restart: 'transient' }),
 *   ],
 * });
 * ```
 *
 * ## What it does
 * - **Start.** Children start in order, each linked to the supervisor; the supervisor's own start
 *   returns once all have. If one fails to start, those already started are stopped (in reverse
 *   order) and the supervisor's start fails with the child's error.
 * - **Exit of a child.** `restart` decides whether it comes back: `'permanent'` always,
 *   `'transient'` unless it exited normally (`'normal'`, `'shutdown'`, `{ shutdown }`),
 *   `'temporary'` never (its spec is dropped). Then `strategy` decides what else restarts:
 *   `one_for_one` only that child; `one_for_all` every child (the others are stopped first, in
 *   reverse order); `rest_for_one` that child and the ones started after it. A restarted child gets
 *   its `name` back, so callers that address it by name reach the new instance.
 * - **Intensity.** More than `maxRestarts` restarts within `maxSeconds` and the supervisor stops
 *   every child and exits with reason `'shutdown'`: a fault that restarts do not cure goes up to
 *   the supervisor's own supervisor, which applies its own strategy, up to the root.
 * - **Stop.** Children stop in reverse start order, each sent an exit signal `'shutdown'` and
 *   given `shutdown` ms to exit (`'infinity'`: as long as it takes, the default for supervisors)
 *   before it is killed; `'brutal_kill'` kills at once. A supervisor stops its children when it is
 *   stopped, when its parent (any linked actor that is not a child) exits abnormally, or when the
 *   system stops.
 * - **dynamic** (Elixir's DynamicSupervisor): starts with no children; `startChild` adds them, up
 *   to `maxChildren`; each restarts on its own, as with `one_for_one`.
 */
import type { MailboxLimit } from './mailbox.js';
import { ChildError, InvalidArgumentError, MaxChildrenError, SpawnError, describeValue } from '../shm/errors.js';
import { pidEquals, type Pid } from '../shm/pid.js';
import type { Placement } from '../shm/placement.js';
import { defineActor, type ActorContext, type ActorSpawnOptions, type ExitReason, type ExitSignal } from './actor.js';
import type { SupervisionEvent } from './supervision-events.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'dynamic';
/** Whether a child that exited is started again; see the module comment. */
export type Restart = 'permanent' | 'transient' | 'temporary';
/** Milliseconds a child has to stop after `'shutdown'` before it is killed; or kill at once; or wait. */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** A child as the supervisor keeps it: plain data, so it travels to whichever thread the supervisor runs on. */
export interface ChildSpecData {
  id: string;
  /** The actor module's URL (href). */
  actor: string;
  args: unknown;
  restart: Restart;
  shutdown: Shutdown;
  type: 'worker' | 'supervisor';
  thread: Placement | 'local';
  name: string | null;
  /** The child's mailbox bound (src/common/mailbox.ts), or null for none. */
  mailbox?: MailboxLimit | null;
}

export interface SupervisorSpecData {
  /** The actor that started it (a parent supervisor, or the actor that called `ctx.supervise`); null from main. */
  parent: Pid | null;
  strategy: Strategy;
  maxRestarts: number;
  maxSeconds: number;
  maxChildren: number;
  children: ChildSpecData[];
}

/** One row of `whichChildren()`. */
export interface ChildInfo {
  id: string;
  /** The running instance, or null while it is not running (a transient child that ended, say). */
  pid: Pid | null;
  type: 'worker' | 'supervisor';
  restart: Restart;
}

/** `countChildren()`, as OTP's `count_children`. */
export interface ChildCounts {
  specs: number;
  active: number;
  supervisors: number;
  workers: number;
}

/** What the supervisor answers to (SupervisorRef sends these). */
export type SupervisorCall =
  | { type: 'startChild'; spec: ChildSpecData }
  | { type: 'terminateChild'; id: string }
  | { type: 'restartChild'; id: string }
  | { type: 'deleteChild'; id: string }
  | { type: 'whichChildren' }
  | { type: 'countChildren' }
  | { type: 'stop' };

/** Every call is answered with a result or the error to throw at the caller (the supervisor lives on). */
export type SupervisorReply = { ok: true; value?: Pid | ChildInfo[] | ChildCounts } | { ok: false; error: Error };

/** The context's supervisor-only parts (implemented by the actor cell, not part of the public ctx). */
interface SupervisorContext extends ActorContext {
  awaitExit(pid: Pid, ms: number): Promise<ExitReason | undefined>;
  report(event: SupervisionEvent): void;
}

/** The cell behind every ctx implements the supervisor-only parts too. */
function internal(ctx: ActorContext): SupervisorContext {
  return ctx as unknown as SupervisorContext;
}

interface Child {
  readonly spec: ChildSpecData;
  pid: Pid | null;
}

interface State {
  readonly spec: SupervisorSpecData;
  /** In start order. */
  readonly children: Child[];
  /** When each recent restart happened (ms), oldest first, for the intensity check. */
  readonly restarts: number[];
  /** Thread deaths (`thread:incarnation`) already counted as a restart: the many children one
   *  shard takes down with it are one fault, not one each. */
  readonly threadDeaths: Set<string>;
  /** Ids a dynamic supervisor gives its children. */
  nextId: number;
}

/** `thread:incarnation` for a `{ threadDown }` reason, else undefined. */
function threadDeath(reason: ExitReason | undefined): string | undefined {
  if (typeof reason !== 'object' || reason === null || !('threadDown' in reason)) return undefined;
  const cause = (reason as { threadDown: { thread?: unknown; incarnation?: unknown } }).threadDown;
  return `${String(cause?.thread)}:${String(cause?.incarnation)}`;
}

/** Reasons that count as a normal exit for a transient child. */
function isNormal(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || (typeof reason === 'object' && reason !== null && 'shutdown' in reason);
}

async function startChild(ctx: SupervisorContext, child: Child, replacing?: Pid): Promise<Pid> {
  const { spec } = child;
  // A child supervisor learns who its parent is, so it goes down with it (and only with it).
  const args = spec.type === 'supervisor' ? { ...(spec.args as SupervisorSpecData), parent: ctx.self } : spec.args;
  const options: ActorSpawnOptions<unknown> & { replacing?: Pid } = { args, thread: spec.thread, link: true, name: spec.name ?? undefined, replacing, mailbox: spec.mailbox ?? undefined };
  const ref = await ctx.spawn(spec.actor, options);
  child.pid = ref.pid;
  return ref.pid;
}

/** Stops one child as its `shutdown` says, and waits until it has exited. */
async function stopChild(ctx: SupervisorContext, child: Child): Promise<void> {
  const pid = child.pid;
  if (pid === null) return;
  child.pid = null;
  const { shutdown } = child.spec;
  if (shutdown !== 'brutal_kill') {
    ctx.exit(pid, 'shutdown');
    if ((await ctx.awaitExit(pid, shutdown === 'infinity' ? Infinity : shutdown)) !== undefined) return;
  }
  ctx.exit(pid, 'kill');
  // A kill is not trapped: the EXIT comes unless the child's thread is stuck, and then the root
  // supervisor ends that thread (its links fire with { threadDown }) within its hangTimeout.
  await ctx.awaitExit(pid, KILL_WAIT_MS);
}

/** How long to wait for a killed child's EXIT before going on without it. */
const KILL_WAIT_MS = 10_000;

/** Stops `children` one after another, last started first. */
async function stopAll(ctx: SupervisorContext, children: readonly Child[]): Promise<void> {
  for (let i = children.length - 1; i >= 0; i--) await stopChild(ctx, children[i]);
}

/**
 * Records a restart; false if it is one too many within the window (the supervisor must give up).
 * A thread death counts once however many children it took (`reason` tells which death it was).
 */
function allowRestart(state: State, reason?: ExitReason): boolean {
  const now = performance.now();
  const { restarts } = state;
  const death = threadDeath(reason);
  if (death !== undefined) {
    if (state.threadDeaths.has(death)) return true;
    state.threadDeaths.add(death);
    if (state.threadDeaths.size > 64) state.threadDeaths.delete(state.threadDeaths.values().next().value!);
  }
  restarts.push(now);
  const windowStart = now - state.spec.maxSeconds * 1000;
  while (restarts.length !== 0 && restarts[0] < windowStart) restarts.shift();
  return restarts.length <= state.spec.maxRestarts;
}

/**
 * Starts `children` again, in order; a child whose start fails counts as another restart and is
 * tried again. Returns false if the intensity ran out meanwhile.
 */
async function restartAll(ctx: SupervisorContext, state: State, children: readonly Child[], why: Map<Child, [old: Pid, reason: ExitReason]>): Promise<boolean> {
  for (const child of children) {
    for (;;) {
      const [old, reason] = why.get(child) ?? [undefined, undefined];
      try {
        const pid = await startChild(ctx, child, old);
        if (old !== undefined) ctx.report({ type: 'restart', supervisor: ctx.self, id: child.spec.id, old, pid, reason: reason as ExitReason });
        break;
      } catch {
        if (!allowRestart(state)) return false;
      }
    }
  }
  return true;
}

/** Gives up: every child stopped, then the supervisor exits with `reason`. */
async function giveUp(ctx: SupervisorContext, state: State, reason: ExitReason): Promise<State> {
  await stopAll(ctx, state.children);
  ctx.stop(reason);
  return state;
}

/** A child exited with `reason`: apply its restart type and the strategy. */
async function onChildExit(ctx: SupervisorContext, state: State, child: Child, old: Pid, reason: ExitReason): Promise<State> {
  child.pid = null;
  const { restart } = child.spec;
  if (restart === 'temporary' || (restart === 'transient' && isNormal(reason))) {
    if (restart === 'temporary' || state.spec.strategy === 'dynamic') state.children.splice(state.children.indexOf(child), 1);
    return state;
  }
  if (!allowRestart(state, reason)) return giveUp(ctx, state, 'shutdown');
  const why = new Map<Child, [Pid, ExitReason]>([[child, [old, reason]]]);
  let again: Child[] = [child];
  const { strategy } = state.spec;
  if (strategy === 'one_for_all' || strategy === 'rest_for_one') {
    const from = strategy === 'one_for_all' ? 0 : state.children.indexOf(child);
    const affected = state.children.slice(from);
    const others = affected.filter((c) => c !== child && c.pid !== null);
    for (const other of others) why.set(other, [other.pid!, 'shutdown']);
    await stopAll(ctx, others);
    // Temporary siblings stopped for the restart are not started again: their specs go.
    for (const other of others) if (other.spec.restart === 'temporary') state.children.splice(state.children.indexOf(other), 1);
    again = affected.filter((c) => c === child || (others.includes(c) && c.spec.restart !== 'temporary'));
  }
  if (!(await restartAll(ctx, state, again, why))) return giveUp(ctx, state, 'shutdown');
  return state;
}

function findChild(state: State, id: string): Child | undefined {
  return state.children.find((c) => c.spec.id === id);
}

async function answer(ctx: SupervisorContext, state: State, msg: SupervisorCall): Promise<SupervisorReply> {
  switch (msg.type) {
    case 'startChild': {
      let { spec } = msg;
      if (state.spec.strategy === 'dynamic') {
        if (state.children.length >= state.spec.maxChildren) return { ok: false, error: new MaxChildrenError(`supervisor ${ctx.self} already has its maxChildren (${state.spec.maxChildren}) children`) };
        if (spec.id === '') {
          do spec = { ...spec, id: `child-${++state.nextId}` };
          while (findChild(state, spec.id) !== undefined);
        }
      } else if (spec.id === '') {
        return { ok: false, error: new ChildError(`supervisor ${ctx.self} is not dynamic: a child it starts needs an id`) };
      }
      if (findChild(state, spec.id) !== undefined) {
        return { ok: false, error: new ChildError(`supervisor ${ctx.self} already has a child with id ${JSON.stringify(spec.id)}`) };
      }
      const child: Child = { spec, pid: null };
      try {
        const pid = await startChild(ctx, child);
        state.children.push(child);
        return { ok: true, value: pid };
      } catch (error) {
        return { ok: false, error: error as Error };
      }
    }
    case 'terminateChild': {
      const child = findChild(state, msg.id);
      if (child === undefined) return { ok: false, error: new ChildError(`supervisor ${ctx.self} has no child with id ${JSON.stringify(msg.id)}`) };
      await stopChild(ctx, child);
      if (state.spec.strategy === 'dynamic' || child.spec.restart === 'temporary') state.children.splice(state.children.indexOf(child), 1);
      return { ok: true };
    }
    case 'restartChild': {
      const child = findChild(state, msg.id);
      if (child === undefined || child.pid !== null) return { ok: false, error: new ChildError(`supervisor ${ctx.self} has no stopped child with id ${JSON.stringify(msg.id)}`) };
      try {
        return { ok: true, value: await startChild(ctx, child) };
      } catch (error) {
        return { ok: false, error: error as Error };
      }
    }
    case 'deleteChild': {
      const child = findChild(state, msg.id);
      if (child === undefined || child.pid !== null) return { ok: false, error: new ChildError(`supervisor ${ctx.self} has no stopped child with id ${JSON.stringify(msg.id)}`) };
      state.children.splice(state.children.indexOf(child), 1);
      return { ok: true };
    }
    case 'whichChildren':
      return { ok: true, value: state.children.map(({ spec, pid }) => ({ id: spec.id, pid, type: spec.type, restart: spec.restart })) };
    case 'countChildren': {
      const supervisors = state.children.filter((c) => c.spec.type === 'supervisor').length;
      return { ok: true, value: { specs: state.children.length, active: state.children.filter((c) => c.pid !== null).length, supervisors, workers: state.children.length - supervisors } };
    }
    case 'stop':
      // As OTP's supervisor:stop: the children get 'shutdown', the supervisor itself ends normally.
      await stopAll(ctx, state.children);
      ctx.stop('normal');
      return { ok: true };
    default:
      return { ok: false, error: new InvalidArgumentError(`a supervisor does not answer ${describeValue(msg)}`) };
  }
}

export default defineActor({
  init: async (spec: SupervisorSpecData, ctx): Promise<State> => {
    const sup = internal(ctx);
    ctx.trapExit(true);
    const state: State = { spec, children: [], restarts: [], threadDeaths: new Set(), nextId: 0 };
    for (const childSpec of spec.children) {
      const child: Child = { spec: childSpec, pid: null };
      try {
        await startChild(sup, child);
      } catch (error) {
        await stopAll(sup, state.children);
        throw new SpawnError(`supervisor could not start its child ${JSON.stringify(childSpec.id)}: ${(error as Error).message ?? String(error)}`, { cause: error });
      }
      state.children.push(child);
    }
    return state;
  },

  handleCall: async (msg: SupervisorCall, state: State, ctx) => ({ reply: await answer(internal(ctx), state, msg), state }),

  handleInfo: async (msg: unknown, state: State, ctx) => {
    if (typeof msg !== 'object' || msg === null || (msg as ExitSignal).type !== 'EXIT') return state;
    const { from, reason } = msg as ExitSignal;
    const child = state.children.find((c) => c.pid !== null && pidEquals(c.pid, from));
    if (child !== undefined) return onChildExit(internal(ctx), state, child, from, reason);
    // Its parent exited, for whatever reason: the supervisor stops its children and goes with it,
    // as OTP's does. An EXIT from anyone else is ignored.
    const { parent } = state.spec;
    if (parent !== null && pidEquals(parent, from)) return giveUp(internal(ctx), state, reason);
    return state;
  },

  terminate: async (_reason, state: State, ctx) => {
    await stopAll(internal(ctx), state.children);
  },
});

/** Checks a spec's strategy and limits; throws InvalidArgumentError naming what is wrong. */
export function checkSupervisorFlags(strategy: unknown, maxRestarts: unknown, maxSeconds: unknown, maxChildren: unknown): void {
  if (!['one_for_one', 'one_for_all', 'rest_for_one', 'dynamic'].includes(strategy as string)) {
    throw new InvalidArgumentError(`expected \`strategy\` to be 'one_for_one', 'one_for_all', 'rest_for_one' or 'dynamic', got: ${describeValue(strategy)}`);
  }
  if (!(Number.isInteger(maxRestarts) && (maxRestarts as number) >= 0)) throw new InvalidArgumentError(`expected \`maxRestarts\` to be an integer >= 0, got: ${describeValue(maxRestarts)}`);
  if (!(typeof maxSeconds === 'number' && maxSeconds > 0)) throw new InvalidArgumentError(`expected \`maxSeconds\` to be a number > 0, got: ${describeValue(maxSeconds)}`);
  if (!(maxChildren === Infinity || (Number.isInteger(maxChildren) && (maxChildren as number) >= 0))) {
    throw new InvalidArgumentError(`expected \`maxChildren\` to be an integer >= 0 or Infinity, got: ${describeValue(maxChildren)}`);
  }
}
