import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../../kernel/errors.js";
import { freePort, mbpoll, startTcpServer } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { until } from "../../devkit/until.js";
import { devUpCommand, type DevUpSummary } from "../../bin/commands/dev/up.js";

/** An integrator's config as they would deploy it: TPM identity, their broker and receiver key. */
function userConfig(dir: string, modbusPort: number, patch: (c: Record<string, unknown>) => void = () => undefined): string {
  const c: Record<string, unknown> = {
    version: 1,
    gateway: { id: "gw-line-4", mode: "production", stateDir: "/var/lib/otgw" },
    identity: { keystore: "tpm", certFile: "/var/lib/otgw/identity/gateway.crt", caFile: "/etc/otgw/fleet-ca.pem" },
    receiver: { publicKeyFile: "/etc/otgw/receiver.pub.pem" },
    uplink: { url: "mqtts://broker.plant.example:8883", caFile: "/etc/otgw/broker-ca.pem" },
    streams: [
      { id: "temperature", priority: 2, valueSchema: { type: "number", minimum: -40, maximum: 150 } },
      { id: "line", priority: 2, valueSchema: { type: ["number", "null"] } },
    ],
    transforms: [{ id: "temp-c-v1", unit: "°C" }, { id: "bar-tenths-v1", scale: 0.1, unit: "bar" }, { id: "flow-m3h-v1", unit: "m3/h" }],
    sources: [
      { id: "plant", kind: "sim", seed: 7, rateHz: 20, assets: [{ id: "motor1", kind: "motor" }] },
      { id: "plc4", kind: "modbus-tcp", host: "127.0.0.1", port: modbusPort, timeoutMs: 500, retries: 1,
        devices: [{ unitId: 3, pollMs: 200, registers: [{ table: "hr", register: 100, type: "int16" }, { table: "hr", register: 101, type: "float32", wordOrder: "little" }, { table: "hr", register: 900, type: "int16" }] }] },
    ],
    points: [
      { name: "motor1.bearing_temp", source: "plant", address: "motor1/bearing_temp", stream: "temperature", transform: "temp-c-v1", deviceId: "SN-RTD-1" },
      { name: "line4.pressure", source: "plc4", address: "unit/3/hr/100", stream: "line", transform: "bar-tenths-v1", deviceId: "SN-PT-4" },
      { name: "line4.flow", source: "plc4", address: "unit/3/hr/101", stream: "line", transform: "flow-m3h-v1", deviceId: "SN-FT-4" },
      // A register the PLC does not have: a mistake in the register map, shown with the PLC's own exception.
      { name: "line4.typo", source: "plc4", address: "unit/3/hr/900", stream: "line", transform: "bar-tenths-v1", deviceId: "SN-XX-4" },
    ],
  };
  patch(c);
  const file = join(dir, "my.yaml");
  writeFileSync(file, stringify(c));
  return file;
}

void test("otgw dev up -c FILE runs the user's own config end to end: verified readings of its sim and Modbus points, with their values, and a summary", async () => {
  const port = await freePort();
  const plc = await startTcpServer(port, [3]);
  try {
    mbpoll(["-p", String(port), "-a", "3", "-t", "4", "-r", "100", "127.0.0.1", "--", "62"]); // 6.2 bar in tenths
    mbpoll(["-p", String(port), "-a", "3", "-t", "4:float", "-r", "101", "127.0.0.1", "--", "18.5"]); // CDAB float32
    const dir = mkdtempSync(join(tmpdir(), "otgw-devup-"));
    const file = userConfig(dir, port);
    const out: string[] = [];
    const err: string[] = [];
    const code = await devUpCommand({ config: file, messages: 400, out: join(dir, "out") }, { out: (l) => out.push(l), err: (l) => err.push(l) });
    assert.equal(code, 0, `dev up failed:\n${out.join("\n")}\n${err.join("\n")}`);

    assert.ok(out.some((l) => /identity, receiver, uplink sections are replaced by a throwaway stack/.test(l)), "says the stack replaces those sections");
    const readings = out.map((l) => /^✔ (\S+) (\S+) = (\S+) (\S+) \[(\w+)( \S+)?\]$/.exec(l)).filter((m) => m !== null)
      .map((m) => ({ stream: m[1]!, point: m[2]!, value: m[3] === "null" ? null : Number(m[3]), unit: m[4]!, quality: m[5]!, ...(m[6] ? { detail: m[6].trim() } : {}) }));
    const of = (point: string) => readings.filter((r) => r.point === point);
    assert.ok(of("line4.pressure").length > 0 && of("line4.flow").length > 0, `Modbus points printed: ${out.join("\n")}`);
    for (const r of of("line4.pressure")) assert.deepEqual(r, { stream: "line", point: "line4.pressure", value: 6.2, unit: "bar", quality: "good" });
    for (const r of of("line4.flow")) assert.deepEqual(r, { stream: "line", point: "line4.flow", value: 18.5, unit: "m3/h", quality: "good" });
    assert.ok(of("line4.typo").length > 0, "the unmapped register's point printed");
    for (const r of of("line4.typo")) assert.deepEqual(r, { stream: "line", point: "line4.typo", value: null, unit: "bar", quality: "bad", detail: "modbus-exception:2" });
    assert.ok(of("motor1.bearing_temp").length > 0, "sim point printed");
    for (const r of of("motor1.bearing_temp")) {
      assert.equal(r.stream, "temperature");
      assert.equal(r.unit, "°C");
      assert.ok(r.value !== null && r.value > 0 && r.value < 150, `plausible bearing temperature ${r.value}`);
    }

    const summary = JSON.parse(out.at(-1)!) as DevUpSummary;
    assert.equal(summary.gatewayId, "gw-line-4");
    assert.equal(summary.gatewayExit, "code 0");
    assert.equal(summary.rejected, 0);
    assert.ok(summary.published !== null && summary.published >= 400, `published ${summary.published}`);
    assert.equal(summary.verified, summary.published);
    assert.deepEqual(summary.missing, []);
    for (const p of ["motor1.bearing_temp", "line4.pressure", "line4.flow", "line4.typo"]) assert.ok((summary.points[p] ?? 0) > 0, p);
  } finally {
    await plc.stop();
  }
});

