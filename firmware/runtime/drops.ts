import type { Logger } from "../../kernel/log.js";
import { child } from "../../kernel/log.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import type { DropReason } from "../queue/queue.js";

/** Dropped data frames of one stream, as counted by the gateway and audited. */
export interface StreamDrops {
  count: number;
  bytes: number;
  byReason: Partial<Record<DropReason, number>>;
}

export interface DropLedgerOptions {
  logger: Logger;
  /** Writes one audit entry (AUDIT_EVENTS.queueDropped) for one stream's drops since the last one. */
  audit(stream: string, data: { count: number; bytes: number; reason: DropReason }): void;
  /** How often pending drops are audited (ms, default 1000). */
  everyMs?: number;
  /** Runs the audit period (default: the system's). */
  scheduler?: Scheduler;
}

/**
 * Counts every dropped data frame by stream and reason, and audits them in summaries: one entry per
 * stream and reason per period, not one per frame, so a long overflow cannot flood the audit stream
 * (which itself travels through the same queue).
 */
export class DropLedger {
  private readonly log: Logger;
  readonly byStream = new Map<string, StreamDrops>();
  private pending = new Map<string, { stream: string; reason: DropReason; count: number; bytes: number }>();
  private timer: Timer | null = null;
  total = 0;

  constructor(private readonly o: DropLedgerOptions) {
    this.log = child(o.logger, "drops");
  }

  start(): void {
    this.timer = (this.o.scheduler ?? systemScheduler).setInterval(() => this.flush(), this.o.everyMs ?? 1000).unref();
  }

  /** Records `count` frames (`bytes` payload bytes) of `stream` dropped for `reason`. */
  record(stream: string, reason: DropReason, count: number, bytes: number): void {
    if (count <= 0) return;
    this.total += count;
    const s = this.byStream.get(stream) ?? { count: 0, bytes: 0, byReason: {} };
    s.count += count;
    s.bytes += bytes;
    s.byReason[reason] = (s.byReason[reason] ?? 0) + count;
    this.byStream.set(stream, s);
    const key = `${stream}\u0000${reason}`;
    const p = this.pending.get(key) ?? { stream, reason, count: 0, bytes: 0 };
    p.count += count;
    p.bytes += bytes;
    this.pending.set(key, p);
  }

  /** Audits and logs what was dropped since the last flush. */
  flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (const p of batch) {
      this.log.warn({ stream: p.stream, reason: p.reason, count: p.count, bytes: p.bytes }, "queue dropped data frames (the receiver will report a sequence gap)");
      try {
        this.o.audit(p.stream, { count: p.count, bytes: p.bytes, reason: p.reason });
      } catch {
        // The audit log is unwritable (e.g. the disk is full): keep the summary for the next flush.
        const key = `${p.stream}\u0000${p.reason}`;
        const q = this.pending.get(key) ?? { ...p, count: 0, bytes: 0 };
        q.count += p.count;
        q.bytes += p.bytes;
        this.pending.set(key, q);
      }
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.flush();
  }
}
