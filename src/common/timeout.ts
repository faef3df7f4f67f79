/**
 * The one check of a timeout option (`call`, `spawn`, `ctx.spawn`, `supervise`): milliseconds from
 * 0 up, or `Infinity` for no limit. Anything else (NaN, a string, a negative number) would leave a
 * wait pending forever or expiring at once, so it is refused up front.
 */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';

/**
 * The longest delay a Node timer takes (2^31-1 ms, about 24.8 days): a longer one fires after 1 ms
 * with a TimeoutOverflowWarning. Waits longer than this arm a timer for this long and re-arm.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `timeout`, or `fallback` when it is undefined; InvalidArgumentError for anything but a number >= 0 or Infinity. */
export function timeoutMs(timeout: unknown, fallback: number): number {
  const ms = timeout ?? fallback;
  if (!(ms === Infinity || (typeof ms === 'number' && ms >= 0))) {
    throw new InvalidArgumentError(`expected \`timeout\` to be a number of ms >= 0 or Infinity, got: ${describeValue(timeout)}`);
  }
  return ms;
}