void test("otgw dev up: a mistake in the user's sources or points is reported against the user's file before anything starts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-devup-bad-"));
  const file = userConfig(dir, 502, (c) => {
    delete c.identity;
    (c.points as Array<Record<string, unknown>>)[1]!.source = "plc9";
  });
  await assert.rejects(devUpCommand({ config: file, messages: 10, out: join(dir, "out") }, { out: () => undefined, err: () => undefined }), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.ok(e.problems.length === 1 && e.problems[0]!.startsWith("/points/1/source"), e.problems.join("; "));
    return true;
  });
  assert.equal(existsSync(join(dir, "out")), false, "no stack was built");
});

void test("otgw dev up --trust-opcua SERVER.pem: the user's OPC UA server is trusted in the throwaway trust store and its readings arrive verified", async () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-devup-ua-"));
  const ua = await startOpcuaServer(await freePort(), join(dir, "server-pki"));
  try {
    const pem = join(dir, "press.pem");
    writeFileSync(pem, new X509Certificate(ua.certificate).toString());
    const file = userConfig(dir, 502, (c) => {
      c.sources = [{ id: "press2", kind: "opcua", endpointUrl: ua.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
        publishingIntervalMs: 200, items: [{ nodeId: "ns=1;s=Press1.BearingTemp", samplingIntervalMs: 100 }] }];
      c.points = [{ name: "press2.bearing_temp", source: "press2", address: "ns=1;s=Press1.BearingTemp", stream: "temperature", transform: "temp-c-v1", deviceId: "SN-PT100-2" }];
    });
    const out: string[] = [];
    const err: string[] = [];
    const code = await devUpCommand({ config: file, messages: 20, out: join(dir, "out"), trustOpcua: [pem] }, { out: (l) => out.push(l), err: (l) => err.push(l) });
    assert.equal(code, 0, `dev up failed:\n${out.join("\n")}\n${err.join("\n")}`);
    const lines = out.filter((l) => l.startsWith("✔ "));
    assert.ok(lines.length > 0, out.join("\n"));
    for (const l of lines) {
      const m = /^✔ temperature press2\.bearing_temp = (\S+) °C \[good\]$/.exec(l);
      assert.ok(m, l);
      const v = Number(m[1]);
      assert.ok(v >= 45.5 && v <= 48.5, `the press's bearing temperature (47 ± 1.5), got ${v}`);
    }
    const summary = JSON.parse(out.at(-1)!) as DevUpSummary;
    assert.ok((summary.points["press2.bearing_temp"] ?? 0) >= 20 && summary.rejected === 0 && summary.verified === summary.published, out.at(-1));
  } finally {
    await ua.stop();
  }
});

void test("otgw dev up without trusting the user's OPC UA server: the gateway's error, with the command that fixes it, is on stderr; the point has only bad readings (noGoodReading), exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "otgw-devup-untrusted-"));
  const ua = await startOpcuaServer(await freePort(), join(dir, "server-pki"));
  try {
    const file = userConfig(dir, 502, (c) => {
      c.sources = [{ id: "press3", kind: "opcua", endpointUrl: ua.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
        publishingIntervalMs: 200, items: [{ nodeId: "ns=1;s=Press1.BearingTemp", samplingIntervalMs: 100 }] }];
      c.points = [{ name: "press3.bearing_temp", source: "press3", address: "ns=1;s=Press1.BearingTemp", stream: "temperature", transform: "temp-c-v1", deviceId: "SN-PT100-3" }];
    });
    const out: string[] = [];
    const err: string[] = [];
    const ctl = new AbortController();
    const run = devUpCommand({ config: file, out: join(dir, "out"), signal: ctl.signal }, { out: (l) => out.push(l), err: (l) => err.push(l) });
    const thumb = createHash("sha1").update(ua.certificate).digest("hex");
    try {
      await until("the gateway's OPC UA trust error on stderr", () => err.some((l) => l.startsWith("! gateway error, hal.opcua press3: ") && l.includes(`otgw trust opcua trust ${thumb}`)), 120_000);
    } finally {
      ctl.abort(); // stops the gateway and the stack whatever happened, as Ctrl-C does
    }
    assert.equal(await run, 1, "no good reading arrived: exit 1");
    const summary = JSON.parse(out.at(-1)!) as DevUpSummary;
    // An unreachable (here: untrusted) server's points are reported bad, the same on every adapter
    // (docs/adapters.md "Source unreachable"), so the point is not missing: it has no good reading.
    assert.deepEqual(summary.noGoodReading, ["press3.bearing_temp"]);
    assert.equal(summary.gatewayExit, "code 0");
    const printed = out.filter((l) => l.startsWith("✔ "));
    assert.ok(printed.every((l) => / \[bad [^\]]+\]$/.test(l)), `only bad readings: ${printed.join(" | ")}`);
  } finally {
    await ua.stop();
  }
});
