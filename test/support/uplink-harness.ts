import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { createLogger, type Logger } from "../../kernel/log.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { MqttUplink, type MqttUplinkOptions } from "../../firmware/uplink/mqtt-uplink.js";
import type { BrokerFixture } from "./broker-fixture.js";
import { seqPayload } from "./collector.js";

/** Every log line written, as text, so tests can prove what never reaches a log. */
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger = createLogger({ level: "debug", destination: { write: (s: string) => { this.lines.push(s); } } });
  /** The whole log as one string. */
  text(): string {
    return this.lines.join("");
  }
}

/** A queue file in a fresh directory inside the fixture's directory (removed with it). */
export function tempQueueFile(fx: BrokerFixture): string {
  return join(mkdtempSync(join(fx.dir, "queue-")), "queue.db");
}

/** An uplink for `gatewayId` against the fixture's broker, with short backoff for tests. */
export function makeUplink(fx: BrokerFixture, gatewayId: string, queue: SqliteQueue, logger: Logger, extra: Partial<MqttUplinkOptions> = {}): MqttUplink {
  return new MqttUplink({
    url: fx.broker.url,
    clientId: gatewayId,
    tls: fx.tls(gatewayId),
    queue,
    logger,
    window: 256,
    backoff: { minMs: 50, maxMs: 500 },
    ...extra,
  });
}

/** Enqueues items seq from..to (inclusive) for `gatewayId`'s telemetry stream, in batches. */
export function enqueueSeq(queue: SqliteQueue, gatewayId: string, from: number, to: number, batch = 500): void {
  for (let start = from; start <= to; start += batch) {
    const items = [];
    for (let s = start; s <= Math.min(to, start + batch - 1); s++) {
      items.push({ stream: "telemetry", topic: `otgw/v1/${gatewayId}/telemetry`, priority: 0, payload: seqPayload(s) });
    }
    queue.enqueue(items);
  }
}

/** Resolves on the first `event` the uplink emits. */
export function once<T>(uplink: MqttUplink, event: "refused" | "connected" | "published" | "disconnected"): Promise<T> {
  return new Promise((resolve) => uplink.once(event, (...args: unknown[]) => resolve(args[0] as T)));
}
