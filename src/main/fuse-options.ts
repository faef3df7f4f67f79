/** `system.fuse`'s options, as jlouis/fuse spells them, checked and flattened for the fuse table. */
import { InvalidArgumentError, describeValue } from '../shm/errors.js';
import { MAX_NAME, MAX_R_LIMIT, type FuseOptions } from '../shm/fuse-table.js';

export interface FuseInstallOptions {
  /** `standard`: more than `maxR` melts within `maxT` ms blow the fuse (maxR ≤ 255). */
  strategy: { standard: { maxR: number; maxT: number } };
  /** Milliseconds after a blow that it heals by itself. */
  reset: number;
  /** Heal into a trial: the first melt after healing blows it again at once, a success closes it. @default false */
  halfOpen?: boolean;
  /** Fault injection for tests: this fraction (0..1) of `ask`s melts the fuse and answers 'blown'. @default 0 */
  fault?: number;
}

export function fuseOptions(name: string, options: FuseInstallOptions): FuseOptions {
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME) throw new InvalidArgumentError(`expected a fuse name of 1 to ${MAX_NAME} characters, got: ${describeValue(name)}`);
  const standard = options?.strategy?.standard;
  if (typeof standard !== 'object' || standard === null) throw new InvalidArgumentError(`expected \`strategy\` to be { standard: { maxR, maxT } }, got: ${describeValue(options?.strategy)}`);
  const { maxR, maxT } = standard;
  if (!Number.isInteger(maxR) || maxR < 0 || maxR > MAX_R_LIMIT) throw new InvalidArgumentError(`expected \`maxR\` to be an integer from 0 to ${MAX_R_LIMIT}, got: ${describeValue(maxR)}`);
  if (!Number.isInteger(maxT) || maxT < 1 || maxT > 2 ** 31 - 1) throw new InvalidArgumentError(`expected \`maxT\` to be ms from 1 to 2147483647, got: ${describeValue(maxT)}`);
  const { reset, halfOpen = false, fault = 0 } = options;
  if (!Number.isInteger(reset) || reset < 0 || reset > 2 ** 31 - 1) throw new InvalidArgumentError(`expected \`reset\` to be ms from 0 to 2147483647, got: ${describeValue(reset)}`);
  if (typeof halfOpen !== 'boolean') throw new InvalidArgumentError(`expected \`halfOpen\` to be a boolean, got: ${describeValue(halfOpen)}`);
  if (typeof fault !== 'number' || !(fault >= 0 && fault <= 1)) throw new InvalidArgumentError(`expected \`fault\` to be a fraction from 0 to 1, got: ${describeValue(fault)}`);
  return { maxR, maxT, reset, fault, halfOpen };
}
