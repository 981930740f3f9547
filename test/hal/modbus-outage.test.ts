/**
 * Issue #13 item 14, against a real libmodbus TCP server on manual time: a mapped register the device
 * refuses (exception 2) is a bad reading of that point, not a device failure, so the backoff stays at
 * its base; when the peer then really goes away and comes back, the backoff starts from the base
 * (pollMs × 2^failures) and the first good reading after the restart arrives on that schedule; the
 * outage and the recovery are each logged once, without values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../kernel/clock.js";
import { ManualTime } from "../../kernel/scheduler.js";
import { createLogger } from "../../kernel/log.js";
import { createModbusTcpSource } from "../../hal/modbus/index.js";
import type { RawReading } from "../../hal/source.js";
import { freePort, startTcpServer } from "../../devkit/dev-plant/modbus-peers.js";
import { until } from "../../devkit/until.js";

const T0 = 1_700_000_000_000;

void test("modbus: an exception keeps the device's schedule; a later outage backs off from the base and recovery is logged once", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  const port = await freePort();
  let peer = await startTcpServer(port, [3]);
  const pollMs = 1000;
  const source = createModbusTcpSource({
    id: "plc", kind: "modbus-tcp", host: "127.0.0.1", port, timeoutMs: 1000, retries: 0, retryDelayMs: 100, backoffMaxMs: 60_000, maxGap: 0,
    // hr 10 holds 1234; hr 1000 is outside the peer's map, so every read of it answers exception 2.
    devices: [{ unitId: 3, pollMs, registers: [{ table: "hr", register: 10 }, { table: "hr", register: 1000 }] }],
  }, time, logger, time);
  const got: RawReading[] = [];
  const state = () => source.pollState()[0]!;
  /** Lets the next poll fall due on manual time and waits (real time, only I/O) until it has finished. */
  const nextPoll = async () => {
    const before = state().polls;
    await time.advance(before === 0 ? 1 : state().nextPollMs);
    await until(`poll ${before + 1} to finish`, () => state().polls > before);
  };
  const msgs = (m: string) => lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => l.msg === m);
  try {
    await source.start((r) => got.push(r));

    for (let i = 0; i < 6; i++) {
      await nextPoll();
      assert.deepEqual([state().failures, state().nextPollMs], [0, pollMs], `poll ${i + 1}: an exception is an answer, no backoff`);
    }
    const refused = got.filter((r) => r.address === "unit/3/hr/1000");
    assert.equal(refused.length, 6);
    assert.ok(refused.every((r) => r.value === null && r.quality === "bad" && r.qualityDetail === "modbus-exception:2"));
    assert.ok(got.filter((r) => r.address === "unit/3/hr/10").every((r) => r.value === 1234 && r.quality === "good"));
    assert.equal(source.health().state, "degraded");
    assert.match(source.health().detail ?? "", /unit 3: .*modbus-exception:2/);
    assert.equal(msgs("modbus device refused a read").length, 1, "the refusal is logged once, not per poll");
    assert.equal(msgs("modbus device outage").length, 0, "an exception is no outage");

    // The peer goes away: the device fails on the transport and backs off from the base.
    await peer.stop();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await nextPoll();
      delays.push(state().nextPollMs);
    }
    assert.deepEqual(delays, [2 * pollMs, 4 * pollMs, 8 * pollMs]);
    assert.match(got.at(-1)!.qualityDetail ?? "", /^modbus-(unreachable|timeout)$/);

    // Back on the same port: the poll already scheduled (8 s, not backoffMaxMs) reads good values again.
    peer = await startTcpServer(port, [3]);
    const restartNs = time.nowNs();
    const seen = got.length;
    await nextPoll();
    const firstGood = got.slice(seen).find((r) => r.address === "unit/3/hr/10" && r.quality === "good");
    assert.ok(firstGood, "the first poll after the restart reads the register");
    assert.equal(Number(firstGood.sourceTsNs - restartNs) / 1e6, 8 * pollMs);
    assert.deepEqual([state().failures, state().nextPollMs], [0, pollMs], "recovered: back on the poll schedule");
    // The refused register is still refused, and still no device failure.
    assert.equal(got.slice(seen).find((r) => r.address === "unit/3/hr/1000")?.qualityDetail, "modbus-exception:2");

    const outage = msgs("modbus device outage");
    const recovered = msgs("modbus device recovered");
    assert.equal(outage.length, 1, "the outage is logged once");
    assert.equal(recovered.length, 1, "the recovery is logged once");
    assert.match(JSON.stringify(outage[0]), /"unit":3.*"detail":"modbus-(unreachable|timeout)"/);
    assert.match(JSON.stringify(recovered[0]), /"failedPolls":3/);
    assert.ok(lines.every((l) => !l.includes(`"value"`)), "no values in logs");
  } finally {
    await source.stop();
    await peer.stop();
  }
});
