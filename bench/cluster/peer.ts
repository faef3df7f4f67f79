/**
 * The other process of the cluster suites (started by ./peers.ts), in one of three roles:
 *
 *   weft <name> <natsUrl> [fibModule]   a weft node hosting `adder` and `sink` on its shard, and
 *                                       serving tasks of fibModule as 'fib' when given
 *
 * `<natsUrl>` may list several servers, comma-separated: the client tries them in that order
 * (noRandomize), so a suite decides which server of a NATS cluster each process is on.
 *   nats-echo <natsUrl>                 bare NATS: answers requests on bench.echo with a + b
 *   nats-sink <natsUrl>                 bare NATS: counts messages on bench.cast and checks their ids
 *                                       run 0, 1, 2…; tells { count, outOfOrder } on bench.count
 *
 * It says 'ready' over IPC once it can be used, and exits when its parent goes away.
 */
import { pack, unpack } from 'msgpackr';
import { start } from '../../src/main/index.js';

const [role, ...args] = process.argv.slice(2);

/** One server, or a comma-separated list tried in order (reconnects too). */
function natsOptions(servers: string): { servers: string[]; noRandomize: boolean; reconnectTimeWait: number; maxReconnectAttempts: number } {
  return { servers: servers.split(','), noRandomize: true, reconnectTimeWait: 50, maxReconnectAttempts: -1 };
}
process.on('disconnect', () => process.exit(0));

if (role === 'weft') {
  const [name, servers, fibModule] = args;
  const system = await start({ threads: 1, node: { name: name!, nats: natsOptions(servers!), globalNames: false } });
  await system.spawn(new URL('../actors/adder.js', import.meta.url), { name: 'adder', thread: 1 });
  await system.spawn(new URL('../actors/stream-sink.js', import.meta.url), { name: 'sink', thread: 1 });
  if (fibModule !== undefined) await system.serve(fibModule, { as: 'fib' }).ready; // before the suite sends its first task
} else if (role === 'nats-echo' || role === 'nats-sink') {
  // loaded here: the weft role does not need it directly (the suites check it is installed first)
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect(natsOptions(args[0]!));
  if (role === 'nats-echo') {
    nc.subscribe('bench.echo', {
      callback: (_error, message) => {
        const { a, b } = unpack(message.data) as { a: number; b: number };
        message.respond(pack(a + b));
      },
    });
  } else {
    // ids run 0, 1, 2… across every stream the suite sends, so any gap or swap is counted
    let count = 0;
    let outOfOrder = 0;
    nc.subscribe('bench.cast', {
      callback: (_error, message) => {
        const { id } = unpack(message.data) as { id: number };
        if (id !== count) outOfOrder++;
        count++;
      },
    });
    nc.subscribe('bench.count', {
      callback: (_error, message) => {
        message.respond(pack({ count, outOfOrder }));
      },
    });
  }
  await nc.flush();
} else {
  throw new Error(`unknown role ${role}`);
}
process.send!('ready');
