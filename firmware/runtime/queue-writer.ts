import { QueueError, errorText } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/log.js";
import { child } from "../../kernel/log.js";
import type { Queue } from "../queue/queue.js";
import type { DropLedger } from "./drops.js";
import type { OutboxItem } from "./outbox.js";
import { sessionMarks } from "./session-marks.js";

export interface QueueWriterOptions {
  queue: Queue;
  drops: DropLedger;
  logger: Logger;
  /** Called after each commit with the stored items and their queue ids. */
  onStored(items: readonly OutboxItem[], ids: readonly number[]): void;
}

/**
 * The outbox's writer. When the disk is full and the queue could not make room (docs/queue.md):
 * the batch's data frames are dropped and counted (reason "disk-full"), while its control frames
 * (session-opens, checkpoints: few and small) are held in memory and written first as soon as a write
 * succeeds again, so every session stays verifiable and every stream stays in order. The HAL is never
 * blocked and memory stays bounded by the control frames alone.
 */
export class QueueWriter {
  private readonly log: Logger;
  private held: OutboxItem[] = [];
  private fullSince: number | null = null;
  private failures = 0;

  constructor(private readonly o: QueueWriterOptions) {
    this.log = child(o.logger, "queue");
  }

  /** Control frames waiting for disk space. */
  get pending(): number {
    return this.held.length;
  }

  /** Throws (so the outbox keeps the batch and retries) only for failures other than a full disk. */
  write(items: OutboxItem[]): void {
    const batch = this.held.length > 0 ? [...this.held, ...items] : items;
    let ids: number[];
    try {
      // The sessions' committed positions go in the same transaction as the frames (session-marks.ts).
      ids = this.o.queue.enqueue(batch.map(({ stream, topic, priority, payload, data }) => ({ stream, topic, priority, payload, control: !data })), sessionMarks(batch));
    } catch (err) {
      if (!(err instanceof QueueError) || err.code !== "QUEUE_FULL") throw err;
      this.held = batch.filter((it) => !it.data);
      const perStream = new Map<string, { count: number; bytes: number }>();
      for (const it of batch) {
        if (!it.data) continue;
        const s = perStream.get(it.stream) ?? { count: 0, bytes: 0 };
        s.count++;
        s.bytes += it.payload.length;
        perStream.set(it.stream, s);
      }
      for (const [stream, s] of perStream) this.o.drops.record(stream, "disk-full", s.count, s.bytes);
      this.failures++;
      if (this.fullSince === null) {
        this.fullSince = Date.now();
        this.log.error({ err: errorText(err), heldControlFrames: this.held.length }, "disk full: the queue cannot store new frames; data frames are dropped and counted until space returns");
      }
      return;
    }
    if (this.fullSince !== null) {
      this.log.warn({ fullForMs: Date.now() - this.fullSince, failedWrites: this.failures }, "disk space is back: the queue stores frames again");
      this.fullSince = null;
      this.failures = 0;
    }
    this.held = [];
    this.o.onStored(batch, ids);
  }
}
