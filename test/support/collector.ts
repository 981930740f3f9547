import type { MqttClient } from "mqtt";

/** Payload for test item `seq`: a 4-byte big-endian sequence number, a marker and padding to `size`. */
export function seqPayload(seq: number, size = 256): Buffer {
  const b = Buffer.alloc(Math.max(size, 16), 0x2e);
  b.writeUInt32BE(seq, 0);
  b.write("PAYLOADMARK", 4, "latin1"); // must never show up in a log line
  return b;
}

/** Collects sequence numbers from delivered messages; counts duplicates and resolves at a target. */
export class SeqCollector {
  /** Every sequence number in arrival order, duplicates included. */
  readonly arrivals: number[] = [];
  private readonly seen = new Set<number>();
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(client: MqttClient, topicPrefix = "otgw/v1/") {
    client.on("message", (topic, payload) => {
      if (!topic.startsWith(topicPrefix) || payload.length < 4) return;
      const seq = payload.readUInt32BE(0);
      this.arrivals.push(seq);
      this.seen.add(seq);
      this.waiters = this.waiters.filter((w) => {
        if (this.seen.size < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Distinct sequence numbers seen. */
  get distinct(): number {
    return this.seen.size;
  }

  /** Arrivals beyond the first of each sequence number (at-least-once redeliveries). */
  get duplicates(): number {
    return this.arrivals.length - this.seen.size;
  }

  /** True if every number in [from, to] arrived. */
  hasAll(from: number, to: number): boolean {
    for (let i = from; i <= to; i++) if (!this.seen.has(i)) return false;
    return true;
  }

  /** First arrivals of each number, in arrival order: must be increasing if order was kept. */
  firstArrivals(): number[] {
    const s = new Set<number>();
    const out: number[] = [];
    for (const a of this.arrivals) if (!s.has(a)) { s.add(a); out.push(a); }
    return out;
  }

  /** Resolves once `n` distinct numbers have arrived. */
  waitDistinct(n: number): Promise<void> {
    if (this.seen.size >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}
