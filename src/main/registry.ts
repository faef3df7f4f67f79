/**
 * The node's names: name → pid, unique while the actor lives, kept by main for every thread.
 * Shards reach it with REGISTER / UNREGISTER / WHEREIS frames; spawn reserves a name before its
 * actor exists so two spawns cannot both take it.
 *
 * A name is never left bound to a dead pid because binding and exit are ordered per pid: an actor
 * is named by its own thread (at spawn, before it runs; or by `ctx.register` while it lives), and
 * its exit notice leaves later on the same ring to main (or, on main, later in the same turn). So
 * `exited` always comes after the `bind` it must undo.
 */
import { AlreadyRegisteredError, InvalidArgumentError, describeValue } from '../shm/errors.js';
import { pidEquals, threadKey, type Pid } from '../shm/pid.js';

const pidKey = (pid: Pid): number => threadKey(pid.thread, pid.serial);

export class Registry {
  /** name → pid, or the reservation number of the spawn that holds the name. */
  private readonly byName = new Map<string, Pid | number>();
  /** pid → its names, to free them all when it exits. */
  private readonly byPid = new Map<number, Set<string>>();
  private nextReservation = 1;

  /** Holds `name` for a spawn in flight and returns the reservation; throws if it is taken or not a name. */
  reserve(name: string): number {
    this.check(name);
    const reservation = this.nextReservation;
    this.nextReservation = reservation >= 0x3fff_ffff ? 1 : reservation + 1;
    this.byName.set(name, reservation);
    return reservation;
  }

  /** Gives up a reservation (the spawn failed or timed out); a later bind under it is refused. */
  release(name: string, reservation: number): void {
    if (this.byName.get(name) === reservation) this.byName.delete(name);
  }

  /**
   * Binds `name` to `pid` (`register`). A name held by `replacing` (an actor that has exited,
   * though its exit may not have reached main yet: a supervisor restarting it knows first) passes
   * to `pid`. With `reservation`, the name must still be held by that reservation (the spawn that
   * made it may have given up); without, a name reserved by a spawn in flight is taken.
   */
  bind(name: string, pid: Pid, replacing?: Pid, reservation?: number): void {
    const holder = this.byName.get(name);
    if (reservation !== undefined && holder === reservation) this.byName.delete(name);
    else if (holder !== undefined && typeof holder !== 'number' && replacing && pidEquals(holder, replacing)) this.unbind(name, holder);
    else if (reservation !== undefined && holder === undefined) throw new AlreadyRegisteredError(`the name ${JSON.stringify(name)} is no longer reserved for ${pid}: its spawn gave up (timed out)`);
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
    if (holder !== undefined && typeof holder !== 'number' && pidEquals(holder, pid)) {
      this.byName.delete(name);
      const key = pidKey(pid);
      const names = this.byPid.get(key);
      names?.delete(name);
      if (names?.size === 0) this.byPid.delete(key);
    }
  }

  /** Frees every name of an actor that exited. */
  exited(pid: Pid): void {
    const key = pidKey(pid);
    const names = this.byPid.get(key);
    if (names === undefined) return;
    for (const name of names) this.byName.delete(name);
    this.byPid.delete(key);
  }

  /** Frees every name held by an actor of `thread` (it went down with them). */
  threadDown(thread: number): void {
    for (const [name, pid] of [...this.byName]) {
      if (typeof pid !== 'number' && pid.thread === thread) this.unbind(name, pid);
    }
  }

  /** Every name bound now, with its pid (for the inspect endpoint's view). */
  bound(): Array<{ name: string; pid: Pid }> {
    const out: Array<{ name: string; pid: Pid }> = [];
    for (const [name, pid] of this.byName) if (typeof pid !== 'number') out.push({ name, pid }); // a number: reserved, no actor yet
    return out;
  }

  whereis(name: string): Pid | undefined {
    const holder = this.byName.get(name);
    return typeof holder === 'number' ? undefined : holder;
  }

  private check(name: string): void {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`expected a name to be a non-empty string, got: ${describeValue(name)}`);
    const holder = this.byName.get(name);
    if (holder !== undefined) throw new AlreadyRegisteredError(`the name ${JSON.stringify(name)} is taken by ${typeof holder === 'number' ? 'an actor being spawned' : String(holder)}`);
  }
}
