/**
 * OpenTelemetry for a system (`start({ openTelemetry: true })`): the windowed figures as metrics,
 * and trace context carried with calls and tasks (src/common/otel-tracing.ts).
 *
 * Metrics are observable instruments of the meter `weft`, read in one batch callback at each
 * collection. The batch reads every thread's stats in the telemetry's own window and resets it, so
 * each export covers exactly the time since the previous one: rates and utilisation of the last
 * interval, never of the process's whole life (what piscina #305 asked of piscina's histograms).
 *
 * | instrument                       | kind    | unit | attributes            |
 * |----------------------------------|---------|------|-----------------------|
 * | weft.thread.utilization          | gauge   | 1    | weft.node, weft.thread |
 * | weft.thread.messages.in.rate     | gauge   | {message}/s | weft.node, weft.thread |
 * | weft.thread.messages.out.rate    | gauge   | {message}/s | weft.node, weft.thread |
 * | weft.thread.mailbox.depth        | gauge   | {message} | weft.node, weft.thread |
 * | weft.thread.mailbox.high_water   | gauge   | {message} | weft.node, weft.thread |
 * | weft.thread.actors               | gauge   | {actor} | weft.node, weft.thread |
 * | weft.thread.restarts             | counter | {restart} | weft.node, weft.thread |
 * | weft.thread.parks                | counter | {park} | weft.node, weft.thread |
 * | weft.thread.dead_letters         | counter | {message} | weft.node, weft.thread |
 * | weft.actor.messages.rate         | gauge   | {message}/s | + weft.actor (name or pid) |
 * | weft.actor.busy                  | gauge   | 1    | + weft.actor          |
 *
 * Without `@opentelemetry/api` installed, `start` resolves to undefined and nothing is reported.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { Observability } from './observability.js';
import type { StatsWindow } from './stats-window.js';
import { uninstallTracing } from '../common/tracing.js';

/** Systems of this process with OpenTelemetry on: main's tracing hooks stay while one is left. */
let tracingUsers = 0;

export class Telemetry {
  private stopped = false;

  private constructor(
    private readonly meter: Meter,
    private readonly instruments: Observable[],
    private readonly callback: (result: BatchObservableResult) => Promise<void>,
  ) {}

  static async start(node: string, window: StatsWindow, source: Observability): Promise<Telemetry | undefined> {
    let api: typeof import('@opentelemetry/api');
    try {
      api = await import('@opentelemetry/api');
    } catch {
      return undefined; // the optional peer is not installed: nothing to report to
    }
    const { installOpenTelemetryTracing } = await import('../common/otel-tracing.js');
    await installOpenTelemetryTracing();
    tracingUsers++;
    const meter = api.metrics.getMeter('weft');
    const gauge = (name: string, unit: string, description: string) => meter.createObservableGauge(name, { unit, description });
    const counter = (name: string, unit: string, description: string) => meter.createObservableCounter(name, { unit, description });
    const elu = gauge('weft.thread.utilization', '1', 'Event-loop utilisation of the thread over the last collection interval');
    const inRate = gauge('weft.thread.messages.in.rate', '{message}/s', 'Frames the thread received per second');
    const outRate = gauge('weft.thread.messages.out.rate', '{message}/s', 'Frames the thread sent per second');
    const depth = gauge('weft.thread.mailbox.depth', '{message}', 'Messages waiting in the thread now');
    const highWater = gauge('weft.thread.mailbox.high_water', '{message}', 'Deepest actor mailbox of the thread within the interval');
    const actors = gauge('weft.thread.actors', '{actor}', 'Live actors on the thread');
    const restarts = counter('weft.thread.restarts', '{restart}', 'Times the thread was restarted since the system started');
    const parks = counter('weft.thread.parks', '{park}', 'Times the thread parked, in its current life');
    const deadLetters = counter('weft.thread.dead_letters', '{message}', 'Casts and sends that reached no actor, in the thread\'s current life');
    const actorRate = gauge('weft.actor.messages.rate', '{message}/s', 'Messages the actor handled per second (metrics.actors)');
    const actorBusy = gauge('weft.actor.busy', '1', 'Share of the interval the actor spent in its handlers (metrics.actors)');
    const instruments = [elu, inRate, outRate, depth, highWater, actors, restarts, parks, deadLetters, actorRate, actorBusy];
    const callback = async (result: BatchObservableResult): Promise<void> => {
      let stats;
      try {
        stats = await source.read(window, true);
      } catch {
        return; // the system is stopping, or a shard did not answer in time: skip this collection
      }
      for (const thread of stats.window.threads) {
        const attributes = { 'weft.node': node, 'weft.thread': thread.thread };
        const raw = stats.threads.find((each) => each.thread === thread.thread);
        result.observe(elu, thread.elu, attributes);
        result.observe(inRate, thread.messagesInPerSec, attributes);
        result.observe(outRate, thread.messagesOutPerSec, attributes);
        result.observe(depth, thread.mailboxDepth, attributes);
        result.observe(highWater, thread.mailboxHighWater, attributes);
        result.observe(actors, thread.actors, attributes);
        result.observe(restarts, thread.restartsTotal, attributes);
        if (raw !== undefined) {
          result.observe(parks, raw.parks, attributes);
          result.observe(deadLetters, raw.deadLetters, attributes);
        }
      }
      const names = new Map(source.names().map(({ name, pid }) => [`${pid.thread}.${pid.serial}`, name]));
      for (const actor of stats.window.actors) {
        const attributes = { 'weft.node': node, 'weft.thread': actor.thread, 'weft.actor': names.get(`${actor.thread}.${actor.serial}`) ?? `<${node}.${actor.thread}.${actor.serial}>` };
        result.observe(actorRate, actor.messagesPerSec, attributes);
        result.observe(actorBusy, actor.busy, attributes);
      }
    };
    meter.addBatchObservableCallback(callback, instruments);
    return new Telemetry(meter, instruments, callback);
  }

  /** Stops reporting; main's tracing hooks go with the last system that used them. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.meter.removeBatchObservableCallback(this.callback, this.instruments);
    if (--tracingUsers === 0) uninstallTracing();
  }
}
