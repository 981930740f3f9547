/**
 * The Modbus adapter's timing on manual time, against an in-memory client: the poll schedule, the
 * retry delays within a poll and the backoff of a silent device, without a peer and without waiting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../kernel/clock.js";
import { ManualTime } from "../../kernel/scheduler.js";
import { ModbusSource } from "../../hal/modbus/source.js";
import type { ModbusClient } from "../../hal/modbus/transport.js";
import type { RawReading } from "../../hal/source.js";

const T0 = 1_700_000_000_000;

/** Answers holding-register reads at once (no time passes), or times out at once while `silent`. */
class FakeClient implements ModbusClient {
  readonly isOpen = true;
  silent = false;
  /** Manual-clock time of every request, ms after T0. */
  readonly requests: number[] = [];
  constructor(private readonly time: ManualTime) {}
  private answer(count: number, next: (err: unknown, res?: { buffer: Buffer }) => void): void {
    this.requests.push(this.time.nowMs() - T0);
    if (this.silent) next(Object.assign(new Error("Timed out"), { errno: "ETIMEDOUT" }));
    else next(null, { buffer: Buffer.alloc(count * 2, 1) });
  }
  writeFC1(): void {
    throw new Error("not used");
  }
  writeFC2(): void {
    throw new Error("not used");
  }
  writeFC3(_unit: number, _start: number, count: number, next: (err: unknown, res?: { buffer: Buffer }) => void): void {
    this.answer(count, next);
  }
  writeFC4(): void {
    throw new Error("not used");
  }
  close(next: () => void): void {
    next();
  }
}

void test("modbus on manual time: polls every pollMs, retries with doubling delays, backs a silent device off up to backoffMaxMs, and recovers", async () => {
  const time = new ManualTime(new ManualClock(T0));
  const client = new FakeClient(time);
  const source = new ModbusSource({
    id: "plc", adapter: "modbus-tcp", uriBase: "modbus+tcp://fake:502", serialBus: false,
    retries: 2, retryDelayMs: 10, backoffMaxMs: 500, maxGap: 0, scheduler: time,
    devices: [{ unitId: 1, pollMs: 100, registers: [{ table: "hr", register: 0 }] }],
    connect: () => Promise.resolve(client),
  }, time);
  const got: RawReading[] = [];
  await source.start((r) => got.push(r));
  await time.advance(300);
  // The first poll is due at once (Node's 1 ms minimum), then every 100 ms.
  assert.deepEqual(client.requests, [1, 101, 201]);
  assert.ok(got.every((r) => r.quality === "good"));

  client.silent = true;
  client.requests.length = 0;
  await time.advance(2000); // now at 2300
  const polls = client.requests.filter((_, i) => i % 3 === 0);
  // Each poll is one try and two retries, 10 then 20 ms apart...
  for (let i = 0; i + 2 < client.requests.length; i += 3) {
    assert.deepEqual([client.requests[i + 1]! - client.requests[i]!, client.requests[i + 2]! - client.requests[i]!], [10, 30], `retries of poll ${i / 3}`);
  }
  // ...and the polls of a silent device start pollMs × 2^failures apart, at most backoffMaxMs.
  assert.deepEqual(polls.slice(1).map((t, i) => t - polls[i]!), [200, 400, 500, 500]);
  assert.equal(source.health().state, "degraded");
  assert.ok(got.some((r) => r.quality === "bad" && r.qualityDetail === "modbus-timeout"));

  client.silent = false;
  const last = polls.at(-1)!;
  client.requests.length = 0;
  await time.advance(1000);
  // The poll already scheduled runs at its backoff time; once it succeeds the schedule is pollMs again.
  assert.equal(client.requests[0], last + 500);
  assert.deepEqual(client.requests.slice(1).map((t, i) => t - client.requests[i]!), client.requests.slice(1).map(() => 100));
  assert.equal(source.health().state, "running");

  await source.stop();
  assert.equal(time.pending(), 0, "stop() cancels the poll timer");
});
