// Node b: finds a's cache by its global name, calls it, runs tasks over the cluster, watches a.
import { start } from 'weft';

process.env.NODE_NAME = 'b';
const system = await start({ threads: 2, node: { name: 'b', nats: { servers: 'nats://127.0.0.1:4222' } } });
await system.serve(new URL('./hash.mjs', import.meta.url), { as: 'hash' }).ready; // a's tasks reach this node from here on
await system.awaitNode('a', 10_000);
console.log('b: nodes', system.nodes());

const cache = system.whereisGlobal('cache');                               // an ActorRef; its pid names node a
await cache.call({ type: 'put', key: 'k', value: 42 });
console.log('b: by global name:', await cache.call({ type: 'get', key: 'k' }));
console.log('b: by { name, node }:', await system.call({ name: 'cache', node: 'a' }, { type: 'get', key: 'k' }));

const remote = await system.spawn(new URL('./cache.mjs', import.meta.url), { node: 'a' }); // started on a
console.log('b: spawned', String(remote.pid), '->', await remote.call({ type: 'put', key: 'x', value: 1 }));

const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => system.runOn('any', 'hash', 'sha', `item ${i}`)));
const where = runs.reduce((count, { ranOn }) => ({ ...count, [ranOn]: (count[ranOn] ?? 0) + 1 }), {});
console.log('b: 20 hash tasks ran on', where);

system.monitorNode('a', (why) => console.log(`b: node a is down (${why})`));
const { down } = system.monitor(remote);
down.then(({ reason }) => console.log(`b: the actor b spawned on a is gone: ${reason}`));
console.log('b: stop node a (Ctrl-C in its terminal) to see the nodedown; Ctrl-C here to stop b');
process.on('SIGINT', () => void system.stop().then(() => process.exit(0)));
