/**
 * OpenTelemetry's side of the tracing seam (src/common/tracing.ts): the active span's context out
 * as a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), and back in as a remote parent.
 *
 * Loaded with a dynamic import only when `start({ openTelemetry: true })`, on main and on every
 * shard; `@opentelemetry/api` is an optional peer dependency, so when it is missing this resolves
 * to false and the seam stays empty. The traceparent is built here rather than through the global
 * propagator so that it travels whether or not the application registered one.
 *
 * A handler runs inside `context.with(parent)`: spans it starts are children of the caller's span,
 * provided the thread has a context manager (an SDK set up in the worker, e.g. by a `--import`
 * preload, which Node runs in every worker thread too).
 */
import { installTracing } from './tracing.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Installs the hooks on this thread; false when `@opentelemetry/api` cannot be loaded. */
export async function installOpenTelemetryTracing(): Promise<boolean> {
  let api: typeof import('@opentelemetry/api');
  try {
    api = await import('@opentelemetry/api');
  } catch {
    return false;
  }
  const { context, trace, ROOT_CONTEXT } = api;
  installTracing({
    capture() {
      const span = trace.getSpanContext(context.active());
      if (span === undefined || !trace.isSpanContextValid(span)) return undefined;
      return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    },
    enter(traceparent, handle) {
      const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
      if (match === null) {
        context.with(ROOT_CONTEXT, handle); // no parent (or one we cannot read): not the context it happens to run in
        return;
      }
      const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16), isRemote: true });
      context.with(parent, handle);
    },
  });
  return true;
}
