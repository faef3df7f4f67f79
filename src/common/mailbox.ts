/**
 * Bounded mailboxes: the option a spawn takes to cap how many messages one actor lets wait, and
 * what happens to the one past the cap. The cap is enforced where the message is delivered, in the
 * actor's own thread (src/common/cell.ts), since that is the only place its mailbox is known.
 *
 * Only what users send counts: casts, sends and calls. System messages (EXIT and DOWN delivered to
 * `handleInfo`, `nodedown` notices, replies, weft's own control traffic) are never counted against
 * the bound and never dropped: a bound that could evict a DOWN would break the supervision it
 * exists to protect (actor-ts #310 had to revert exactly that).
 */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/**
 * What happens to a message that finds its actor's mailbox full:
 * - `'reject'`: refused. A call rejects with `MailboxFullError`. A cast or send has left its sender
 *   before it reaches the mailbox, so it becomes a dead letter, and the sender's thread is told: from
 *   then until the mailbox is down to half its `max`, casts and sends to that actor from that thread
 *   are refused at the sender as backpressure refuses them at `maxPending` (`MailboxFullError`, or a
 *   dead letter and `false` with `whenFull: 'drop'`), and calls reject with `MailboxFullError`.
 * - `'drop-new'`: the new message is dropped as a dead letter (a call is rejected with
 *   `MailboxFullError`: a call always settles).
 * - `'drop-old'`: the oldest message that counts is dropped as a dead letter (a call is rejected with
 *   `MailboxFullError`) and the new one waits.
 */
export type MailboxOverflow = 'reject' | 'drop-new' | 'drop-old';

/** `spawn(url, { mailbox })`: at most `max` user messages wait for the actor. */
export interface MailboxOptions {
  /** Messages that may wait (not counting the one being handled). An integer >= 1. */
  max: number;
  /** @default 'reject' */
  overflow?: MailboxOverflow;
}

/** A mailbox bound as the spawning thread sends it and the cell keeps it. */
export interface MailboxLimit {
  max: number;
  overflow: MailboxOverflow;
}

const OVERFLOWS: readonly string[] = ['reject', 'drop-new', 'drop-old'];

/** The bound `options` asks for, checked; undefined for none. Throws InvalidArgumentError. */
export function mailboxLimit(options: MailboxOptions | undefined | null): MailboxLimit | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw new InvalidArgumentError(`expected \`mailbox\` to be { max, overflow? }, got: ${describeValue(options)}`);
  const { max, overflow = 'reject' } = options;
  if (!(Number.isInteger(max) && max >= 1 && max <= 2 ** 31 - 1)) throw new InvalidArgumentError(`expected \`mailbox.max\` to be an integer >= 1, got: ${describeValue(max)}`);
  if (!OVERFLOWS.includes(overflow)) throw new InvalidArgumentError(`expected \`mailbox.overflow\` to be 'reject', 'drop-new' or 'drop-old', got: ${describeValue(overflow)}`);
  return { max, overflow };
}
