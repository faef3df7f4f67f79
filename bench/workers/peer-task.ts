/**
 * The one task every peer library runs in `bench/peers/`: `add(a, b) → a + b`, shared by the
 * `peer-<lib>.ts` worker files so that they differ only in how their library delivers the call.
 *
 * Fault injection, for checking that the drivers fail instead of hanging (`bench/peers/try.ts
 * --faults`) and that the suites check their answers (`test/bench-checks.test.ts`; weft's adder
 * actor runs this `add` too): set `WEFT_PEER_FAULT` before the pool starts (workers inherit the
 * environment, node processes too) and
 * every worker, on its `WEFT_PEER_FAULT_AT`-th call (default 1000), either
 *   - `wrong`: answers a + b + 1,
 *   - `throw`: throws an Error (the library should reject that call),
 *   - `exit`:  ends its thread with `process.exit(1)` (a dead worker).
 * The choice is made once, when the module loads: without the variable, `add` is the plain function.
 */

/** The task object of the libraries that take one argument (piscina, tinypool, poolifier). */
export interface AddTask {
  a: number;
  b: number;
}

export type Add = (a: number, b: number) => number;

const plain: Add = (a, b) => a + b;

function faulty(fault: string, at: number): Add {
  if (!['wrong', 'throw', 'exit'].includes(fault)) {
    throw new Error(`WEFT_PEER_FAULT must be wrong, throw or exit, got: ${JSON.stringify(fault)}`);
  }
  let calls = 0;
  return (a, b) => {
    if (++calls !== at) return a + b;
    if (fault === 'wrong') return a + b + 1;
    if (fault === 'throw') throw new Error(`injected fault: call ${at} throws`);
    process.exit(1);
  };
}

const fault = process.env.WEFT_PEER_FAULT;
const faultAt = Number(process.env.WEFT_PEER_FAULT_AT ?? '1000');

export const add: Add = fault === undefined || fault === '' ? plain : faulty(fault, faultAt);
