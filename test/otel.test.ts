/**
 * OpenTelemetry (`start({ openTelemetry: true })`): a span started on main continues in the shard
 * that handles the call or runs the task (the shard sets up its own SDK, as an application's
 * `--import` preload would: test/fixtures/otel/shard-sdk.ts), and the windowed figures reach a
 * metrics exporter. The SDK's in-memory exporters record what happened; nothing is mocked.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type GaugeMetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type System } from '../src/main/index.js';
import { tracing } from '../src/common/tracing.js';
import { fixtureUrl } from './helpers.js';
import type TracedActor from './fixtures/otel/traced-actor.js';
import type { Seen } from './fixtures/otel/shard-sdk.js';

const ACTOR = fixtureUrl('otel/traced-actor');
const TASK = fixtureUrl('otel/traced-task');

// Main's SDK, as the application sets it up.
const spans = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
const tracer = trace.getTracer('weft-test-main');

/** Runs `work` inside a new span on main; resolves with its result and the span's ids. */
async function inSpan<T>(name: string, work: () => Promise<T>): Promise<{ result: T; traceId: string; spanId: string }> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      const { traceId, spanId } = span.spanContext();
      return { result: await work(), traceId, spanId };
    } finally {
      span.end();
    }
  });
}

describe('with openTelemetry on', () => {
  let system: System;
  beforeAll(async () => {
    system = await start({ threads: 2, openTelemetry: true, metrics: { actors: true } });
    // Each shard sets up its SDK before traced work reaches it, as a `--import` preload would:
    // the fixture actor's module does it when it loads.
    for (const thread of [1, 2]) await system.spawn<typeof TracedActor>(ACTOR, { thread });
  });
  afterAll(async () => {
    await system.stop();
  });

  it("a call made inside a span is handled in the shard inside that span's context", async () => {
    const actor = await system.spawn<typeof TracedActor>(ACTOR, { thread: 1, name: 'traced' });
    const { result, traceId, spanId } = await inSpan('main-call', () => actor.call({ ms: 0 }));
    expect(result.thread).toBe(1);
    expect(result.active).toEqual({ traceId, spanId });
    expect(result.child).toEqual({ traceId, parentSpanId: spanId });
  });

  it('a call made outside any span travels untraced', async () => {
    const actor = await system.spawn<typeof TracedActor>(ACTOR, { thread: 2 });
    const seen = await actor.call({ ms: 0 });
    expect(seen.active).toBeUndefined();
    expect(seen.child.parentSpanId).toBeUndefined();
  });

  it('calls that wait in a busy mailbox each run in their own caller’s context', async () => {
    const actor = await system.spawn<typeof TracedActor>(ACTOR, { thread: 1 });
    // The first call's handler awaits 30 ms: the others wait in the mailbox meanwhile.
    const calls = await Promise.all([0, 1, 2].map((i) => inSpan(`concurrent-${i}`, () => actor.call({ ms: 30 }))));
    for (const { result, traceId, spanId } of calls) {
      expect(result.active).toEqual({ traceId, spanId });
      expect(result.child.parentSpanId).toBe(spanId);
    }
    expect(new Set(calls.map((call) => call.traceId)).size).toBe(3);
  });

  it('a task run inside a span continues it on the shard', async () => {
    const { result, traceId, spanId } = await inSpan('main-task', () => system.run(TASK, 'see', 0) as Promise<Seen>);
    expect(result.thread).toBeGreaterThanOrEqual(1);
    expect(result.active).toEqual({ traceId, spanId });
    expect(result.child.parentSpanId).toBe(spanId);
  });

  it('tasks that waited in the queue still run in their own caller’s context (or in none)', async () => {
    // Far more tasks than the shards take at once: most wait in the dispatcher's queue, and are
    // sent later from whichever task's completion freed a place.
    const a = tracer.startSpan('batch-a');
    const b = tracer.startSpan('batch-b');
    const runs: Array<Promise<{ seen: Seen; parent: string | undefined }>> = [];
    for (let i = 0; i < 300; i++) {
      const span = i % 3 === 0 ? a : i % 3 === 1 ? b : undefined;
      const run = () => (system.run(TASK, 'see', 2) as Promise<Seen>).then((seen) => ({ seen, parent: span?.spanContext().spanId }));
      runs.push(span === undefined ? context.with(context.active(), run) : context.with(trace.setSpan(context.active(), span), run));
    }
    const results = await Promise.all(runs);
    a.end();
    b.end();
    const wrong = results.map(({ seen, parent }, i) => [i, seen.active?.spanId, parent, seen.thread]).filter(([, got, want]) => got !== want);
    expect(wrong).toEqual([]);
  });

  it('the windowed figures reach the metrics exporter, per thread and per actor', async () => {
    const actor = await system.spawn<typeof TracedActor>(ACTOR, { thread: 1 });
    for (let i = 0; i < 50; i++) await actor.call({ ms: 0 });
    await reader.forceFlush();
    const exported = metricExporter.getMetrics().at(-1)!;
    const all = exported.scopeMetrics.filter((scope) => scope.scope.name === 'weft').flatMap((scope) => scope.metrics);
    const byName = (name: string) => all.find((metric) => metric.descriptor.name === name);
    const utilization = byName('weft.thread.utilization') as GaugeMetricData;
    expect(utilization.dataPoints.map((point) => point.attributes['weft.thread']).sort()).toEqual([0, 1, 2]);
    for (const point of utilization.dataPoints) {
      expect(point.value).toBeGreaterThanOrEqual(0);
      expect(point.value).toBeLessThanOrEqual(1);
    }
    const inRate = byName('weft.thread.messages.in.rate') as GaugeMetricData;
    expect(inRate.dataPoints.find((point) => point.attributes['weft.thread'] === 1)!.value).toBeGreaterThan(0);
    const restarts = byName('weft.thread.restarts') as SumMetricData;
    expect(restarts.dataPoints.every((point) => point.value === 0)).toBe(true);
    const named = (byName('weft.actor.messages.rate') as GaugeMetricData).dataPoints.find((point) => point.attributes['weft.actor'] === 'traced');
    expect(named).toBeDefined();
    expect(byName('weft.thread.mailbox.high_water')).toBeDefined();
  });
});

describe('with openTelemetry off', () => {
  it('a call inside a span carries no context, and no weft metric is reported', async () => {
    // The system with openTelemetry on has stopped: main's hooks went with it.
    expect(tracing.capture).toBeUndefined();
    const system = await start({ threads: 1 });
    try {
      const actor = await system.spawn<typeof TracedActor>(ACTOR, { thread: 1 });
      const { result } = await inSpan('untraced', () => actor.call({ ms: 0 }));
      expect(result.active).toBeUndefined();
      metricExporter.reset();
      await reader.forceFlush();
      // The system with openTelemetry stopped and took its instruments' callback with it.
      const weft = metricExporter.getMetrics().flatMap((batch) => batch.scopeMetrics.filter((scope) => scope.scope.name === 'weft').flatMap((scope) => scope.metrics));
      expect(weft.every((metric) => metric.dataPoints.length === 0)).toBe(true);
    } finally {
      await system.stop();
    }
  });
});

describe('without @opentelemetry/api installed', () => {
  it('openTelemetry: true does nothing: the system starts, calls and stops as ever', async () => {
    const { execFile } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const hide = fileURLToPath(new URL('./fixtures/otel/hide-api-register.mjs', import.meta.url));
    const script = fileURLToPath(fixtureUrl('otel/without-api'));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', hide, script], { timeout: 60_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ apiHidden: true, reply: 42, threads: 2 });
  }, 60_000);
});
