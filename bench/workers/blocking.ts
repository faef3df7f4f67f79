/** The tasks of the pool-blocking suite, in piscina's worker format (weft runs it unchanged). */

/** Holds its thread for `ms` without yielding. */
export function block(ms: number): number {
  const started = Date.now();
  while (Date.now() - started < ms);
  return ms;
}

/** A tiny task. */
export default function tiny(n: number): number {
  return n + 1;
}
