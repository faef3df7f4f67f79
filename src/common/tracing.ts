/**
 * The seam trace context crosses threads through: empty unless `start({ openTelemetry: true })`
 * installed OpenTelemetry's side of it (src/common/otel-tracing.ts) on the thread.
 *
 * Why a seam and not a dependency: weft must run where `@opentelemetry/api` is not installed, and a
 * call must cost nothing more when nobody traces. So the runtime asks one question per call —
 * `tracing.capture` is undefined: go on as ever — and only with a span active does the call travel
 * as a CALL_TRACED frame carrying its W3C `traceparent`, which the receiving thread turns back into
 * a context its handler runs in.
 */
export interface TracingHooks {
  /** The active span's `traceparent`, or undefined when no span is active (the call goes untraced). */
  capture(): string | undefined;
  /** Runs `handle` inside a context whose parent span is `traceparent`'s (undefined: no parent at all). */
  enter(traceparent: string | undefined, handle: () => void): void;
}

/** This thread's hooks; `undefined` fields when OpenTelemetry is off (the common case, and free). */
export const tracing: { capture: TracingHooks['capture'] | undefined; enter: TracingHooks['enter'] | undefined } = {
  capture: undefined,
  enter: undefined,
};

export function installTracing(hooks: TracingHooks): void {
  tracing.capture = hooks.capture;
  tracing.enter = hooks.enter;
}

export function uninstallTracing(): void {
  tracing.capture = undefined;
  tracing.enter = undefined;
}
