/**
 * A task module's life on one thread: its `export function setup()` runs once before the first
 * of its tasks runs on the thread, and its `export function teardown()` once when the thread stops
 * (piscina #136, tinypool #25: open a database handle, warm a cache, and close it again).
 *
 * ```ts
 * // worker.js
 * let db;
 * export async function setup() { db = await connect(); }      // once per thread, before any task
 * export async function teardown() { await db.close(); }       // once per thread, as it stops
 * export default (query) => db.query(query);
 * ```
 *
 * Both may be async. A setup that throws (or rejects) fails the task that needed it with a
 * ModuleError whose cause is what it threw; the next task of the module tries setup again. A
 * thread that is restarted (after a crash) is a new thread: its first task of the module runs setup
 * again; the crashed thread ran no teardown. Teardowns run in the reverse order of their setups,
 * all of a thread's within TEARDOWN_TIMEOUT_MS; one that throws or overruns is reported as a
 * process warning (`WEFT_TEARDOWN`) on that thread and the rest still run.
 *
 * The record is per thread (module state: each worker thread has its own), so two pools on the
 * same shards that use the same module share one setup.
 */
import { ModuleError, describeReason } from '../shm/errors.js';

/** The longest a thread's teardowns together may take as it stops, ms. */
export const TEARDOWN_TIMEOUT_MS = 5_000;

type Hook = () => unknown;

/** Modules whose setup ran (or runs) on this thread, in setup order, with their teardown. */
const lives = new Map<string, { ready: Promise<void>; teardown: Hook | undefined }>();

/** An export of a namespace, or of its CommonJS default object, if it is a function. */
function hook(namespace: Record<string, unknown>, main: unknown, name: string): Hook | undefined {
  const found = namespace[name] ?? (typeof main === 'object' && main !== null ? (main as Record<string, unknown>)[name] : undefined);
  return typeof found === 'function' ? (found as Hook) : undefined;
}

/**
 * Resolves once `module`'s setup has run on this thread (at once if it has none, or it already
 * ran); rejects with ModuleError if it threw, and forgets it so the next task tries again.
 */
export function setUp(module: string, namespace: Record<string, unknown>, main: unknown): Promise<void> {
  const known = lives.get(module);
  if (known !== undefined) return known.ready;
  const setup = hook(namespace, main, 'setup');
  const teardown = hook(namespace, main, 'teardown');
  const life: { ready: Promise<void>; teardown: Hook | undefined } = { ready: Promise.resolve(), teardown };
  // Recorded before setup runs: a task that comes while it runs waits for the same setup.
  lives.set(module, life);
  life.ready = (async () => {
    if (setup === undefined) return;
    try {
      await setup();
    } catch (error) {
      if (lives.get(module) === life) lives.delete(module);
      throw new ModuleError(`setup() of task module ${module} failed: ${describeReason(error)}`, { cause: error });
    }
  })();
  return life.ready;
}

/** Runs the teardowns of the modules set up on this thread (newest first), within TEARDOWN_TIMEOUT_MS; never rejects. */
export async function tearDownAll(): Promise<void> {
  if (lives.size === 0) return;
  const all = [...lives].reverse();
  lives.clear();
  const run = async () => {
    for (const [module, { ready, teardown }] of all) {
      if (teardown === undefined) continue;
      try {
        await ready; // a module whose setup failed was forgotten; one still setting up finishes first
        await teardown();
      } catch (error) {
        warn(`teardown() of task module ${module} failed: ${describeReason(error)}`);
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), TEARDOWN_TIMEOUT_MS)));
  const outcome = await Promise.race([run(), late]);
  clearTimeout(timer);
  if (outcome === 'late') warn(`task module teardowns took longer than ${TEARDOWN_TIMEOUT_MS} ms: the thread stops without waiting for the rest`);
}

function warn(message: string): void {
  try {
    process.emitWarning(message, { code: 'WEFT_TEARDOWN' });
  } catch {
    // no warning channel: nothing else to do
  }
}
