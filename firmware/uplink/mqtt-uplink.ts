import { EventEmitter } from "node:events";
import mqtt, { type IConnackPacket, type MqttClient, type Packet } from "mqtt";
import { errorText, RuntimeError } from "../../kernel/errors.js";
import { child, type Logger } from "../../kernel/log.js";
import type { QueueItem } from "../queue/queue.js";
import { Backoff } from "../../kernel/backoff.js";
import { systemClock, type Clock } from "../../kernel/clock.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { reasonText, refusalCode } from "./reason.js";
import { clientOptions, endGracefully, openConnection } from "./connection.js";
import type { MqttUplinkOptions, SwitchReport, UplinkCounters, UplinkEvents } from "./types.js";
import { ReceiptTracker } from "./receipts.js";
import { receiptTopicFor } from "../../envelope/receipt.js";

/** With receipts required: warn when frames wait this long and no receipt came since the connection. */
const NO_RECEIPT_WARN_MS = 30_000;

export type { MqttUplinkOptions, RefusedEvent, SwitchReport, UplinkCounters, UplinkEvents } from "./types.js";

/** The alternate client id's suffix: a switch connects under the other id, so both can be up at once. */
export const ALT_SUFFIX = ".b";

/** Publish options of every item (one object, not one per message; MQTT.js copies what it needs). */
const QOS1 = { qos: 1 } as const;

/** Longest a received PUBACK waits before it is committed to the queue (see scheduleFlush). */
const ACK_DELAY_MS = 5;

/**
 * Moves queue items to the broker: MQTT v5, QoS 1, mutual TLS. The queue, not MQTT.js, is the
 * durable store: each connection uses a fresh client with `clean: true`, and after a reconnect
 * everything unacked is republished from the queue in id order (at-least-once; MQTT.js never resends
 * on its own because its in-memory store dies with the old client).
 */
export class MqttUplink extends EventEmitter<UplinkEvents> {
  private readonly log: Logger;
  private readonly window: number;
  private readonly retry: Backoff;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private client: MqttClient | undefined;
  private gen = 0; // connection generation: callbacks of a dead connection are ignored
  private connected = false;
  private running = false;
  private everConnected = false;
  private effectiveWindow = 0;
  // Per priority class, the highest queue id sent on this connection (classes are read most urgent
  // first, so one id cannot say where we are in each).
  private cursor = new Map<number, number>();
  private readonly inflight = new Set<number>();
  private pendingAcks: number[] = [];
  private flushScheduled = false;
  private ackTimer: Timer | undefined;
  private pumpScheduled = false;
  private reconnectTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  private drainWaiters: (() => void)[] = [];
  private readonly stats = { published: 0, refused: 0, reconnects: 0, switches: 0 };
  /** The TLS material of the next connection; replaced by switchTo() (identity renewal/rotation). */
  private tls: MqttUplinkOptions["tls"];
  /** Client id of the current connection: the gateway id, or its alternate during a switch (switchTo). */
  private clientId: string;
  /** True while switchTo() lets the old connection's in-flight publishes finish: nothing new is sent on it. */
  private quiescing = false;
  private switching = false;
  /** Sent frames waiting for the receiver's receipt (docs/queue.md "Sent, not yet receipted"). */
  private readonly tracker: ReceiptTracker;
  /** PUBACK reason codes of this connection by message id, read by the publish callback (MQTT.js hides 16). */
  private pubackCodes = new Map<number, number>();
  private receiptTimer: Timer | undefined;
  private connectedMs = 0;
  private warnedNoReceipts = false;
  private notDeliveredLogged = 0;

  /** Does nothing but remember its collaborators; start() connects. */
  constructor(private readonly opts: MqttUplinkOptions) {
    super();
    this.log = child(opts.logger, "uplink");
    this.window = opts.window ?? 256;
    this.retry = new Backoff(opts.backoff ?? { minMs: 500, maxMs: 30_000 }, opts.random);
    this.clock = opts.clock ?? systemClock;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.tls = opts.tls;
    this.clientId = opts.clientId;
    this.tracker = new ReceiptTracker(opts.receipts ?? { mode: "off", gatewayId: opts.clientId, keyOf: () => undefined });
  }

  /** Current counters. */
  counters(): UplinkCounters {
    return { ...this.stats, inflight: this.inflight.size, ...this.tracker.counters(this.clock.nowMs()) };
  }

  /** True while a broker connection is up. */
  isConnected(): boolean {
    return this.connected;
  }

