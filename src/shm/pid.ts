/**
 * A pid names one actor for the whole life of a node: `(node, thread, serial)`, and the node's
 * `creation` when it is part of a cluster.
 *
 * The serial is never reused within a node's life, so a message addressed to a dead actor can never
 * reach a newer one that happens to live on the same thread. Pids are plain values: they compare
 * with `pidEquals`, travel through the codec's pid extension, and print as `<node.thread.serial>`.
 */
export class Pid {
  /** The node's name; `local` for a system that is not part of a cluster. */
  readonly node: string;
  /** 0 is the main thread, 1..N the shards. */
  readonly thread: number;
  /** Unique within `(node, thread)` for the node's life. */
  readonly serial: number;
  /**
   * Which life of the node: a node restarted under the same name has a new creation (as Erlang's
   * pids carry one), so its old pids never reach the new incarnation's actors. 0 outside a cluster.
   */
  readonly creation: number;

  constructor(node: string, thread: number, serial: number, creation = 0) {
    this.node = node;
    this.thread = thread;
    this.serial = serial;
    this.creation = creation;
  }

  toString(): string {
    return `<${this.node}.${this.thread}.${this.serial}>`;
  }
}

export const LOCAL_NODE = 'local';

export function pidEquals(a: Pid, b: Pid): boolean {
  return a.serial === b.serial && a.thread === b.thread && a.node === b.node && a.creation === b.creation;
}

/**
 * A number that names `(thread, serial)` (or `(thread, ref)`) exactly, for Map keys on one node:
 * threads are below 1024 and serials and refs below 2^30, so the product stays an exact integer.
 */
export function threadKey(thread: number, serial: number): number {
  return serial * 1024 + thread;
}
