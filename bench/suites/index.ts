/**
 * Every suite, in the order `npm run bench` runs them and latest.json lists them. To add one, write
 * `bench/suites/<name>.ts` exporting `suite: Suite` (see `../harness.ts`) and list it here.
 */
import type { Suite } from '../harness.js';
import { suite as ringStream } from './ring-stream.js';
import { suite as ringRoundTrip } from './ring-round-trip.js';
import { suite as ringSpin } from './ring-spin.js';
import { suite as tinyTasks } from './tiny-tasks.js';
import { suite as roundTrip } from './round-trip.js';
import { suite as actorStream } from './actor-stream.js';
import { suite as crashRecovery } from './crash-recovery.js';
import { suite as poolRun } from './pool-run.js';
import { suite as cpuSpeedup } from './cpu-speedup.js';
import { suite as poolBlocking } from './pool-blocking.js';
import { suite as transaction } from './transaction.js';
import { suite as fuseAsk } from './fuse-ask.js';
import { suite as remoteCall } from './remote-call.js';
import { suite as remoteCast } from './remote-cast.js';
import { suite as remoteRun } from './remote-run.js';
import { suite as remoteFailover } from './remote-failover.js';
import { suite as backpressure } from './backpressure.js';
import { suite as stopLatency } from './stop-latency.js';
import { suite as stream } from './stream.js';
import { suite as cancel } from './cancel.js';
import { suite as recycle } from './recycle.js';

export const suites: readonly Suite[] = [ringStream, ringRoundTrip, ringSpin, tinyTasks, roundTrip, actorStream, crashRecovery, poolRun, poolBlocking, cpuSpeedup, transaction, fuseAsk, remoteCall, remoteCast, remoteRun, remoteFailover, backpressure, stopLatency, stream, cancel, recycle];
