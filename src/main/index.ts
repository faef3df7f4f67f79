/**
 * weft's public entry (`import … from 'weft'`). For now it is the message path that the actor layer
 * is built on: rings, the ring set and endpoints, the codec, pids and the error classes.
 */
export { RingSet, DEFAULT_RING_CAPACITY, type RingSetOptions } from '../shm/ring-set.js';
export { Endpoint, type EndpointOptions, type EndpointStats, type MessageHandler } from '../shm/endpoint.js';
export { RingProducer, RingConsumer, ringBytes, type RingRegion, type FrameHandler } from '../shm/ring.js';
export { MessageEncoder, MessageDecoder } from '../shm/codec.js';
export { Pid, pidEquals, LOCAL_NODE } from '../shm/pid.js';
export {
  WeftError,
  EncodeError,
  DecodeError,
  InvalidArgumentError,
  RingCorruptError,
  ErrorCodes,
  isWeftError,
  type ErrorCode,
} from '../shm/errors.js';
