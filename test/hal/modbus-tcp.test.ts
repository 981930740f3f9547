/**
 * Modbus TCP against a libmodbus server (devkit/dev-plant/peers/modbus-tcp-server.c) with mbpoll as an independent
 * master writing values: readings are typed, ordered and scaled correctly; exceptions, silent units,
 * a stopped server and garbage answers become quality, never crashes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../kernel/clock.js";
import { silentLogger } from "../../kernel/log.js";
import { Normalizer } from "../../firmware/pipeline/normalize.js";
import { sha256Hex } from "../../firmware/pipeline/canonical.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { createSources } from "../../hal/registry.js";
import { ModbusSource } from "../../hal/modbus/source.js";
import { connectTcp, createModbusTcpSource } from "../../hal/modbus/index.js";
import type { RawReading } from "../../hal/source.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { freePort, mbpoll, startTcpServer, type Peer } from "../../devkit/dev-plant/modbus-peers.js";
import { sourceContract } from "./source-contract.js";
import { until } from "../../devkit/until.js";

let port = 0;
let server: Peer;

before(async () => {
  port = await freePort();
  server = await startTcpServer(port, [1, 3]);
});
after(async () => {
  await server.stop();
});

/** Collects readings until `pred` holds (or fails after a generous timeout: only to avoid hangs). */

const latest = (got: RawReading[], address: string) => [...got].reverse().find((r) => r.address === address);

