/**
 * Finding a task's function in a worker file, the way piscina does: `export default fn`,
 * `module.exports = fn`, named exports, a CommonJS object's keys, or a promise of any of these (a
 * worker file that sets itself up first). Each module is imported once per thread, and its
 * `setup` export, if any, runs once per thread before its first task (src/common/task-lifecycle.ts).
 */
import { ModuleError } from '../shm/errors.js';
import { isThenable } from './thenable.js';
import { setUp } from './task-lifecycle.js';

export type TaskFunction = (...args: unknown[]) => unknown;

/** This thread's imports, by module URL. */
const modules = new Map<string, Promise<Record<string, unknown>>>();

/** The function `module` offers under `name` (`'default'`: the module's main export); ModuleError if none. */
export async function taskFunction(module: string, name: string): Promise<TaskFunction> {
  let loading = modules.get(module);
  if (loading === undefined) {
    loading = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, loading);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = await loading;
  } catch (error) {
    modules.delete(module);
    throw new ModuleError(`cannot import task module ${module}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  let main = namespace.default;
  if (isThenable(main)) main = await main;
  const candidate = name === 'default' ? (typeof main === 'function' ? main : (main as Record<string, unknown> | undefined)?.default) : (namespace[name] ?? (main as Record<string, unknown> | undefined)?.[name]);
  if (typeof candidate !== 'function') {
    throw new ModuleError(`task module ${module} has no function ${name === 'default' ? 'as its default export' : `exported as ${JSON.stringify(name)}`}`);
  }
  await setUp(module, namespace, main);
  return candidate as TaskFunction;
}
