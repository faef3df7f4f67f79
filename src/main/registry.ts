/**
 * The node's names: name → pid, unique while the actor lives, kept by main for every thread.
 * Shards reach it with REGISTER / UNREGISTER / WHEREIS frames; spawn reserves a name before its
 * actor exists so two spawns cannot both take it.
 */
import { AlreadyRegisteredError, InvalidArgumentError, describeValue } from '../shm/errors.js';
import { pidEquals, threadKey, type Pid } from '../shm/pid.js';

const pidKey = (pid: Pid): number => threadKey(pid.thread, pid.serial);

export class Registry {
  /** name → pid, or null while a spawn holds the name. */
  private readonly byName = new Map<string, Pid | null>();
  /** pid → its names, to free them all when it exits. */
  private readonly byPid = new Map<number, Set<string>>();

  /** Holds `name` for a spawn in flight; throws if it is taken or not a name. */
  reserve(name: string): void {
    this.check(name);
    this.byName.set(name, null);
  }

  /** Gives up a reservation (the spawn failed). */
  release(name: string): void {
    if (this.byName.get(name) === null) this.byName.delete(name);
  }

  /** Completes a reservation: the spawn that reserved `name` has started `pid`. */
  bindReserved(name: string, pid: Pid): void {
    this.byName.delete(name);
    this.bind(name, pid);
  }

  /**
   * Binds `name` to `pid` (`register`). A name held by `replacing` (an actor that has exited,
   * though its exit may not have reached main yet: a supervisor restarting it knows first) passes
   * to `pid`; a name reserved by a spawn in flight is taken.
   */
  bind(name: string, pid: Pid, replacing?: Pid): void {
    const holder = this.byName.get(name);
    if (holder && replacing && pidEquals(holder, replacing)) this.unbind(name, holder);
    else this.check(name);
    this.byName.set(name, pid);
    const key = pidKey(pid);
    let names = this.byPid.get(key);
    if (names === undefined) this.byPid.set(key, (names = new Set()));
    names.add(name);
  }

  /** Frees `name` if `pid` holds it. */
  unbind(name: string, pid: Pid): void {
    const holder = this.byName.get(name);
    if (holder && pidEquals(holder, pid)) {
      this.byName.delete(name);
      this.byPid.get(pidKey(pid))?.delete(name);
    }
  }

  /** Frees every name of an actor that exited. */
  exited(pid: Pid): void {
    const key = pidKey(pid);
    for (const name of this.byPid.get(key) ?? []) this.byName.delete(name);
    this.byPid.delete(key);
  }

  /** Frees every name held by an actor of `thread` (it went down with them). */
  threadDown(thread: number): void {
    for (const [name, pid] of [...this.byName]) {
      if (pid !== null && pid.thread === thread) this.unbind(name, pid);
    }
  }

  /** Every name bound now, with its pid (for the inspect endpoint's view). */
  bound(): Array<{ name: string; pid: Pid }> {
    const out: Array<{ name: string; pid: Pid }> = [];
    for (const [name, pid] of this.byName) if (pid !== null) out.push({ name, pid });
    return out;
  }

  whereis(name: string): Pid | undefined {
    return this.byName.get(name) ?? undefined;
  }

  private check(name: string): void {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`expected a name to be a non-empty string, got: ${describeValue(name)}`);
    if (this.byName.has(name)) throw new AlreadyRegisteredError(`the name ${JSON.stringify(name)} is taken by ${this.byName.get(name) ?? 'an actor being spawned'}`);
  }
}
