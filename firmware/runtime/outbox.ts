/**
 * Keeps sealed frames in the order they were produced while some of them (session-opens and
 * checkpoints) are still being signed, and writes each ready prefix into the queue in one transaction
 * (group commit). Data frames are sealed synchronously; only the signature of a checkpoint is awaited,
 * so a checkpoint lands exactly after the data frame it covers, as the receiver expects.
 */
import { systemScheduler, type Scheduler } from "../../kernel/scheduler.js";

export interface OutboxItem {
  stream: string;
  topic: string;
  priority: number;
  /** True for data frames (counted as messages); session-open and checkpoint frames are control. */
  data: boolean;
  payload: Buffer;
}

/** A frame whose payload (a signature) is still being produced. Ready frames sit in the slots as they are. */
class PendingSlot {
  payload: Buffer | null = null;
  failed: unknown = undefined;
  constructor(readonly item: Omit<OutboxItem, "payload">) {}
}

type Slot = OutboxItem | PendingSlot;

export interface OutboxOptions {
  /** Persist a ready batch (one transaction). Throwing keeps the batch for the next flush. */
  write(items: OutboxItem[]): void;
  /** A control frame could not be produced (e.g. the signer failed): the caller audits it. */
  onFailure(item: Omit<OutboxItem, "payload">, err: unknown): void;
  /** Called after each successful write, e.g. to wake the uplink. */
  onWritten?(count: number): void;
  /** Largest batch written in one transaction. */
  maxBatch?: number;
  /** Runs the retry after a failed write (default: the system's). */
  scheduler?: Scheduler;
}

export class Outbox {
  private readonly slots: Slot[] = [];
  private head = 0;
  private scheduled = false;
  private readonly idle: Array<() => void> = [];

  constructor(private readonly opts: OutboxOptions) {}

  /** Adds a frame that is ready now. */
  push(item: OutboxItem): void {
    this.slots.push(item);
    this.schedule();
  }

  /** Reserves the next position for a frame still being produced (a signature in flight). */
  pushPending(meta: Omit<OutboxItem, "payload">, frame: Promise<Buffer>): void {
    const slot = new PendingSlot(meta);
    this.slots.push(slot);
    frame.then(
      (buf) => {
        slot.payload = buf;
        this.schedule();
      },
      (err: unknown) => {
        slot.failed = err ?? new Error("unknown failure");
        this.schedule();
      },
    );
  }

  /** Frames not yet written to the queue. */
  get pending(): number {
    return this.slots.length - this.head;
  }

  /** Resolves when every frame pushed so far has been written (or failed). */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes the ready prefix; stops at the first frame still being signed. */
  flush(): void {
    const max = this.opts.maxBatch ?? 2048;
    for (;;) {
      const batch: OutboxItem[] = [];
      let i = this.head;
      while (i < this.slots.length && batch.length < max) {
        const s = this.slots[i]!;
        if (s instanceof PendingSlot) {
          if (s.failed !== undefined) {
            this.opts.onFailure(s.item, s.failed);
            i++;
            continue;
          }
          if (s.payload === null) break;
          batch.push({ ...s.item, payload: s.payload });
        } else batch.push(s);
        i++;
      }
      if (batch.length > 0) {
        try {
          this.opts.write(batch);
        } catch {
          // Keep the frames: the queue reported the problem itself; retry on the next flush.
          (this.opts.scheduler ?? systemScheduler).setTimeout(() => this.schedule(), 250).unref();
          return;
        }
        this.opts.onWritten?.(batch.length);
      }
      this.head = i;
      if (this.head > 4096 && this.head * 2 > this.slots.length) {
        this.slots.splice(0, this.head);
        this.head = 0;
      }
      if (batch.length < max) break;
    }
    if (this.pending === 0) for (const r of this.idle.splice(0)) r();
  }
}
