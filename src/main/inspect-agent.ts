/**
 * The actor a cluster node with an inspect endpoint runs on main under `INSPECT_AGENT`, so that
 * another node's endpoint can ask it for this node's report through the cluster's ordinary
 * `call({ name, node })`: one `weft top` then shows every node. No new wire op: the cluster already
 * carries calls by name.
 *
 * It runs on main (thread 0), in the same module realm as the System that spawned it, and finds
 * that System's figures in `sources`, keyed by the node's life (name and creation), since a
 * process may hold several systems.
 */
import { defineActor } from '../common/actor.js';

/** The name the agent is registered under on its node. */
export const INSPECT_AGENT = 'weft:inspect';

/** What answers a peer's `'report'` call: the node's report in a window of the agent's own. */
export type ReportSource = () => Promise<unknown>;

const sources = new Map<string, ReportSource>();

export function agentKey(node: string, creation: number): string {
  return `${node}#${creation}`;
}

export function provideReports(key: string, source: ReportSource): void {
  sources.set(key, source);
}

export function withdrawReports(key: string): void {
  sources.delete(key);
}

export default defineActor({
  init: () => null,
  handleCall: async (msg: 'report', state, ctx) => {
    const source = sources.get(agentKey(ctx.self.node, ctx.self.creation));
    if (msg !== 'report' || source === undefined) return { reply: null, state };
    return { reply: await source(), state };
  },
});
