/**
 * The SQLite queue on its own (WAL, synchronous=NORMAL, as the gateway runs it):
 *  - enqueue-msgs: 256 B frames enqueued in group commits of 256 (the outbox's typical batch), msg/s
 *  - drain-msgs: peek 256 + ack 256 (one transaction) until empty, msg/s
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteQueue } from "../firmware/queue/sqlite-queue.js";
import type { BenchFigure } from "./figure.js";
import { rateFigure } from "./stats.js";

const BATCH = 256;

export function benchQueue(opts: { quick: boolean }): BenchFigure[] {
  const n = opts.quick ? 50_000 : 200_000;
  const trials = opts.quick ? 3 : 5;
  const dir = mkdtempSync(join(tmpdir(), "otgw-bench-queue-"));
  const payload = randomBytes(256);
  const enq: number[] = [];
  const drain: number[] = [];
  try {
    for (let t = 0; t <= trials; t++) {
      const q = SqliteQueue.open(join(dir, `q${t}.db`));
      const items = Array.from({ length: BATCH }, () => ({ stream: "telemetry", topic: "otgw/v1/gw/telemetry", priority: 2, payload }));
      let t0 = performance.now();
      for (let i = 0; i < n; i += BATCH) q.enqueue(items);
      const e = n / ((performance.now() - t0) / 1000);
      t0 = performance.now();
      for (;;) {
        const got = q.peek(BATCH);
        if (got.length === 0) break;
        q.ack(got.map((g) => g.id));
      }
      const d = n / ((performance.now() - t0) / 1000);
      q.close();
      if (t > 0) { enq.push(e); drain.push(d); }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    { ...rateFigure("enqueue-msgs", "msg/s", enq), note: `${n} × 256 B, group commits of ${BATCH}` },
    { ...rateFigure("drain-msgs", "msg/s", drain), note: `peek + ack ${BATCH} per transaction` },
  ];
}
