/** Single-machine use needs no NATS: without `node`, nothing of the NATS client is loaded. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodePermissions, start } from '../../src/main/index.js';
import { ClusterError } from '../../src/shm/errors.js';
import { fixtureUrl } from '../helpers.js';
import type Wanderer from '../fixtures/actors/wanderer.js';

describe('a system without `node`', () => {
  it('loads nothing of NATS', () => {
    const report = JSON.parse(execFileSync(process.execPath, [fileURLToPath(fixtureUrl('cluster/lone'))], { encoding: 'utf8' })) as { before: boolean; after: boolean; nodes: string[] };
    expect(report).toEqual({ before: false, after: true, nodes: ['local'] });
  });

  it('answers cluster calls with ClusterError, and bad node options with InvalidArgumentError', async () => {
    const system = await start({ threads: 1 });
    try {
      expect(() => system.whereisGlobal('x')).toThrow(ClusterError);
      expect(() => system.serve(fixtureUrl('tasks/where'))).toThrow(ClusterError);
      await expect(system.runOn('any', 'where', 'where')).rejects.toBeInstanceOf(ClusterError);
      await expect(system.spawn(fixtureUrl('actors/counter'), { args: 0, node: 'elsewhere' } as never)).rejects.toBeInstanceOf(ClusterError);
      // an actor's monitorNode: ClusterError in its handler
      const wanderer = await system.spawn<typeof Wanderer>(fixtureUrl('actors/wanderer'), { thread: 1 });
      await expect(wanderer.call({ type: 'watchNode', node: 'b' })).rejects.toMatchObject({ code: 'WEFT_ERR_EXIT' });
    } finally {
      await system.stop();
    }
    await expect(start({ threads: 1, node: { name: 'has.dot', nats: {} } })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ARGUMENT' });
    await expect(start({ threads: 1, node: { name: 'a' } as never })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ARGUMENT' });
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, downAfter: 5, heartbeat: 100 } })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ARGUMENT' });
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, taskTimeout: 0 } })).rejects.toThrow(/`node.taskTimeout` to be a number of ms from 1/);
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, allowSpawn: 'file:///x.js' as never } })).rejects.toThrow(/`node.allowSpawn` to be a list of module URLs or a function/);
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, allowSpawn: ['data:text/javascript,1'] } })).rejects.toThrow(/every entry of `node.allowSpawn` to be a file: module URL/);
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, allowSpawn: ['not a url'] } })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ARGUMENT' });
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, maxRemoteTimeout: Infinity } })).rejects.toThrow(/`node.maxRemoteTimeout` to be a number of ms from 1/);
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, maxQueue: 0 } })).rejects.toThrow(/`node.maxQueue` to be an integer from 1 to 2147483647, got: `0` \(number\)/);
    await expect(start({ threads: 1, node: { name: 'a', nats: {}, maxQueue: 1.5 } })).rejects.toThrow(/`node.maxQueue` to be an integer/);
    expect(() => nodePermissions({ node: 'a.>' })).toThrow(/expected `node` to be 1 to 64 letters, digits, `_` or `-`, got: `"a.>"` \(string\)/);
    expect(nodePermissions({ node: 'a', cluster: 'c' }).publish.allow.slice(0, 3)).toEqual(['weft.c.hb.a', 'weft.c.n.*.a', 'weft.c.t.*.*.a']);
  });
});