  /** Connects (and keeps reconnecting with backoff until stop()). Resolves at once; see 'connected'. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** These queue items were dropped by the queue's policy: they will get no receipt (see ReceiptTracker.forget). */
  forget(ids: readonly number[]): void {
    this.tracker.forget(ids);
  }

  /** Tells the uplink new items were enqueued. Cheap; call it after every enqueue batch. */
  kick(): void {
    if (!this.connected || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => { this.pumpScheduled = false; this.pump(); });
  }

  /**
   * Stops sending, waits up to `drainTimeoutMs` for PUBACKs of what is in flight, acks those, then
   * closes the connection. Whatever is still unacked stays in the queue for the next start.
   */
  async stop(drainTimeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.reconnectTimer?.cancel();
    this.idleTimer?.cancel();
    this.receiptTimer?.cancel();
    if (this.connected && this.inflight.size > 0) {
      await new Promise<void>((resolve) => {
        const t = this.scheduler.setTimeout(resolve, drainTimeoutMs);
        this.drainWaiters.push(() => { t.cancel(); resolve(); });
      });
    }
    this.flushAcks();
    const c = this.client;
    this.dropConnection();
    // A graceful DISCONNECT, but never wait on a dead socket: force the close after a second.
    if (c) {
      let timer: Timer | undefined;
      const timedOut = new Promise<boolean>((resolve) => { timer = this.scheduler.setTimeout(() => resolve(true), 1000); });
      const ended = c.endAsync(false).then(() => false, () => false);
      if (await Promise.race([ended, timedOut])) c.end(true);
      timer?.cancel();
    }
    this.log.info({ ...this.counters() }, "uplink stopped");
  }

  /**
   * Make-before-break move to new TLS material (a renewed or rotated identity; docs/identity.md):
   *  1. make: a second connection with the new certificate, under the alternate client id (so the
   *     broker does not take the first one over), up to CONNACK;
   *  2. quiesce: nothing new is sent on the old connection; its in-flight publishes get up to
   *     `drainMs` for their PUBACKs (acked ones leave the queue);
   *  3. switch: publishing continues on the new connection from the oldest unacked queue item;
   *  4. break: the old connection is closed with a DISCONNECT.
   * If the new connection fails, the old one keeps going and the error is thrown (nothing changes).
   * With no connection up, the material is simply used by the next (immediate) connect.
   */
  async switchTo(tls: MqttUplinkOptions["tls"], o: { drainMs?: number } = {}): Promise<SwitchReport> {
    if (this.switching) throw new RuntimeError("UPLINK_SWITCHING", "an uplink switch is already in progress");
    const previous = this.tls;
    if (!this.running || !this.connected) {
      this.tls = tls;
      if (this.running) {
        // Whatever connection attempt is pending was made with the old material: start over now.
        this.reconnectTimer?.cancel();
        this.dropConnection();
        this.retry.reset();
        this.connect();
      }
      return { clientId: this.clientId, drainMs: 0, carriedOver: 0, madeBeforeBreak: false };
    }
    this.switching = true;
    try {
      const clientId = this.clientId === this.opts.clientId ? `${this.opts.clientId}${ALT_SUFFIX}` : this.opts.clientId;
      const made = await openConnection(this.opts.url, clientOptions(tls, clientId, this.opts.keepaliveS));
      if (!this.running) {
        // stop() came while the new connection was being made: it is not wanted any more.
        endGracefully(made.client);
        return { clientId: this.clientId, drainMs: 0, carriedOver: 0, madeBeforeBreak: false };
      }
      const t0 = this.clock.nowMs();
      this.quiescing = true;
      if (this.connected && this.inflight.size > 0) {
        await new Promise<void>((resolve) => {
          const t = this.scheduler.setTimeout(resolve, o.drainMs ?? 5000);
          this.drainWaiters.push(() => { t.cancel(); resolve(); });
        });
      }
      const drainMs = this.clock.nowMs() - t0;
      if (!this.running) {
        endGracefully(made.client);
        return { clientId: this.clientId, drainMs, carriedOver: 0, madeBeforeBreak: false };
      }
      const carriedOver = this.inflight.size; // republished on the new connection (the receiver deduplicates)
      const old = this.client;
      this.reconnectTimer?.cancel();
      this.dropConnection(false);
      this.quiescing = false;
      this.tls = tls;
      this.clientId = clientId;
      const gen = this.gen;
      this.client = made.client;
      this.wire(made.client, gen);
      this.stats.switches += 1;
      this.onConnect(made.connack, true);
      if (old) endGracefully(old);
      this.log.info({ clientId, drainMs, carriedOver }, "switched to the new identity's connection; old connection closed");
      return { clientId, drainMs, carriedOver, madeBeforeBreak: true };
    } catch (err) {
      this.tls = previous;
      throw err;
    } finally {
      this.quiescing = false;
      this.switching = false;
      if (this.connected) this.kick();
    }
  }

