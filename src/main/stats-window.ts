/**
 * Windowed figures: rates and utilisation over a window of time, made on main from the counters
 * each thread keeps since it started (ThreadStats).
 *
 * Lifetime counters answer "how much since start"; an operator asks "how busy is it now". piscina
 * users hit this with its lifetime histograms (piscina #305: a p99 that takes hours to forget an
 * old spike, and no way to reset it after each export). Here a window is a baseline snapshot: its
 * figures are the differences between now and the baseline, over the time between them, and
 * `reset` moves the baseline to now. Each reader keeps its own window (`system.stats()`'s, the
 * inspect endpoint's, OpenTelemetry's), so one reader's reset never shortens another's window.
 *
 * Peaks cannot be differenced: a thread reports the deepest mailbox since its last report and
 * starts over, and every read of any reader is offered to every window (`Windows.observe`), so
 * each window's peak is the highest of all reads within it.
 *
 * A thread that restarted since the baseline (its `restarts` grew) starts from zero: its counters
 * did too.
 */
import { performance } from 'node:perf_hooks';
import type { ActorMetrics } from '../common/actor-meter.js';
import type { ThreadStats } from '../shm/protocol.js';

/** What a window is made from: every thread's stats at one moment, and its restarts so far. */
export interface Snapshot {
  /** `performance.now()` of the read, ms. */
  at: number;
  threads: ThreadStats[];
  /** Restarts per thread index (main's is always 0). */
  restarts: number[];
}

/** One thread over the window. */
export interface ThreadWindow {
  thread: number;
  /** Event-loop utilisation, 0..1: the share of the window the thread was not idle. */
  elu: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  /** Messages waiting now, and the deepest an actor's mailbox got within the window. */
  mailboxDepth: number;
  mailboxHighWater: number;
  /** Restarts of the thread within the window, and since the system started. */
  restarts: number;
  restartsTotal: number;
  /** Times the thread parked (found nothing to do) within the window. */
  parks: number;
  deadLetters: number;
  actors: number;
}

/** One actor over the window (only with `start({ metrics: { actors: true } })`). */
export interface ActorWindow {
  thread: number;
  serial: number;
  name: string | null;
  messagesPerSec: number;
  /** Time in its handlers within the window, ms, and as a share of the window (0..1). */
  handlerMs: number;
  busy: number;
}

export interface StatsWindowView {
  /** How long the window is, ms (since the last reset, or since the window was opened). */
  ms: number;
  threads: ThreadWindow[];
  actors: ActorWindow[];
}

interface Baseline {
  at: number;
  byThread: Map<number, { stats: ThreadStats; restarts: number }>;
  byActor: Map<string, ActorMetrics>;
}

/** One reader's window. */
export class StatsWindow {
  /** Until the first reset, the window runs from when it was opened, every counter from zero. */
  private baseline: Baseline;
  constructor(openedAt: number) {
    this.baseline = { at: openedAt, byThread: new Map(), byActor: new Map() };
  }

  /** Per thread: the deepest mailbox seen by any read since this window began. */
  private peaks = new Map<number, number>();

  /** A read made (by any reader): its mailbox peaks count in this window. */
  observe(snapshot: Snapshot): void {
    for (const stats of snapshot.threads) this.peaks.set(stats.thread, Math.max(this.peaks.get(stats.thread) ?? 0, stats.mailboxPeak));
  }

  /** The window from its baseline to `snapshot`; with `reset`, the next window starts at `snapshot`. */
  view(snapshot: Snapshot, reset: boolean): StatsWindowView {
    this.observe(snapshot);
    const baseline = this.baseline;
    const ms = Math.max(0, snapshot.at - baseline.at);
    const perSec = (count: number): number => (ms === 0 ? 0 : (count * 1000) / ms);
    const threads: ThreadWindow[] = [];
    const actors: ActorWindow[] = [];
    for (const now of snapshot.threads) {
      const restartsTotal = snapshot.restarts[now.thread] ?? 0;
      const before = baseline.byThread.get(now.thread);
      // Restarted since the baseline (or new): its counters began again at zero.
      const fresh = before === undefined || before.restarts !== restartsTotal;
      const then = fresh ? undefined : before.stats;
      const idle = now.elu.idle - (then?.elu.idle ?? 0);
      const active = now.elu.active - (then?.elu.active ?? 0);
      threads.push({
        thread: now.thread,
        elu: idle + active > 0 ? active / (idle + active) : 0,
        messagesInPerSec: perSec(now.messagesIn - (then?.messagesIn ?? 0)),
        messagesOutPerSec: perSec(now.messagesOut - (then?.messagesOut ?? 0)),
        mailboxDepth: now.mailboxDepth,
        mailboxHighWater: Math.max(this.peaks.get(now.thread) ?? 0, now.mailboxDepth),
        restarts: restartsTotal - (before?.restarts ?? 0),
        restartsTotal,
        parks: now.parks - (then?.parks ?? 0),
        deadLetters: now.deadLetters - (then?.deadLetters ?? 0),
        actors: now.actors,
      });
      for (const actor of now.actorMetrics ?? []) {
        const key = `${now.thread}.${actor.serial}`;
        const was = fresh ? undefined : baseline.byActor.get(key);
        const handlerMs = actor.handlerMs - (was?.handlerMs ?? 0);
        actors.push({
          thread: now.thread,
          serial: actor.serial,
          name: actor.name,
          messagesPerSec: perSec(actor.messages - (was?.messages ?? 0)),
          handlerMs,
          busy: ms === 0 ? 0 : Math.min(1, handlerMs / ms),
        });
      }
    }
    if (reset) this.begin(snapshot);
    return { ms, threads, actors };
  }

  private begin(snapshot: Snapshot): void {
    const byThread = new Map<number, { stats: ThreadStats; restarts: number }>();
    const byActor = new Map<string, ActorMetrics>();
    for (const stats of snapshot.threads) {
      byThread.set(stats.thread, { stats, restarts: snapshot.restarts[stats.thread] ?? 0 });
      for (const actor of stats.actorMetrics ?? []) byActor.set(`${stats.thread}.${actor.serial}`, actor);
    }
    this.baseline = { at: snapshot.at, byThread, byActor };
    this.peaks = new Map();
  }
}

/** Every reader's window, so each read's peaks reach all of them. */
export class Windows {
  private readonly all = new Set<StatsWindow>();

  open(): StatsWindow {
    const window = new StatsWindow(performance.now());
    this.all.add(window);
    return window;
  }

  close(window: StatsWindow): void {
    this.all.delete(window);
  }

  observe(snapshot: Snapshot): void {
    for (const window of this.all) window.observe(snapshot);
  }
}
