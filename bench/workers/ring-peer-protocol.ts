/**
 * What main and the ring-peer worker say to each other (kept apart from the worker file, which
 * starts its loop when imported).
 */
export interface RingPeerData {
  buffer: SharedArrayBuffer;
  mode: 'sink' | 'echo';
  spinMicros: number;
}
export type RingPeerControl = { expect: number } | { stop: true } | { cpu: true };
/** `parks` and `notifies` count the worker's own, during this stream only; `cpuNs` is the worker thread's CPU time so far. */
export type RingPeerReply = { ready: true } | { done: number; outOfOrder: number; parks: number; notifies: number } | { cpuNs: number };

/** The frame kind this benchmark uses; the actor layer will give kinds their meaning. */
export const KIND_DATA = 1;