  private connect(): void {
    const gen = ++this.gen;
    this.log.debug({ url: this.opts.url, attempt: this.retry.attempts }, "connecting");
    const c = mqtt.connect(this.opts.url, clientOptions(this.tls, this.clientId, this.opts.keepaliveS));
    this.client = c;
    c.on("connect", (packet: IConnackPacket) => { if (gen === this.gen) this.onConnect(packet); });
    this.wire(c, gen);
  }

  /** Connection events of the current connection; those of a replaced one are ignored by generation. */
  private wire(c: MqttClient, gen: number): void {
    c.on("error", (err) => {
      if (gen !== this.gen) return;
      const code = (err as { code?: string | number }).code;
      this.log.warn({ err: errorText(err), code }, "connection error");
      if (!this.connected) this.emit("connectFailed", errorText(err), code);
    });
    c.on("disconnect", (packet) => {
      if (gen === this.gen) this.log.warn({ reasonCode: packet.reasonCode }, "broker sent DISCONNECT");
    });
    c.on("close", () => { if (gen === this.gen) this.onClose("connection closed"); });
    // MQTT.js reports PUBACK 16 (No matching subscribers) as success: note every non-zero code here,
    // before the publish callback runs (same packet, same tick).
    c.on("packetreceive", (p: Packet) => {
      if (gen === this.gen && p.cmd === "puback" && p.reasonCode !== undefined && p.reasonCode !== 0 && p.messageId !== undefined) this.pubackCodes.set(p.messageId, p.reasonCode);
    });
    c.on("message", (topic, payload) => {
      if (gen === this.gen && topic === receiptTopicFor(this.opts.clientId)) this.onReceipt(payload);
    });
  }

  private onConnect(packet: IConnackPacket, switched = false): void {
    this.connected = true;
    if (this.everConnected && !switched) this.stats.reconnects += 1;
    this.everConnected = true;
    this.retry.reset();
    const receiveMax = packet.properties?.receiveMaximum ?? 65_535;
    this.effectiveWindow = Math.max(1, Math.min(this.window, receiveMax));
    this.cursor = new Map(); // republish everything unacked, most urgent class first, oldest first
    // ...including what was sent but not receipted, after a reconnect (the broker may have lost it). A
    // switch keeps them: the same broker took them, and their receipts come on the new connection.
    if (!switched) this.tracker.clear();
    this.pubackCodes = new Map();
    this.connectedMs = this.clock.nowMs();
    this.warnedNoReceipts = false;
    this.log.info({ url: this.opts.url, window: this.effectiveWindow, depth: this.opts.queue.depth().count }, "connected");
    this.emit(switched ? "switched" : "connected");
    if (this.tracker.settings.mode === "required") this.subscribeReceipts();
    this.armReceiptTimer();
    this.pump();
  }

  /** Each gateway reads only its own receipt topic (docs/topics.md); QoS 0: a lost receipt is repaired by a resend. */
  private subscribeReceipts(): void {
    const c = this.client;
    const topic = receiptTopicFor(this.opts.clientId);
    c?.subscribe(topic, { qos: 0 }, (err, granted) => {
      const code = granted?.[0]?.qos;
      if (err || code === undefined || code > 2) {
        this.log.error({ topic, reasonCode: code, err: err ? errorText(err) : undefined }, "broker refused the receipt subscription: frames stay queued until receipts arrive; check the broker ACL (pattern read otgw/r1/%u)");
      }
    });
  }

  private armReceiptTimer(): void {
    this.receiptTimer?.cancel();
    const every = Math.max(50, Math.min(1000, this.tracker.resendAfterMs >> 1));
    this.receiptTimer = this.scheduler.setTimeout(() => { this.receiptTick(); if (this.connected && this.running) this.armReceiptTimer(); }, every).unref();
  }

