/**
 * Preconditions that only a bug in weft itself can break. Users get typed `WeftError`s; an assert
 * failing means weft's own invariant is gone, so it throws a plain Error that names the invariant.
 */
export function assert(condition: unknown, invariant: string): asserts condition {
  if (!condition) throw new Error(`weft internal invariant broken: ${invariant}`);
}
