import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { freePort, mbpoll, startTcpServer, type Peer } from "./modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "./opcua-server.js";

/**
 * DEVELOPMENT AND DEMO ONLY: the field side of a small plant beside the simulator — a legacy PLC
 * (the libmodbus server, its pressure register rewritten every second by mbpoll as an independent
 * master) and a press with a native OPC UA server (SignAndEncrypt). It returns the config fragments
 * a gateway needs to read them, and the server certificate the technician would trust.
 */
export interface FieldPlant {
  /** Source, stream, transform and point entries to add to a gateway config. */
  config: { sources: unknown[]; streams: unknown[]; transforms: unknown[]; points: unknown[] };
  /** PEM file of the OPC UA server's certificate (to trust with `otgw trust opcua trust --file`). */
  opcuaServerCert: string;
  stop(): Promise<void>;
}

export async function startFieldPlant(dir: string): Promise<FieldPlant> {
  mkdirSync(dir, { recursive: true });
  const mbPort = await freePort();
  const uaPort = await freePort();
  const plc: Peer = await startTcpServer(mbPort, [3]);
  let ua: TestOpcuaServer;
  try {
    ua = await startOpcuaServer(uaPort, join(dir, "opcua-server-pki"));
  } catch (err) {
    await plc.stop();
    throw err;
  }
  const write = (reg: number, type: string, value: string): void =>
    void execFile("mbpoll", ["-1", "-0", "-p", String(mbPort), "-a", "3", "-t", type, "-r", String(reg), "127.0.0.1", "--", value], { timeout: 5000 }, () => undefined);
  mbpoll(["-p", String(mbPort), "-a", "3", "-t", "4", "-r", "100", "127.0.0.1", "--", "62"]); // 6.2 bar in tenths
  mbpoll(["-p", String(mbPort), "-a", "3", "-t", "4:float", "-r", "101", "127.0.0.1", "--", "18.5"]); // m³/h, CDAB
  let t = 0;
  const ticker = setInterval(() => {
    t++;
    write(100, "4", String(Math.round(62 + 4 * Math.sin(t / 8))));
    write(101, "4:float", (18.5 + Math.cos(t / 5)).toFixed(2));
  }, 1000);
  ticker.unref();
  const opcuaServerCert = join(dir, "opcua-server.pem");
  writeFileSync(opcuaServerCert, new X509Certificate(ua.certificate).toString());
  return {
    opcuaServerCert,
    config: {
      sources: [
        { id: "plc7", kind: "modbus-tcp", host: "127.0.0.1", port: mbPort, timeoutMs: 500, retries: 1,
          devices: [{ unitId: 3, pollMs: 500, registers: [{ table: "hr", register: 100, type: "int16" }, { table: "hr", register: 101, type: "float32", wordOrder: "little" }] }] },
        { id: "press1", kind: "opcua", endpointUrl: ua.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", publishingIntervalMs: 500,
          items: [{ nodeId: "ns=1;s=Press1.Vibration", samplingIntervalMs: 250 }, { nodeId: "ns=1;s=Press1.BearingTemp", samplingIntervalMs: 1000 }] },
      ],
      streams: [{ id: "field", priority: 2, valueSchema: { type: ["number", "null"], minimum: -1000, maximum: 1000 } }],
      transforms: [{ id: "bar-tenths-v1", scale: 0.1, unit: "bar" }, { id: "flow-m3h-v1", unit: "m3/h" }, { id: "press-vib-v1", unit: "mm/s" }, { id: "press-temp-v1", unit: "°C" }],
      points: [
        { name: "plc7.pressure", source: "plc7", address: "unit/3/hr/100", stream: "field", transform: "bar-tenths-v1", deviceId: "SN-PT-0042", calibrationId: "CAL-2026-031" },
        { name: "plc7.flow", source: "plc7", address: "unit/3/hr/101", stream: "field", transform: "flow-m3h-v1", deviceId: "SN-FT-0007", calibrationId: null },
        { name: "press1.vibration", source: "press1", address: "ns=1;s=Press1.Vibration", stream: "field", transform: "press-vib-v1", deviceId: "SN-ACC-2001", calibrationId: "CAL-2026-102" },
        { name: "press1.bearing_temp", source: "press1", address: "ns=1;s=Press1.BearingTemp", stream: "field", transform: "press-temp-v1", deviceId: "SN-PT100-77", calibrationId: null },
      ],
    },
    stop: async () => {
      clearInterval(ticker);
      await ua.stop();
      await plc.stop();
    },
  };
}
