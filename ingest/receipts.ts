import type { MqttClient } from "mqtt";
import type { Logger } from "../kernel/log.js";
import type { Scheduler, Timer } from "../kernel/scheduler.js";
import type { Clock } from "../kernel/clock.js";
import { encodeReceipt, receiptTopicFor } from "../envelope/receipt.js";
import { receiptsOf } from "../envelope/verify/receipts.js";
import type { Verifier } from "../envelope/verify/verifier.js";
import type { SqliteVerifierState } from "./verifier-state.js";

/** Receipt batching of one receiver (docs/ingest.md "Receipts"). */
export interface ReceiptOptions {
  /** A session with news gets at most one receipt per interval (default 200 ms). */
  intervalMs: number;
  /**
   * ...or one as soon as this many of its frames were committed since its last receipt (default 200):
   * while a backlog streams in, MQTT.js hands over message after message without letting timers run.
   */
  everyFrames: number;
}

/** Defaults of {@link ReceiptOptions}. */
export const RECEIPT_DEFAULTS: ReceiptOptions = { intervalMs: 200, everyFrames: 200 };

/**
 * Sends receipts after the receiver's commit: sessions touched by a committed frame (accepted, or
 * refused as a replay: the gateway resends what it has no receipt for, so it needs one) are marked,
 * and one receipt per marked session goes out per interval, computed from the committed session
 * record. QoS 0: a lost receipt is repaired by the next one, or by the gateway's resend (a replay here).
 */
export class ReceiptSender {
  private readonly dirty = new Map<string, number>();
  private timer: Timer | undefined;
  private lastFlushMs = 0;
  readonly stats = { receipts: 0, receiptsNoKey: 0 };

  constructor(
    private readonly o: ReceiptOptions,
    private readonly verifier: Verifier,
    private readonly state: SqliteVerifierState,
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly client: () => MqttClient | null,
  ) {}

  /** A frame of `sessionIdHex` was committed (call after the transaction). */
  committed(sessionIdHex: string): void {
    const n = (this.dirty.get(sessionIdHex) ?? 0) + 1;
    this.dirty.set(sessionIdHex, n);
    if (n >= this.o.everyFrames) {
      this.dirty.delete(sessionIdHex);
      this.send(sessionIdHex);
    }
    // The timer alone is not enough: while a backlog streams in, MQTT.js hands over message after
    // message in one run of the event loop and timers wait until it is through.
    if (this.clock.nowMs() - this.lastFlushMs >= this.o.intervalMs) {
      this.flush();
      return;
    }
    this.timer ??= this.scheduler.setTimeout(() => { this.timer = undefined; this.flush(); }, this.o.intervalMs);
  }

  /** Sends a receipt for every marked session now. */
  flush(): void {
    this.lastFlushMs = this.clock.nowMs();
    const ids = [...this.dirty.keys()];
    this.dirty.clear();
    for (const id of ids) this.send(id);
  }

  /** Stops the timer; marked sessions are dropped (the gateway resends, and the next run receipts the replays). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.dirty.clear();
  }

  private send(sessionIdHex: string): void {
    const c = this.client();
    const rec = this.state.committed(sessionIdHex);
    const key = this.verifier.receiptKey(sessionIdHex);
    if (!rec) return;
    if (!key) {
      // Keys evicted from memory (more than 4096 live sessions): the next frame of the session restores them.
      this.stats.receiptsNoKey++;
      return;
    }
    if (!c?.connected) return; // the gateway resends, and its replays mark the session again
    for (const r of receiptsOf(rec)) {
      c.publish(receiptTopicFor(rec.gatewayId), encodeReceipt(r, key), { qos: 0 }, (err) => {
        if (err) this.log.debug({ gatewayId: rec.gatewayId, err: err.message }, "receipt not sent");
      });
      this.stats.receipts++;
    }
  }
}
