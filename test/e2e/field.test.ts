import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { silentLogger } from "../../kernel/log.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { TrustStore } from "../../hal/opcua/trust-store.js";
import { freePort, mbpoll, startTcpServer } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, VIB_PICOSECONDS, VIB_TS_MS } from "../../devkit/dev-plant/opcua-server.js";
import { newStack, SIM_EXAMPLE, waitFor } from "./harness.js";

void test("values written by mbpoll into a libmodbus PLC and served by an OPC UA server arrive verified, typed, scaled, with provenance", async () => {
  const mbPort = await freePort();
  const uaPort = await freePort();
  const plc = await startTcpServer(mbPort, [3]);
  const ua = await startOpcuaServer(uaPort, mkdtempSync(join(tmpdir(), "otgw-ua-srv-")));
  mbpoll(["-p", String(mbPort), "-a", "3", "-t", "4", "-r", "30", "127.0.0.1", "--", "64302"]); // -1234 as int16
  mbpoll(["-p", String(mbPort), "-a", "3", "-t", "4:float", "-r", "20", "127.0.0.1", "--", "-12.75"]); // CDAB float32
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  const gw = await stack.addGateway("gw-field", SIM_EXAMPLE(), (cfg) => {
    cfg.sources = [
      { id: "plc7", kind: "modbus-tcp", host: "127.0.0.1", port: mbPort, timeoutMs: 500, retries: 0,
        devices: [{ unitId: 3, pollMs: 100, registers: [
          { table: "hr", register: 30, type: "int16" }, { table: "hr", register: 20, type: "float32", wordOrder: "little" },
          { table: "hr", register: 500, type: "int16" }] }] },
      { id: "press1", kind: "opcua", endpointUrl: ua.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
        publishingIntervalMs: 100, items: [{ nodeId: "ns=1;s=Pump1.Vibration", samplingIntervalMs: 50 }] },
    ];
    cfg.streams = [{ id: "field", priority: 2, valueSchema: { type: ["number", "null"] } }];
    cfg.transforms = [{ id: "bar-tenths-v1", scale: 0.1, unit: "bar" }, { id: "raw-v1", unit: "1" }];
    cfg.points = [
      { name: "plc7.pressure", source: "plc7", address: "unit/3/hr/30", stream: "field", transform: "bar-tenths-v1", deviceId: "SN-PT-0042" },
      { name: "plc7.flow", source: "plc7", address: "unit/3/hr/20", stream: "field", transform: "raw-v1", deviceId: "SN-FT-0007" },
      { name: "plc7.unmapped", source: "plc7", address: "unit/3/hr/500", stream: "field", transform: "raw-v1", deviceId: "SN-X" },
      { name: "pump1.vibration", source: "press1", address: "ns=1;s=Pump1.Vibration", stream: "field", transform: "raw-v1", deviceId: "SN-ACC-2001" },
    ];
  });
  // What the technician does with `otgw trust opcua trust --file`: the server's certificate is trusted first.
  const serverCert = join(stack.dir, "opcua-server.pem");
  writeFileSync(serverCert, new X509Certificate(ua.certificate).toString());
  new TrustStore(join(gw.config.gateway.stateDir, "pki", "opcua")).trust({ file: serverCert });

  const { gateway } = await createGateway({ config: gw, logger: silentLogger() });
  const seen = new Map<string, NormalizedRecord>();
  service.on("verified", (ev: { stream: string; plaintext: Buffer }) => {
    if (ev.stream !== "field") return;
    const r = JSON.parse(ev.plaintext.toString("utf8")) as NormalizedRecord;
    seen.set(r.point, r);
  });
  try {
    await gateway.start();
    await waitFor(() => ["plc7.pressure", "plc7.flow", "plc7.unmapped", "pump1.vibration"].every((p) => seen.has(p)), "all four field points verified at the receiver");
    await gateway.stop(30_000);
    const pressure = seen.get("plc7.pressure")!;
    assert.ok(Math.abs((pressure.value as number) - -123.4) < 1e-9, `int16 -1234 × 0.1 = ${String(pressure.value)}`);
    assert.equal(pressure.unit, "bar");
    assert.equal(pressure.quality, "good");
    assert.equal(pressure.lineage.sourceUri, `modbus+tcp://127.0.0.1:${mbPort}/unit/3/hr/30`);
    assert.equal(pressure.lineage.adapter, "modbus-tcp");
    assert.equal(seen.get("plc7.flow")!.value, -12.75);
    const unmapped = seen.get("plc7.unmapped")!;
    assert.equal(unmapped.quality, "bad");
    assert.equal(unmapped.value, null);
    assert.equal(unmapped.qualityDetail, "modbus-exception:2", "illegal data address from the PLC becomes quality");
    const vib = seen.get("pump1.vibration")!;
    assert.equal(vib.quality, "good");
    assert.ok((vib.value as number) >= 1_000_000);
    assert.equal(vib.sourceTsNs, (BigInt(VIB_TS_MS) * 1_000_000n + BigInt(Math.floor(VIB_PICOSECONDS / 1000))).toString(), "picoseconds kept");
    assert.equal(vib.lineage.sourceUri, `opcua://127.0.0.1:${uaPort}/ns=1;s=Pump1.Vibration`);
    assert.equal(store.counts().quarantined, 0);
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
    await ua.stop();
    await plc.stop();
  }
});