  /** Resends what is overdue, and says so once when a receiver sends no receipts at all. */
  private receiptTick(): void {
    if (!this.connected || !this.running) return;
    const now = this.clock.nowMs();
    const overdue = this.tracker.overdue(now);
    if (overdue.length > 0) {
      this.log.warn({ frames: overdue.length, resendAfterMs: this.tracker.resendAfterMs }, "no receipt for sent frames in time; sending them again");
      this.rewind(overdue);
    }
    const c = this.tracker.counters(now);
    if (this.tracker.settings.mode === "required" && !this.warnedNoReceipts && c.unreceipted > 0 && c.lastReceiptMs < this.connectedMs && now - this.connectedMs >= NO_RECEIPT_WARN_MS) {
      this.warnedNoReceipts = true;
      this.log.warn({ unreceipted: c.unreceipted, unreceiptedBytes: c.unreceiptedBytes, oldestUnreceiptedMs: c.oldestUnreceiptedMs },
        "the receiver sends no receipts: frames stay queued (nothing is lost). Either it predates receipts (upgrade it, or set uplink.receipts: off knowingly: a broker restart can then lose acknowledged frames), or it refuses this gateway's sessions (its quarantine names the reason; a certificate 'not valid at' the session's time means this gateway's clock is off: check it, otgw check)");
    }
  }

  /** Goes back in each class to the lowest of `items`, so they (and what follows them) are sent again. */
  private rewind(items: ReadonlyArray<{ id: number; priority: number }>): void {
    const lowest = new Map<number, number>();
    for (const it of items) lowest.set(it.priority, Math.min(lowest.get(it.priority) ?? it.id, it.id));
    for (const [priority, id] of lowest) {
      this.tracker.rewind(priority, id);
      const at = this.cursor.get(priority);
      if (at !== undefined && at >= id) this.cursor.set(priority, id - 1);
    }
    this.kick();
  }

  private onReceipt(payload: Buffer): void {
    const out = this.tracker.receipt(payload, this.clock.nowMs());
    if (!out.ok) {
      this.log.warn({ reason: out.reason, detail: out.detail }, "receipt refused");
      return;
    }
    if (out.freed.length > 0) {
      for (const id of out.freed) this.pendingAcks.push(id);
      this.scheduleFlush(true);
    }
    if (out.missing.length > 0) {
      this.log.info({ frames: out.missing.length }, "a receipt names frames the receiver is missing; sending them again");
      this.rewind(out.missing);
    }
  }

  private onClose(reason: string): void {
    const wasConnected = this.connected;
    this.dropConnection();
    if (wasConnected) {
      this.log.warn({ reason, ...this.counters() }, "disconnected");
      this.emit("disconnected", reason);
    }
    if (!this.running) return;
    const delay = this.retry.next();
    this.log.info({ delayMs: delay, attempt: this.retry.attempts }, "reconnect scheduled");
    this.reconnectTimer = this.scheduler.setTimeout(() => { if (this.running) this.connect(); }, delay);
  }

  /** Forgets the current connection; its late callbacks are ignored by generation. */
  private dropConnection(end = true): void {
    this.flushAcks(); // PUBACKs already received are real deliveries: record them
    this.connected = false;
    this.inflight.clear();
    this.receiptTimer?.cancel();
    this.releaseDrainWaiters();
    const c = this.client;
    this.client = undefined;
    this.gen += 1;
    this.idleTimer?.cancel();
    if (c && this.running && end) c.end(true);
  }

