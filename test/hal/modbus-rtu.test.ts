/**
 * Modbus RTU over a socat pty pair against a libmodbus RTU slave (devkit/dev-plant/peers/modbus-rtu-slave.c):
 * decoding, exceptions, a silent slave on the shared line, and garbage on the wire.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../kernel/clock.js";
import { silentLogger } from "../../kernel/log.js";
import { Normalizer } from "../../firmware/pipeline/normalize.js";
import { createSources } from "../../hal/registry.js";
import { createModbusRtuSource } from "../../hal/modbus/index.js";
import type { RawReading } from "../../hal/source.js";
import type { ModbusRtuSourceConfig } from "../../firmware/config/schema.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { startPtyPair, startRtuSlave, type Peer } from "../../devkit/dev-plant/modbus-peers.js";
import { sourceContract } from "./source-contract.js";
import { until } from "../../devkit/until.js";

let pty: Peer & { a: string; b: string };
let slave: Peer;

before(async () => {
  pty = await startPtyPair(mkdtempSync(join(tmpdir(), "otgw-rtu-")));
  slave = await startRtuSlave(pty.b, 19200, 1);
});
after(async () => {
  await slave.stop();
  await pty.stop();
});

const latest = (got: RawReading[], address: string) => [...got].reverse().find((r) => r.address === address);

const rtu = (device: string, devices: ModbusRtuSourceConfig["devices"]): ModbusRtuSourceConfig => ({
  id: "line1", kind: "modbus-rtu", device, baudRate: 19200, parity: "none", dataBits: 8, stopBits: 1,
  timeoutMs: 300, retries: 1, retryDelayMs: 20, backoffMaxMs: 3000, maxGap: 0, devices,
});

void test("RTU: values decode, scale and carry the modbus+rtu URI; exceptions and a silent slave are quality", async () => {
  const { config } = fieldConfig({
    transforms: [{ id: "raw-v1", unit: "1" }, { id: "kpa-v1", scale: 1000, unit: "Pa" }],
    sources: [{
      ...rtu(pty.a, [
        { unitId: 1, pollMs: 50, registers: [{ table: "ir", register: 0, type: "float32" }, { table: "ir", register: 2, type: "int16" }, { table: "hr", register: 1000 }, { table: "di", register: 3 }] },
        { unitId: 7, pollMs: 50, registers: [{ table: "hr", register: 0 }] },
      ]),
    }],
    points: [
      ...pointsFor("line1", ["unit/1/ir/2", "unit/1/hr/1000", "unit/1/di/3", "unit/7/hr/0"]),
      { name: "line1.pressure", source: "line1", address: "unit/1/ir/0", stream: "telemetry", transform: "kpa-v1", deviceId: "SN-PT-9" },
    ],
  });
  const [source] = await createSources(config, systemClock, silentLogger());
  assert.ok(source);
  const normalizer = new Normalizer(config, systemClock);
  const got: RawReading[] = [];
  await source.start((r) => got.push(r));
  await until("all addresses", () => source.addresses().every((a) => latest(got, a)));
  await until("unit 1 keeps polling while unit 7 is silent", () => got.filter((r) => r.address === "unit/1/ir/2").length >= 8);
  await source.stop();
  assert.equal(latest(got, "unit/1/ir/2")?.value, -2);
  assert.equal(latest(got, "unit/1/di/3")?.value, true);
  const p = normalizer.normalize(source, latest(got, "unit/1/ir/0")!)!;
  assert.ok(Math.abs((p.value as number) - 123456) < 0.1, String(p.value));
  assert.equal(p.lineage.sourceUri, `modbus+rtu://${pty.a}?baud=19200/unit/1/ir/0`);
  assert.equal(p.lineage.adapter, "modbus-rtu");
  assert.equal(latest(got, "unit/1/hr/1000")?.qualityDetail, "modbus-exception:2");
  const silent = latest(got, "unit/7/hr/0")!;
  assert.deepEqual([silent.value, silent.quality, silent.qualityDetail], [null, "bad", "modbus-timeout"]);
  assert.ok(got.filter((r) => r.address === "unit/7/hr/0").length < got.filter((r) => r.address === "unit/1/ir/2").length);
});

void test("RTU: garbage and truncated frames on the line are bad quality, never a crash", async () => {
  const pair = await startPtyPair(mkdtempSync(join(tmpdir(), "otgw-rtu-junk-")));
  // A "slave" that answers every request with noise or a cut-off frame.
  const fd = openSync(pair.b, "r+");
  const rd = createReadStream("", { fd });
  let n = 0;
  rd.on("data", () => {
    n++;
    writeSync(fd, n % 2 ? Buffer.from([0x01, 0x03, 0x04, 0x42]) : Buffer.from([0x55, 0xaa, 0x13, 0x37, 0x00, 0xff, 0x01, 0x02, 0x03]));
  });
  rd.on("error", () => undefined);
  const source = createModbusRtuSource(rtu(pair.a, [{ unitId: 1, pollMs: 30, registers: [{ table: "hr", register: 0, type: "float32" }] }]), systemClock, silentLogger());
  const got: RawReading[] = [];
  await source.start((r) => got.push(r));
  await until("bad readings", () => got.length >= 4);
  await source.stop();
  rd.destroy();
  await pair.stop();
  assert.ok(got.every((r) => r.value === null && r.quality === "bad" && /^modbus-(bad-frame|timeout)$/.test(r.qualityDetail ?? "")), JSON.stringify(got.map((r) => r.qualityDetail)));
});

sourceContract("modbus-rtu (libmodbus slave over socat pty)", () => ({
  source: createModbusRtuSource(rtu(pty.a, [{ unitId: 1, pollMs: 50, registers: [{ table: "ir", register: 0, type: "float32" }, { table: "hr", register: 11 }] }]), systemClock, silentLogger()),
  advance: (ms) => sleep(ms),
}));