void test("values written by mbpoll arrive typed, word-ordered and scaled through the normalizer", async () => {
  mbpoll(["-p", String(port), "-a", "3", "-t", "4:float", "-r", "20", "127.0.0.1", "--", "-12.75"]); // CDAB (mbpoll default)
  mbpoll(["-p", String(port), "-a", "3", "-t", "4:float", "-B", "-r", "24", "127.0.0.1", "--", "3.5"]); // ABCD
  mbpoll(["-p", String(port), "-a", "3", "-t", "4", "-r", "30", "127.0.0.1", "--", "64302"]); // 0xFB2E: -1234 as int16 (mbpoll -t 4 writes unsigned)
  mbpoll(["-p", String(port), "-a", "3", "-t", "4:int", "-B", "-r", "40", "127.0.0.1", "--", "-100000"]); // int32 ABCD
  mbpoll(["-p", String(port), "-a", "3", "-t", "0", "-r", "7", "127.0.0.1", "--", "1"]); // coil
  mbpoll(["-p", String(port), "-a", "3", "-t", "4", "-r", "50", "127.0.0.1", "--", "1243", "1243"]); // hr 50 and 51: 1243 each

  const { config } = fieldConfig({
    transforms: [{ id: "raw-v1", unit: "1" }, { id: "bar-tenths-v1", scale: 0.1, offset: 0, unit: "bar" }, { id: "temp-v1", scale: 2, offset: -1, unit: "degC" },
      { id: "level-tenths-v1", scale: 0.1, unit: "m" }, { id: "level-tenths-r1-v1", scale: 0.1, decimals: 1, unit: "m" }],
    sources: [{
      id: "plc1", kind: "modbus-tcp", host: "127.0.0.1", port, timeoutMs: 500, retries: 0,
      devices: [{
        unitId: 3, pollMs: 100, registers: [
          { table: "hr", register: 20, type: "float32", wordOrder: "little" },
          { table: "hr", register: 22 },
          { table: "hr", register: 24, type: "float32" },
          { table: "hr", register: 30, type: "int16" },
          { table: "hr", register: 40, type: "int32" },
          { table: "ir", register: 0, type: "float32" },
          { table: "ir", register: 2, type: "int16" },
          { table: "ir", register: 3, type: "uint32" },
          { table: "co", register: 7 },
          { table: "di", register: 3 },
          { table: "di", register: 4 },
          { table: "hr", register: 50 },
          { table: "hr", register: 51 },
        ],
      }],
    }],
    points: [
      ...pointsFor("plc1", ["unit/3/hr/20", "unit/3/hr/22", "unit/3/hr/24", "unit/3/hr/40", "unit/3/ir/0", "unit/3/ir/3", "unit/3/co/7", "unit/3/di/3", "unit/3/di/4"]),
      { name: "plc1.pressure", source: "plc1", address: "unit/3/hr/30", stream: "telemetry", transform: "bar-tenths-v1", deviceId: "SN-PT-1" },
      { name: "plc1.temp", source: "plc1", address: "unit/3/ir/2", stream: "telemetry", transform: "temp-v1", deviceId: "SN-TT-1" },
      { name: "plc1.level_raw", source: "plc1", address: "unit/3/hr/50", stream: "telemetry", transform: "level-tenths-v1", deviceId: "SN-LT-1" },
      { name: "plc1.level", source: "plc1", address: "unit/3/hr/51", stream: "telemetry", transform: "level-tenths-r1-v1", deviceId: "SN-LT-1" },
    ],
  });
  const [source] = await createSources(config, systemClock, silentLogger());
  assert.ok(source instanceof ModbusSource);
  // Touching ranges share a request (hr 20-22, ir 0-4, di 3-4); hr 23 is unmapped, so hr 24 starts a new one.
  assert.deepEqual(source.requestPlan()[0]!.requests, [
    { table: "co", start: 7, count: 1 }, { table: "di", start: 3, count: 2 },
    { table: "hr", start: 20, count: 3 }, { table: "hr", start: 24, count: 2 }, { table: "hr", start: 30, count: 1 }, { table: "hr", start: 40, count: 2 },
    { table: "hr", start: 50, count: 2 },
    { table: "ir", start: 0, count: 5 },
  ]);
  const normalizer = new Normalizer(config, systemClock);
  const got: RawReading[] = [];
  const records: NormalizedRecord[] = [];
  await source.start((r) => {
    got.push(r);
    const rec = normalizer.normalize(source, r);
    if (rec) records.push(rec);
  });
  await until("every address once", () => source.addresses().every((a) => latest(got, a)));
  const v = (a: string) => latest(got, a)?.value;
  assert.equal(v("unit/3/hr/20"), -12.75);
  assert.equal(v("unit/3/hr/22"), 0);
  assert.equal(v("unit/3/hr/24"), 3.5);
  assert.equal(v("unit/3/hr/30"), -1234);
  assert.equal(v("unit/3/hr/40"), -100000);
  assert.ok(Math.abs((v("unit/3/ir/0") as number) - 123.456) < 1e-4);
  assert.equal(v("unit/3/ir/2"), -2);
  assert.equal(v("unit/3/ir/3"), 123456);
  assert.equal(v("unit/3/co/7"), true);
  assert.equal(v("unit/3/di/3"), true);
  assert.equal(v("unit/3/di/4"), false);
  assert.ok(got.every((r) => r.quality === "good" && r.qualityDetail === null));

  const pressure = records.find((r) => r.point === "plc1.pressure")!;
  assert.equal(pressure.value, -123.4);
  assert.equal(pressure.unit, "bar");
  assert.equal(pressure.lineage.adapter, "modbus-tcp");
  assert.equal(pressure.lineage.sourceUri, `modbus+tcp://127.0.0.1:${port}/unit/3/hr/30`);
  assert.equal(records.find((r) => r.point === "plc1.temp")!.value, -5);
  // Same raw 1243 and scale 0.1: float noise without `decimals`, exactly 124.3 with `decimals: 1`,
  // and the rule hash in the lineage covers the rounding.
  const level = records.find((r) => r.point === "plc1.level")!;
  assert.equal(records.find((r) => r.point === "plc1.level_raw")!.value, 124.30000000000001);
  assert.equal(level.value, 124.3);
  assert.equal(level.lineage.transformRuleId, "level-tenths-r1-v1");
  assert.equal(level.lineage.transformRuleSha256, sha256Hex('{"decimals":1,"id":"level-tenths-r1-v1","offset":0,"scale":0.1,"unit":"m"}'));

  // A new value written by the independent master shows up on a later poll.
  mbpoll(["-p", String(port), "-a", "3", "-t", "4", "-r", "30", "127.0.0.1", "--", "4321"]);
  await until("the new value", () => latest(got, "unit/3/hr/30")?.value === 4321);
  await source.stop();
});