  /** Fills the window from the queue (urgent classes first, id order inside a class), past what this connection already sent. */
  private pump(): void {
    const c = this.client;
    if (!this.connected || !this.running || !c || this.quiescing) return;
    this.idleTimer?.cancel();
    const gen = this.gen;
    try {
      // Re-check the connection each round: if MQTT.js fails publishes synchronously while its socket
      // closes, the window never fills and this loop would otherwise walk the whole queue.
      while (this.inflight.size < this.effectiveWindow && c.connected && gen === this.gen) {
        const items = this.opts.queue.peek(this.effectiveWindow - this.inflight.size, this.cursor);
        if (items.length === 0) break;
        for (const item of items) {
          // After a rewind, a frame still in flight is not sent twice (its PUBACK is still to come), and
          // after a switch a frame waiting for its receipt is not sent again.
          if (this.inflight.has(item.id) || this.tracker.has(item.id)) this.cursor.set(item.priority, item.id);
          else this.send(c, gen, item);
        }
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    // Fallback for producers that forget kick(): one cheap peek per idle period, not a busy loop.
    this.idleTimer = this.scheduler.setTimeout(() => this.pump(), this.opts.idleMs ?? 1000);
  }

  private send(c: MqttClient, gen: number, item: QueueItem): void {
    this.cursor.set(item.priority, item.id);
    this.inflight.add(item.id);
    c.publish(item.topic, item.payload, QOS1, (err, packet) => {
      if (gen !== this.gen) return; // that connection is gone; the item is republished from the queue
      this.inflight.delete(item.id);
      if (!err) {
        const mid = (packet as { messageId?: number } | undefined)?.messageId;
        const rc = mid === undefined ? undefined : this.pubackCodes.get(mid);
        if (mid !== undefined) this.pubackCodes.delete(mid);
        const delivered = rc === undefined || rc === 0;
        if (!delivered) this.notDelivered(item, rc);
        if (this.tracker.acknowledged(item, this.clock.nowMs(), delivered)) this.pendingAcks.push(item.id);
        this.scheduleFlush();
        return;
      }
      const code = refusalCode(err);
      if (code !== undefined) this.refuse(item, code);
      else if (c.connected) this.log.warn({ id: item.id, topic: item.topic, err: errorText(err) }, "publish failed on a live connection; retried after the next reconnect");
      else this.log.debug({ id: item.id, err: errorText(err) }, "publish not acknowledged; will resend after reconnect");
    });
  }

  /**
   * PUBACK below 0x80 but not 0, e.g. 16 No matching subscribers (the receiver's subscription is not
   * back yet after a broker restart): the broker took the frame and dropped it. Not a delivery: the frame
   * stays in the queue and is sent again (after resendAfterMs, or when a receipt names it missing).
   */
  private notDelivered(item: QueueItem, reasonCode: number | undefined): void {
    // The first of a burst, then every 1000th: a broker restart can answer thousands of these.
    if (this.notDeliveredLogged++ % 1000 === 0) {
      this.log.warn({ topic: item.topic, id: item.id, reasonCode, reasonText: reasonText(reasonCode ?? 0), seen: this.notDeliveredLogged }, "broker acknowledged without delivering (no subscriber yet); frame kept and sent again");
    }
  }

  private refuse(item: QueueItem, reasonCode: number): void {
    const text = reasonText(reasonCode);
    this.stats.refused += 1;
    // Topic, id and reason only: the payload never reaches a log line.
    this.log.error({ topic: item.topic, id: item.id, reasonCode, reasonText: text }, "broker refused publish; item dead-lettered");
    try {
      this.opts.queue.deadLetter(item.id, `PUBACK ${reasonCode} ${text}`);
    } catch (err) {
      this.fail(err);
    }
    this.emit("refused", { topic: item.topic, id: item.id, reasonCode, reasonText: text });
    this.scheduleFlush();
  }

  /**
   * A PUBACK frees its window slot at once (the refill does not wait for the commit), while acks are
   * committed in batches: half a window, or whatever arrived within ACK_DELAY_MS, in one transaction.
   * Fewer, larger transactions; a crash may lose those few acks, whose items are then sent again
   * (at-least-once; the receiver deduplicates).
   */
  private scheduleFlush(force = false): void {
    this.kick();
    if (this.flushScheduled) return;
    if (!force && this.inflight.size > 0 && this.pendingAcks.length < Math.max(1, this.effectiveWindow >> 1)) {
      this.ackTimer ??= this.scheduler.setTimeout(() => { this.ackTimer = undefined; this.scheduleFlush(true); }, ACK_DELAY_MS).unref();
      return;
    }
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushAcks();
      if (this.inflight.size === 0) this.releaseDrainWaiters();
      this.pump();
    });
  }

  private flushAcks(): void {
    if (this.pendingAcks.length === 0) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    try {
      this.opts.queue.ack(ids);
    } catch (err) {
      // Delivered is delivered: keep the ids and commit them later (e.g. once a full disk has room).
      // Once stopped, they are simply sent again by the next run (the receiver deduplicates).
      if (this.running) this.pendingAcks = ids.concat(this.pendingAcks);
      if (this.running) this.ackTimer ??= this.scheduler.setTimeout(() => { this.ackTimer = undefined; this.scheduleFlush(true); }, 250).unref();
      this.fail(err);
      return;
    }
    this.stats.published += ids.length;
    this.emit("published", ids.length);
  }

  private releaseDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  private fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(errorText(err));
    this.log.error({ err: e.message }, "uplink error");
    if (this.listenerCount("error") > 0) this.emit("error", e);
  }
}
