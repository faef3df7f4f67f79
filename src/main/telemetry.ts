/** placeholder */
import type { StatsWindow } from './stats-window.js';
import type { Observability } from './observability.js';
export class Telemetry {
  static async start(_node: string, _window: StatsWindow, _source: Observability): Promise<Telemetry | undefined> {
    return undefined;
  }
  stop(): void {}
}
