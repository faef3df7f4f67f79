// Node a: holds the cluster-wide name 'cache', and serves hash tasks.
import { start } from 'weft';

process.env.NODE_NAME = 'a';
// allowSpawn: the modules other nodes may spawn here (none by default: spawning runs a module's code)
const system = await start({ threads: 2, node: { name: 'a', nats: { servers: 'nats://127.0.0.1:4222' }, allowSpawn: [new URL('./cache.mjs', import.meta.url)] } });
await system.spawn(new URL('./cache.mjs', import.meta.url), { name: 'cache', global: true });
await system.serve(new URL('./hash.mjs', import.meta.url), { as: 'hash' }).ready; // b's tasks reach this node from here on
system.on('nodeup', ({ node }) => console.log(`a: ${node} joined; nodes: ${system.nodes().join(', ')}`));
system.on('nodedown', ({ node, why }) => console.log(`a: ${node} left (${why})`));
console.log('a: up; press Ctrl-C to stop');
process.on('SIGINT', () => void system.stop().then(() => process.exit(0)));
