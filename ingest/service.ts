import { EventEmitter } from "node:events";
import mqtt, { type MqttClient, type IPublishPacket } from "mqtt";
import type { Logger } from "../kernel/log.js";
import { child } from "../kernel/log.js";
import { errorText, IngestError } from "../kernel/errors.js";
import { buildTlsOptions } from "../kernel/tls.js";
import type { Verifier, VerifyResult } from "../envelope/verify/verifier.js";
import type { IngestStore } from "./store.js";
import type { SqliteVerifierState } from "./verifier-state.js";
import { systemScheduler, type Scheduler } from "../kernel/scheduler.js";
import { systemClock, type Clock } from "../kernel/clock.js";
import { Reason } from "../envelope/reasons.js";
import { RECEIPT_DEFAULTS, ReceiptSender, type ReceiptOptions } from "./receipts.js";

/** Default MQTT session expiry of the receiver's persistent session, seconds (`--session-expiry`). */
export const DEFAULT_SESSION_EXPIRY_S = 3600;

export interface IngestTls {
  ca: string;
  cert: string;
  key: string;
}

export interface IngestOptions {
  url: string;
  tls: IngestTls;
  /**
   * Shared-subscription group: receivers in one group split the traffic (MQTT v5). Null: one receiver
   * with a plain persistent subscription, which a broker restart does not lose (mosquitto restores
   * plain subscriptions from its persistence file, but not `$share` ones: docs/ingest.md).
   */
  group: string | null;
  /** Topic filter under the group, `otgw/v1/+/+` by default (`otgw/v2/+/+/+` for a partitioned fleet). */
  filter?: string;
  clientId: string;
  verifier: Verifier;
  /** The verifier's state, flushed inside the transaction that stores each frame's outcome. */
  state: SqliteVerifierState;
  store: IngestStore;
  logger: Logger;
  /**
   * MQTT v5 Session Expiry Interval of the receiver's persistent session, seconds (default 3600): how
   * long the broker keeps queueing for a stopped receiver (docs/ingest.md).
   */
  sessionExpiryS?: number;
  /** Receipts to the gateways (docs/ingest.md "Receipts"); `false` sends none (an old receiver's behaviour). */
  receipts?: Partial<ReceiptOptions> | false;
  /** Receipt timer (default: the system's). */
  scheduler?: Scheduler;
  /** Receipt pacing (default: the system clock). */
  clock?: Clock;
}

/** What one verified data record looks like to listeners (the demo prints these). */
export interface VerifiedEvent {
  gatewayId: string;
  stream: string;
  seq: bigint;
  plaintext: Buffer;
}

/**
 * The verifying receiver: subscribes with an MQTT v5 shared subscription, hands every frame to the
 * Verifier, and stores the outcome (verified record + pristine envelope, or quarantine with a reason)
 * before the PUBACK goes back, so the broker redelivers anything not yet kept. Frames are processed
 * one at a time in arrival order: per-stream order checks depend on it.
 */
export class IngestService extends EventEmitter {
  private client: MqttClient | null = null;
  private readonly log: Logger;
  readonly stats = { frames: 0, verified: 0, quarantined: 0, gaps: 0, gapsFilled: 0, checkpoints: 0, checkpointMismatches: 0, transportGaps: 0, sessionsEnded: 0, framesMissing: 0 };
  private readonly receipts: ReceiptSender | undefined;

  constructor(private readonly opts: IngestOptions) {
    super();
    this.log = child(opts.logger, "ingest");
    if (opts.receipts !== false) {
      this.receipts = new ReceiptSender({ ...RECEIPT_DEFAULTS, ...opts.receipts }, opts.verifier, opts.state, opts.scheduler ?? systemScheduler, opts.clock ?? systemClock, this.log, () => this.client);
    }
  }

  /** Receipts sent since start (0 when receipts are off). */
  get receiptsSent(): number {
    return this.receipts?.stats.receipts ?? 0;
  }

