/**
 * weft's public entry (`import … from 'weft'`): start a system, spawn actors and talk to them; and,
 * below that, the message path itself (rings, endpoints, codec) for those who build on it.
 */
export { start, System, isThreadDown, type SpawnOptions, type DeadLetter, type ActorExit, type SystemEvents, type Monitor, type RemoteName, type ClusterStats, type NodeDownWhy, type StatsOptions, type SystemStats } from './system.js';
export type { NodeOptions } from './cluster/node-options.js';
export type { NatsConnectOptions } from './cluster/nats-types.js';
export type { Unserve } from './cluster/remote-tasks.js';
export { nodePermissions, type NatsPermissions } from './cluster/permissions.js';
export type { ThreadDownCause, ThreadRestart, RecycleCause } from './root-supervisor.js';
export type { TaskOptions } from '../common/task-signal.js';
export { ActorRef, type CallOptions } from '../common/actor-ref.js';
export { SupervisorRef, child, supervisorChild, type ChildSpec, type SupervisorSpec, type SuperviseOptions } from '../common/supervisor-ref.js';
export type { Strategy, Restart, Shutdown, ChildInfo, ChildCounts } from '../common/supervisor.js';
export type { SupervisionEvent } from '../common/supervision-events.js';
export type { StartOptions } from './options.js';
export { ThreadPool, type ThreadPoolOptions, type RunOptions, type StreamRunOptions, type BroadcastOptions, type CloseOptions, type ThreadPoolEvents, type PoolHistogram, type HistogramSummary } from './thread-pool.js';
export type { TaskStream, StreamOptions } from '../common/stream.js';
export type { TaskSignal, AbortEmitter, SystemRunOptions, SystemStreamOptions } from './task-signal.js';
export { move } from './move.js';
export { isWorkerThread, workerData } from '../common/worker-state.js';
export { moduleUrl } from '../common/module-url.js';
export type { MapOptions } from './map.js';
export { Fuse } from '../common/fuse.js';
export type { FuseInstallOptions } from './fuse-options.js';
export { PoolRef, type PoolOptions, type CheckoutOptions, type PoolStatus } from '../common/pool-ref.js';
export type { Placement } from '../shm/placement.js';
export type { Actor, AnyActor, ActorContext, ActorSpawnOptions, Down, NodeDown, CallContext, ExitReason, ReplyTo, ArgsOf, CallOf, ReplyOf, CastOf, InfoOf, StreamOf, YieldOf, StreamSource } from '../common/actor.js';
export type { ActorStreamOptions } from '../common/actor-stream-consumer.js';
export { RingSet, DEFAULT_RING_CAPACITY, type RingSetOptions } from '../shm/ring-set.js';
export { Endpoint, interruptThread, type EndpointOptions, type EndpointStats, type MessageHandler } from '../shm/endpoint.js';
export { RingProducer, RingConsumer, ringBytes, type RingRegion, type FrameHandler } from '../shm/ring.js';
export { MessageEncoder, MessageDecoder } from '../shm/codec.js';
export { Pid, pidEquals, LOCAL_NODE } from '../shm/pid.js';
export type { ThreadStats, DeadLetterReason } from '../shm/protocol.js';
export type { MailboxOptions, MailboxOverflow } from '../common/mailbox.js';
export type { ThreadWindow, ActorWindow, StatsWindowView } from './stats-window.js';
export type { ActorMetrics } from '../common/actor-meter.js';
export type { InspectReport } from './inspect-server.js';
export {
  WeftError,
  EncodeError,
  DecodeError,
  InvalidArgumentError,
  InvalidOptionRangeError,
  InvalidOptionTypeError,
  RingCorruptError,
  CallTimeoutError,
  ExitError,
  NoProcError,
  SpawnError,
  SystemStoppedError,
  AlreadyRegisteredError,
  ChildError,
  MaxChildrenError,
  ModuleError,
  AbortError,
  QueueFullError,
  MailboxFullError,
  PoolClosedError,
  CheckoutTimeoutError,
  FuseError,
  NodeDownError,
  ClusterError,
  ActorExitedError,
  InspectError,
  NotIterableError,
  MissingPackageError,
  ErrorCodes,
  isWeftError,
  type ErrorCode,
} from '../shm/errors.js';
