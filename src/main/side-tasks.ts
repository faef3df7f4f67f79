/**
 * Main's end of the tasks that travel beside the rings (src/worker/side-tasks.ts has the shard's):
 * posted to the shard's worker with their `transferList`, answered on its port. A wait rejects
 * with `ExitError({ threadDown })` if its thread dies first, as a call's does.
 */
import type { Transferable } from 'node:worker_threads';
import { EncodeError, ExitError, SystemStoppedError } from '../shm/errors.js';
import type { ExitReason } from '../common/actor.js';
import { describeReason } from '../shm/errors.js';
import type { SideAbort, SideAnswer, SideTask } from '../worker/side-tasks.js';

interface Wait {
  readonly thread: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class SideTasks {
  private readonly post: (thread: number, message: SideTask | SideAbort, transferList: readonly Transferable[]) => void;
  private readonly waits = new Map<number, Wait>();
  private nextSide = 1;

  /** `post`: hands a message to shard `thread`'s worker (throws if it cannot be cloned). */
  constructor(post: (thread: number, message: SideTask | SideAbort, transferList: readonly Transferable[]) => void) {
    this.post = post;
  }

  /**
   * Runs task `id` (`module[name](...args)`) on shard `thread`, in a slot of the runner there of
   * the dispatcher `key`; resolves or rejects with its answer. If it cannot be posted, it rejects
   * with `unsendable` (the ring encoder's EncodeError, naming the path), else an EncodeError.
   */
  run(thread: number, id: number, module: string, name: string, args: unknown[], transferList: readonly Transferable[], key: number, unsendable?: EncodeError): Promise<unknown> {
    const side = this.nextSide++;
    return new Promise((resolve, reject) => {
      this.waits.set(side, { thread, resolve, reject });
      try {
        this.post(thread, { weftTask: { side, id, module, name, args, key } }, transferList);
      } catch (error) {
        this.waits.delete(side);
        // Something in the task cannot be cloned either (a function, a symbol): an EncodeError as
        // for any message, the one the ring's encoder gave (it names the path) when there is one.
        reject(unsendable ?? new EncodeError(`the task cannot be sent to a thread: ${describeReason(error)}`, '', { cause: error }));
      }
    });
  }

  /**
   * Tells shard `thread` that the caller of task `id` aborted it: the task's signal aborts there.
   * `cause` goes as its description when it cannot be posted; a shard that is down needs no telling.
   */
  abort(thread: number, id: number, cause: unknown): void {
    try {
      this.post(thread, { weftTaskAbort: id, cause }, []);
    } catch {
      try {
        this.post(thread, { weftTaskAbort: id, cause: describeReason(cause) }, []);
      } catch {
        // The shard is down: so is the task.
      }
    }
  }

  /** A message from shard `thread`'s worker: true if it was a side task's answer. */
  answered(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !('weftTaskDone' in message)) return false;
    const answer = message as SideAnswer;
    const wait = this.waits.get(answer.weftTaskDone);
    if (wait !== undefined) {
      this.waits.delete(answer.weftTaskDone);
      if (answer.ok) wait.resolve(answer.value);
      else wait.reject(answer.error);
    }
    return true;
  }

  /** Shard `thread` died: its waits reject with the reason. */
  threadDown(thread: number, reason: ExitReason): void {
    for (const [side, wait] of [...this.waits]) {
      if (wait.thread !== thread) continue;
      this.waits.delete(side);
      wait.reject(new ExitError(`thread ${thread} went down before replying: ${describeReason(reason)}`, reason));
    }
  }

  /** The system stopped: every wait rejects. */
  close(): void {
    for (const wait of this.waits.values()) wait.reject(new SystemStoppedError('the system stopped before the task answered'));
    this.waits.clear();
  }
}
