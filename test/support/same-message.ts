/**
 * Equality for decoded messages, shared by the codec tests: stricter than `toStrictEqual` where the
 * codec promises more (-0, NaN, invalid Dates, prototypes, typed array classes, error classes and
 * stacks) and looser only where the codec documents a change (an array hole arrives as `undefined`).
 * `sameMessage` throws, naming the path of the first difference.
 */
import { WeftError, errorFromCode, isWeftError } from '../../src/shm/errors.js';
import { Pid } from '../../src/shm/pid.js';

export const BUILTIN_ERROR_NAMES = ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError'];

export function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (Object.is(value, -0)) return '-0';
  if (typeof value === 'object' && value !== null) return `[${Object.getPrototypeOf(value)?.constructor?.name ?? 'null-prototype'} object]`;
  return String(value);
}

function bytesOf(value: ArrayBufferView | ArrayBuffer): Uint8Array {
  return ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

/** The class a decoded copy of `error` should have (see "Errors" in codec.ts). */
function expectedErrorClass(error: Error): Function {
  if (isWeftError(error)) {
    const known = errorFromCode(error.code, '', {});
    return known === undefined ? WeftError : known.constructor;
  }
  if (BUILTIN_ERROR_NAMES.includes(error.name)) return (globalThis as unknown as Record<string, Function>)[error.name];
  return Error;
}

/** Throws, naming the path, unless `actual` is what the codec promises for `expected`. */
export function sameMessage(actual: unknown, expected: unknown, path = 'msg'): void {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (typeof expected !== 'object' || expected === null) {
    if (!Object.is(actual, expected)) fail(`expected ${show(expected)}, got ${show(actual)}`);
    return;
  }
  if (typeof actual !== 'object' || actual === null) return fail(`expected ${show(expected)}, got ${show(actual)}`);
  if (expected instanceof Error) return sameError(actual, expected, path);
  const prototype: unknown = Object.getPrototypeOf(expected);
  if (Object.getPrototypeOf(actual) !== prototype) fail(`expected ${show(expected)}, got ${show(actual)}`);
  if (Array.isArray(expected)) {
    const array = actual as unknown[];
    if (array.length !== expected.length) fail(`length ${array.length}, expected ${expected.length}`);
    for (let index = 0; index < expected.length; index++) {
      if (!(index in array)) fail(`[${index}] is a hole; holes must arrive as undefined`);
      sameMessage(array[index], expected[index], `${path}[${index}]`);
    }
  } else if (expected instanceof Map) {
    const entries = [...(actual as Map<unknown, unknown>)];
    const wanted = [...expected];
    if (entries.length !== wanted.length) fail(`size ${entries.length}, expected ${wanted.length}`);
    wanted.forEach(([key, value], index) => {
      sameMessage(entries[index][0], key, `${path}<key #${index}>`);
      sameMessage(entries[index][1], value, `${path}<#${index}>`);
    });
  } else if (expected instanceof Set) {
    const members = [...(actual as Set<unknown>)];
    const wanted = [...expected];
    if (members.length !== wanted.length) fail(`size ${members.length}, expected ${wanted.length}`);
    wanted.forEach((member, index) => sameMessage(members[index], member, `${path}[#${index}]`));
  } else if (expected instanceof Date) {
    if (!Object.is((actual as Date).getTime(), expected.getTime())) fail(`time ${(actual as Date).getTime()}, expected ${expected.getTime()}`);
  } else if (expected instanceof RegExp) {
    const regexp = actual as RegExp;
    if (regexp.source !== expected.source || regexp.flags !== expected.flags) fail(`expected ${expected}, got ${regexp}`);
  } else if (ArrayBuffer.isView(expected) || expected instanceof ArrayBuffer) {
    const got = bytesOf(actual as ArrayBufferView);
    const want = bytesOf(expected);
    if (Buffer.compare(got, want) !== 0) fail(`bytes [${[...got]}], expected [${[...want]}]`);
  } else if (expected instanceof Pid) {
    const pid = actual as Pid;
    if (pid.node !== expected.node || !Object.is(pid.thread, expected.thread) || !Object.is(pid.serial, expected.serial)) {
      fail(`expected ${expected}, got ${pid}`);
    }
  } else {
    const keys = Object.keys(expected);
    const got = Object.keys(actual);
    if (JSON.stringify(got) !== JSON.stringify(keys)) fail(`keys ${JSON.stringify(got)}, expected ${JSON.stringify(keys)}`);
    for (const key of keys) {
      sameMessage((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}[${JSON.stringify(key)}]`);
    }
  }
}

function sameError(actual: object, expected: Error, path: string): void {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  const error = actual as Error & { code?: unknown; path?: unknown };
  const wantedClass = expectedErrorClass(expected);
  if (Object.getPrototypeOf(error) !== wantedClass.prototype) fail(`expected a ${wantedClass.name}, got ${show(error)}`);
  if (error.name !== expected.name) fail(`name ${show(error.name)}, expected ${show(expected.name)}`);
  if (error.message !== expected.message) fail(`message ${show(error.message)}, expected ${show(expected.message)}`);
  if (error.stack !== expected.stack) fail(`stack ${show(error.stack)}, expected the sender's ${show(expected.stack)}`);
  if ('cause' in expected !== 'cause' in error) fail(`'cause' in error is ${'cause' in error}, expected ${'cause' in expected}`);
  if ('cause' in expected) sameMessage(error.cause, expected.cause, `${path}.cause`);
  const code: unknown = (expected as { code?: unknown }).code;
  if (code !== undefined) sameMessage(error.code, code, `${path}.code`);
  const where: unknown = (expected as { path?: unknown }).path;
  if (typeof where === 'string' && error.path !== where) fail(`path ${show(error.path)}, expected ${show(where)}`);
}
