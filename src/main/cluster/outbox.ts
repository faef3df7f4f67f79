/**
 * The ops main sends to each other node, gathered into one batch per node (wire.ts) and published
 * when main's current piece of work ends (a microtask), or at once when a batch grows past
 * `FLUSH_BYTES`. Under load this turns thousands of casts into a few publishes; a lone call still
 * leaves within the same turn of the event loop.
 *
 * Order: ops to one node are added and published in the order they were sent, and NATS keeps the
 * order of one connection's messages on one subject, so a sender's messages to one actor arrive
 * in order (Erlang's guarantee across nodes).
 */
import { BatchWriter, type BatchHeader } from './wire.js';

/** A batch this big is published at once rather than at the end of the turn. */
const FLUSH_BYTES = 256 * 1024;

export class Outbox {
  private readonly batches = new Map<string, { writer: BatchWriter; subject: string }>();
  private scheduled = false;

  constructor(
    private readonly self: { cluster: string; node: string; creation: number },
    private readonly publish: (subject: string, bytes: Uint8Array) => void,
  ) {}

  /** Adds `op` to the batch for `subject` (a node's inbox, or a task subject). Throws EncodeError for an op that cannot travel. */
  add(subject: string, toCreation: number, op: unknown[]): void {
    let batch = this.batches.get(subject);
    if (batch === undefined) {
      const header: BatchHeader = { cluster: this.self.cluster, from: this.self.node, fromCreation: this.self.creation, toCreation };
      batch = { writer: new BatchWriter(header), subject };
      this.batches.set(subject, batch);
    }
    batch.writer.add(op);
    if (batch.writer.size >= FLUSH_BYTES) {
      this.batches.delete(subject);
      this.publish(subject, batch.writer.bytes());
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Drops what is waiting for `subject` (its node went down). */
  drop(subject: string): void {
    this.batches.delete(subject);
  }

  /** Publishes every waiting batch now. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const [subject, batch] of this.batches) {
      if (batch.writer.count !== 0) this.publish(subject, batch.writer.bytes());
    }
    this.batches.clear();
  };
}
