import type { Logger } from "../../kernel/log.js";
import type { Queue } from "../queue/queue.js";
import type { BackoffOptions } from "../../kernel/backoff.js";
import type { Clock } from "../../kernel/clock.js";
import type { Scheduler } from "../../kernel/scheduler.js";
import type { UplinkTlsMaterial } from "../../kernel/tls.js";
import type { ReceiptCounters, ReceiptSettings } from "./receipts.js";

/** A publish the broker refused for good (PUBACK reason code >= 0x80). */
export interface RefusedEvent {
  /** Topic the item was published to. */
  topic: string;
  /** Queue id of the item, now in the dead-letter table. */
  id: number;
  /** MQTT v5 reason code, e.g. 135. */
  reasonCode: number;
  /** Reason in words, e.g. "Not authorized". */
  reasonText: string;
}

/** Events of the uplink. Listen to `error`, or errors are only logged. */
export interface UplinkEvents {
  /** CONNACK received; publishing (re)starts from the oldest unacked item. */
  connected: [];
  /** A connection attempt failed before CONNACK (TLS refused, CONNACK error, network): the error in words and its code. */
  connectFailed: [error: string, code: string | number | undefined];
  /** switchTo() adopted the new identity's connection (publishing continues there) and closed the old one. */
  switched: [];
  /** The connection is gone (reason in words); a reconnect is scheduled unless stopping. */
  disconnected: [reason: string];
  /** `count` items were delivered (receipted, or PUBACKed where that frees them) and deleted from the queue. */
  published: [count: number];
  /** The broker refused an item; it was dead-lettered. */
  refused: [event: RefusedEvent];
  /** Something failed that the uplink cannot fix by retrying (e.g. the queue store). */
  error: [error: Error];
}

export interface MqttUplinkOptions {
  /** Broker URL, `mqtts://host:port`. */
  url: string;
  /** MQTT client id: the gateway id (one identity per gateway, never shared). */
  clientId: string;
  /** mTLS material; see buildTlsOptions. */
  tls: UplinkTlsMaterial;
  /** Where items come from and are acked/dead-lettered. */
  queue: Queue;
  /** Root logger; the uplink takes child "uplink". */
  logger: Logger;
  /** Publishes in flight at most (default 256), also capped by the broker's Receive Maximum. */
  window?: number;
  /** Reconnect backoff (default 500 ms .. 30 s). */
  backoff?: BackoffOptions;
  /** Fallback re-check of the queue when nobody calls kick() (default 1000 ms). */
  idleMs?: number;
  /** MQTT keepalive seconds (default 30). */
  keepaliveS?: number;
  /** Jitter source, for repeatable tests. */
  random?: () => number;
  /** Measures the switch's drain time (default: the system clock). */
  clock?: Clock;
  /** Reconnect, idle, ack-batch and drain timers (default: the system's). */
  scheduler?: Scheduler;
  /**
   * Receipts (docs/queue.md "Sent, not yet receipted"). Default: mode off (PUBACK frees a frame); the
   * gateway's config default is `required`.
   */
  receipts?: ReceiptSettings;
}

/** Counters for health checks and tests. */
export interface UplinkCounters extends ReceiptCounters {
  /** Items delivered (receipted, or PUBACKed where that frees them) and deleted from the queue since start(). */
  published: number;
  /** Items refused by the broker and dead-lettered. */
  refused: number;
  /** Successful connections after the first. */
  reconnects: number;
  /** Publishes awaiting PUBACK right now. */
  inflight: number;
  /** Make-before-break moves to a new identity's connection (switchTo). */
  switches: number;
}

/** What one switchTo() did. */
export interface SwitchReport {
  /** Client id of the new connection (the gateway id or its alternate). */
  clientId: string;
  /** How long the old connection was given to finish its in-flight publishes (ms). */
  drainMs: number;
  /** Publishes still unacknowledged on the old connection, resent on the new one (the receiver deduplicates). */
  carriedOver: number;
  /** False when no connection was up: the new material is simply used by the next connect. */
  madeBeforeBreak: boolean;
}