void test("exception codes, a silent unit and a stopped server become quality; the live unit keeps its schedule", async () => {
  const p2 = await freePort();
  const own = await startTcpServer(p2, [1, 3]);
  const source = createModbusTcpSource({
    id: "plc2", kind: "modbus-tcp", host: "127.0.0.1", port: p2, timeoutMs: 300, retries: 1, retryDelayMs: 50, backoffMaxMs: 2000, maxGap: 0,
    devices: [
      { unitId: 3, pollMs: 50, registers: [{ table: "hr", register: 10 }] },
      { unitId: 1, pollMs: 50, registers: [{ table: "hr", register: 1000 }, { table: "ir", register: 150, type: "float64" }] },
      { unitId: 9, pollMs: 50, registers: [{ table: "hr", register: 0 }] },
    ],
  }, systemClock, silentLogger());
  const got: RawReading[] = [];
  await source.start((r) => got.push(r));
  await until("a timeout for unit 9", () => latest(got, "unit/9/hr/0"));
  await until("several good polls of unit 3 meanwhile", () => got.filter((r) => r.address === "unit/3/hr/10").length >= 10);
  const good = latest(got, "unit/3/hr/10")!;
  assert.deepEqual([good.value, good.quality], [1234, "good"]);
  const ex = latest(got, "unit/1/hr/1000")!;
  assert.deepEqual([ex.value, ex.quality, ex.qualityDetail], [null, "bad", "modbus-exception:2"]);
  // ir 150..153 exists (200 input registers) and decodes; only the unmapped request failed.
  assert.equal(latest(got, "unit/1/ir/150")?.quality, "good");
  const to = latest(got, "unit/9/hr/0")!;
  assert.deepEqual([to.value, to.quality, to.qualityDetail], [null, "bad", "modbus-timeout"]);
  const h = source.health();
  assert.equal(h.state, "degraded");
  assert.match(h.detail ?? "", /unit 1: .*exception/);
  assert.match(h.detail ?? "", /unit 9: no answer/);
  // The dead unit backs off: far fewer attempts than the live unit's polls.
  const n9 = got.filter((r) => r.address === "unit/9/hr/0").length;
  const n3 = got.filter((r) => r.address === "unit/3/hr/10").length;
  assert.ok(n9 < n3, `unit 9 reported ${n9} times, unit 3 ${n3}`);

  await own.stop();
  await until("server stopped → bad", () => latest(got, "unit/3/hr/10")?.quality === "bad");
  assert.match(latest(got, "unit/3/hr/10")!.qualityDetail ?? "", /^modbus-(unreachable|timeout)$/);
  // Back on the same port: the source reconnects by itself.
  const again = await startTcpServer(p2, [1, 3]);
  await until("reconnected", () => latest(got, "unit/3/hr/10")?.quality === "good", 30_000);
  await source.stop();
  await again.stop();
});

/** A "device" that answers every request with bytes of its own choosing. */
async function rogueServer(reply: (req: Buffer) => Buffer): Promise<{ server: Server; port: number }> {
  const server = createServer((s: Socket) => s.on("data", (d) => s.write(reply(d))).on("error", () => undefined));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { server, port: typeof a === "object" && a ? a.port : 0 };
}

void test("garbage and truncated answers are bad-quality readings, never a crash", async () => {
  let n = 0;
  const rogue = await rogueServer((req) => {
    n++;
    if (n % 3 === 0) return Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
    // MBAP echoing the transaction id, announcing 4 data bytes but carrying 1 (truncated).
    const tid = req.subarray(0, 2);
    if (n % 3 === 1) return Buffer.concat([tid, Buffer.from([0, 0, 0, 4, req[6] ?? 1, 3, 4, 0x42])]);
    // Wrong byte count for the request.
    return Buffer.concat([tid, Buffer.from([0, 0, 0, 5, req[6] ?? 1, 3, 2, 0x42, 0xf6])]);
  });
  const source = new ModbusSource({
    id: "rogue", adapter: "modbus-tcp", uriBase: `modbus+tcp://127.0.0.1:${rogue.port}`, serialBus: false,
    retries: 0, retryDelayMs: 10, backoffMaxMs: 200, maxGap: 0,
    devices: [{ unitId: 1, pollMs: 20, registers: [{ table: "hr", register: 0, type: "float32" }] }],
    connect: () => connectTcp("127.0.0.1", rogue.port, 200),
  }, systemClock, silentLogger());
  const got: RawReading[] = [];
  await source.start((r) => got.push(r));
  await until("several bad readings", () => got.length >= 6);
  await source.stop();
  rogue.server.close();
  assert.ok(got.every((r) => r.value === null && r.quality === "bad"), JSON.stringify(got.map((r) => r.qualityDetail)));
  assert.ok(got.every((r) => /^modbus-(bad-frame|timeout|unreachable)$/.test(r.qualityDetail ?? "")));
});

sourceContract("modbus-tcp (libmodbus server)", () => ({
  source: createModbusTcpSource({
    id: "plc", kind: "modbus-tcp", host: "127.0.0.1", port, timeoutMs: 500, retries: 1, retryDelayMs: 50, backoffMaxMs: 5000, maxGap: 0,
    devices: [{ unitId: 3, pollMs: 50, registers: [{ table: "ir", register: 0, type: "float32" }, { table: "hr", register: 10 }] }],
  }, systemClock, silentLogger()),
  advance: (ms) => sleep(ms),
}));