  async start(): Promise<void> {
    const { opts } = this;
    const client = mqtt.connect(opts.url, {
      protocolVersion: 5,
      clientId: opts.clientId,
      clean: false,
      properties: { sessionExpiryInterval: opts.sessionExpiryS ?? DEFAULT_SESSION_EXPIRY_S },
      reconnectPeriod: 1000,
      // Our own subscribe on every connect (below) must reach the broker. With MQTT.js's default
      // (resubscribe: true) it remembers the topic and silently skips a repeated subscribe, and after a
      // reconnect with sessionPresent it resubscribes nothing itself: a restarted mosquitto, which
      // restores the session without its $share subscription, then delivers nothing, forever.
      resubscribe: false,
      ...buildTlsOptions(opts.tls),
    });
    this.client = client;
    // Replace the default handler so the PUBACK waits until the frame's outcome is stored.
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      this.handle(packet).then(() => done(), (err: unknown) => {
        this.log.error({ err: errorText(err) }, "frame handling failed; the broker will redeliver it");
        done(err instanceof Error ? err : new Error(errorText(err)));
      });
    };
    client.on("error", (err) => this.log.warn({ err: err.message }, "broker connection error"));
    client.on("close", () => this.emit("disconnected"));
    // Subscribe on every connect: mosquitto restores a persistent session without its $share
    // subscriptions (docs/topics.md), so relying on sessionPresent would silently stop the flow.
    const filter = opts.filter ?? "otgw/v1/+/+";
    const topic = opts.group === null ? filter : `$share/${opts.group}/${filter}`;
    const subscribe = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          const code = granted?.[0]?.qos;
          if (err || code === undefined || code > 2) reject(err ?? new IngestError("INGEST_SUBSCRIBE", `broker refused subscription to ${topic} (reason ${code ?? "none"}): check the receiver's ACL`));
          else resolve();
        });
      });
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error): void => reject(err);
      client.once("error", onErr);
      client.once("connect", () => {
        client.off("error", onErr);
        subscribe().then(resolve, reject);
      });
    });
    client.on("connect", () => {
      subscribe().catch((err: unknown) => this.log.error({ err: errorText(err) }, "resubscribe failed"));
    });
    this.log.info({ url: opts.url, group: opts.group }, "receiver subscribed");
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    const frame = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.stats.frames++;
    const result = await this.opts.verifier.accept(packet.topic, frame);
    try {
      this.opts.store.tx(() => {
        this.record(packet.topic, frame, result);
        this.opts.state.flush();
      });
    } catch (err) {
      this.opts.state.discard();
      throw err;
    }
    // After the commit: a receipt states only what is stored. A replay counts too: the gateway resends
    // what it holds no receipt for (its receipt was lost), so it needs a fresh one.
    if (result.sessionId !== undefined && (result.ok || result.reason === Reason.REPLAY)) this.receipts?.committed(result.sessionId);
  }

  private record(topic: string, frame: Buffer, r: VerifyResult): void {
    const store = this.opts.store;
    if (!r.ok) {
      this.stats.quarantined++;
      store.addQuarantine({ topic, reason: r.reason, detail: r.detail, gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, envelope: frame });
      this.log.warn({ topic, reason: r.reason, detail: r.detail }, "frame quarantined");
      this.emit("quarantined", r);
      return;
    }
    if (r.kind === "data") {
      this.stats.verified++;
      if (r.gap) {
        this.stats.gaps++;
        store.addEvent({ kind: "SEQUENCE_GAP", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId,
          detail: `missing seq ${r.gap.from}..${r.gap.to}: not received (yet); the receipts name them, a gateway with receipts resends them (GAP_FILLED when one arrives)` });
      }
      if (r.filled) {
        // A transport loss repaired: the gateway resent the frame after a receipt named the gap.
        this.stats.gapsFilled++;
        store.addEvent({ kind: "GAP_FILLED", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, detail: `seq ${r.seq} of an earlier SEQUENCE_GAP arrived (resent by the gateway): not lost` });
      }
      if (r.afterEnd !== undefined) {
        // Only a reordering path (e.g. several receivers) gets here: the frame was counted in the
        // session's FRAMES_MISSING and is received after all; recorded so the count can be corrected.
        store.addEvent({ kind: "RECEIVED_AFTER_END", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId,
          detail: `seq ${r.seq} arrived after the session-end statement (ended at ${r.afterEnd}); reported missing then, received now` });
      }
      store.addVerified({
        gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, seq: r.seq, schemaId: r.schemaId,
        sourceTsNs: r.sourceTsNs, gatewayTsNs: r.gatewayTsNs, plaintext: r.plaintext, chainHex: Buffer.from(r.chain).toString("hex"),
        envelope: frame, topic,
      });
      const ev: VerifiedEvent = { gatewayId: r.gatewayId, stream: r.stream, seq: r.seq, plaintext: r.plaintext };
      this.emit("verified", ev);
    } else if (r.kind === "checkpoint") {
      this.stats.checkpoints++;
      if (r.mismatch?.cause === "gap") {
        // Explained by frames not received (yet): a transport loss the gap already reports, not tampering.
        this.stats.transportGaps++;
        store.addEvent({ kind: "TRANSPORT_GAP", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, detail: `checkpoint ${r.index}: ${r.mismatch.detail}` });
      } else if (r.mismatch) {
        this.stats.checkpointMismatches++;
        store.addEvent({ kind: "CHECKPOINT_MISMATCH", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, detail: r.mismatch.detail });
      }
    } else if (r.kind === "session-end") {
      this.stats.sessionsEnded++;
      const missing = r.missing ? r.missing.to - r.missing.from + 1n : 0n;
      store.addEvent({ kind: "SESSION_ENDED", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId,
        detail: `gateway statement (cert ${r.certSha256}): ended at committed seq ${r.lastSeq}; received up to ${r.receivedUpTo}; ${r.missing ? `missing seq ${r.missing.from}..${r.missing.to} (${missing})` : "nothing missing"}` });
      if (r.missing) {
        this.stats.framesMissing += Number(missing);
        store.addEvent({ kind: "FRAMES_MISSING", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId,
          detail: `${missing} frame(s) committed to the gateway's queue and never received: seq ${r.missing.from}..${r.missing.to}` });
      }
      if (r.mismatch) {
        this.stats.checkpointMismatches++;
        store.addEvent({ kind: "CHECKPOINT_MISMATCH", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, detail: r.mismatch.detail });
      }
    } else {
      // A new session while the previous one never closed and the gateway never said where it ended
      // (no session-end statement, e.g. an old gateway or a lost queue file): say what was received, once.
      for (const u of store.unclosedSessions(r.gatewayId, r.stream, r.sessionId)) {
        store.addEvent({ kind: "SESSION_UNCLOSED", gatewayId: r.gatewayId, stream: r.stream, sessionId: u.sessionId,
          detail: `no final checkpoint; last seq received ${u.lastSeq}; superseded by session ${r.sessionId} (gateway restart or lost tail)` });
      }
      store.addEvent({ kind: "SESSION_OPENED", gatewayId: r.gatewayId, stream: r.stream, sessionId: r.sessionId, detail: `cert ${r.certSha256}` });
    }
  }

  async stop(): Promise<void> {
    this.receipts?.flush();
    this.receipts?.stop();
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync();
  }
}
