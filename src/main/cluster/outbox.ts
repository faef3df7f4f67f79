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
import { BatchWriter } from './wire.js';

/** A batch this big is published at once rather than at the end of the turn (or half the server's max_payload, if less). */
const FLUSH_BYTES = 256 * 1024;

interface Batch {
  writer: BatchWriter;
  /** Where it is published: a node's inbox, or a task subject. */
  subject: string;
  /** The creation of the node the batch is for, as its header says. */
  toCreation: number;
  /** Whether the writer holds ops not yet published. */
  filling: boolean;
}

export class Outbox {
  /** By subject; a writer is kept after its batch is published and reused for the next. */
  private readonly batches = new Map<string, Batch>();
  private readonly filling: Batch[] = [];
  private scheduled = false;
  /** Ops added, and batches published: under load, many ops a batch. */
  ops = 0;
  published = 0;

  private readonly flushBytes: number;

  /** `maxBytes`: the server's max_payload, which no batch may exceed. */
  constructor(
    private readonly self: { cluster: string; node: string; creation: number },
    private readonly publish: (subject: string, bytes: Uint8Array) => void,
    private readonly maxBytes: number,
  ) {
    this.flushBytes = Math.min(FLUSH_BYTES, Math.floor(maxBytes / 2));
  }

  /**
   * Adds `op` to the batch for `subject` (a node's inbox, or a task subject). Throws EncodeError for
   * an op that cannot travel, ClusterError for one larger than the server takes; the batch is then as it was.
   */
  add(subject: string, toCreation: number, op: unknown[]): void {
    let batch = this.batches.get(subject);
    if (batch === undefined) {
      batch = { writer: new BatchWriter(this.header(toCreation), this.maxBytes), subject, toCreation, filling: false };
      this.batches.set(subject, batch);
    } else if (batch.filling && batch.toCreation !== toCreation) {
      this.send(batch); // the node came back as a new life meanwhile
    }
    if (!batch.filling) this.begin(batch, toCreation);
    this.ops++;
    if (!batch.writer.add(op)) {
      // full: what it holds goes now, and the op starts the next batch
      this.send(batch);
      this.begin(batch, toCreation);
      batch.writer.add(op);
    }
    if (batch.writer.size >= this.flushBytes) this.send(batch);
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Forgets `subject` and what waits for it (its node went down). */
  drop(subject: string): void {
    const batch = this.batches.get(subject);
    if (batch === undefined) return;
    this.batches.delete(subject);
    batch.filling = false;
  }

  /** Publishes every batch being filled, now. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const batch of this.filling) if (batch.filling) this.send(batch);
    this.filling.length = 0;
  };

  /** Starts filling `batch` again: a writer that holds a published batch, or one for another life, starts over. */
  private begin(batch: Batch, toCreation: number): void {
    if (batch.writer.count !== 0 || batch.toCreation !== toCreation) batch.writer.reset(this.header(toCreation));
    batch.toCreation = toCreation;
    batch.filling = true;
    this.filling.push(batch);
  }

  private send(batch: Batch): void {
    batch.filling = false;
    if (batch.writer.count === 0) return;
    this.published++;
    this.publish(batch.subject, batch.writer.bytes());
  }

  private header(toCreation: number): { cluster: string; from: string; fromCreation: number; toCreation: number } {
    return { cluster: this.self.cluster, from: this.self.node, fromCreation: this.self.creation, toCreation };
  }
}
