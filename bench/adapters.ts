/**
 * Field adapters through the whole pipeline against the same reads without it, measured in one run:
 *  - modbus-points: registers/s polled back-to-back (one 100-register request per poll) from the libmodbus
 *    TCP server (devkit/dev-plant/peers/) by ModbusSource, each reading normalized, validated, encoded and sealed;
 *    modbus-points-raw: the same source, reads and schedule with a sink that only counts.
 *  - opcua-updates: monitored-item updates/s from an in-process node-opcua server (SignAndEncrypt,
 *    Basic256Sha256) through OpcuaSource and the pipeline; opcua-updates-raw: the same subscription
 *    with bare node-opcua monitored items counting 'changed'. The server shares the CPU with the client.
 * Value: median over trials of the rate; spread: max − min of the trial rates.
 * Run alone: node --import tsx bench/adapters.ts [--quick]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../kernel/clock.js";
import { silentLogger } from "../kernel/log.js";
import { Normalizer } from "../firmware/pipeline/normalize.js";
import { Validator } from "../firmware/pipeline/validate.js";
import { encodeRecord } from "../firmware/pipeline/encode.js";
import type { GatewayConfig, OpcuaSourceConfig } from "../firmware/config/schema.js";
import { ModbusSource } from "../hal/modbus/source.js";
import { connectTcp } from "../hal/modbus/transport.js";
import { OpcuaSource, TrustStore } from "../hal/opcua/index.js";
import type { RawReading, Source } from "../hal/source.js";
import { makeWorld } from "../devkit/envelope-world.js";
import { fieldConfig, pointsFor } from "../devkit/dev-plant/field-config.js";
import { freePort, startTcpServer } from "../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer } from "../devkit/dev-plant/opcua-server.js";
import type { BenchFigure } from "./figure.js";

const REGS = 100;
const ITEMS = 50;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function figure(id: string, unit: string, rates: number[]): BenchFigure {
  return { id, unit, value: median(rates), spread: Math.max(...rates) - Math.min(...rates) };
}

/** A sink running the synchronous per-reading pipeline: normalize → validate → encode → seal. */
async function pipelineSink(config: GatewayConfig, source: Pick<Source, "id" | "adapter" | "uriFor">): Promise<{ sink: (r: RawReading) => void; count: () => number }> {
  const w = await makeWorld("gw-bench-01", "telemetry");
  const sealer = await w.sealer({ checkpointEveryMessages: 0, checkpointEveryMs: 0 });
  const normalizer = new Normalizer(config, systemClock);
  const validator = new Validator(config);
  let sealed = 0;
  return {
    sink: (r) => {
      const rec = normalizer.normalize(source, r);
      if (!rec || !validator.validate(rec).ok) throw new Error("bench reading rejected by the pipeline");
      sealer.seal(encodeRecord(rec), "otgw.reading/1", BigInt(rec.sourceTsNs));
      sealed++;
    },
    count: () => sealed,
  };
}

async function benchModbus(trials: number, ms: number): Promise<BenchFigure[]> {
  const port = await freePort();
  const server = await startTcpServer(port, [1]);
  const addrs = Array.from({ length: REGS }, (_, i) => `unit/1/hr/${i}`);
  const registers = addrs.map((_, i) => ({ table: "hr" as const, register: i }));
  const { config } = fieldConfig({
    streams: [{ id: "telemetry", priority: 2, valueSchema: { type: "number" } }],
    sources: [{ id: "plc", kind: "modbus-tcp", host: "127.0.0.1", port, devices: [{ unitId: 1, pollMs: 10, registers }] }],
    points: pointsFor("plc", addrs),
  });
  const piped: number[] = [];
  const raw: number[] = [];
  try {
    for (let t = 0; t <= trials; t++) {
      // Pipeline: the adapter polls back-to-back (pollMs 0) and every reading goes through the pipeline.
      const src = new ModbusSource({
        id: "plc", adapter: "modbus-tcp", uriBase: `modbus+tcp://127.0.0.1:${port}`, serialBus: false, retries: 0, retryDelayMs: 0,
        backoffMaxMs: 1000, maxGap: 0, devices: [{ unitId: 1, pollMs: 0, registers }], connect: () => connectTcp("127.0.0.1", port, 1000),
      }, systemClock, silentLogger());
      const p = await pipelineSink(config, src);
      await src.start(p.sink);
      const t0 = performance.now();
      const n0 = p.count();
      await sleep(ms);
      const rate = ((p.count() - n0) * 1000) / (performance.now() - t0);
      await src.stop();
      if (src.health().errors > 0) throw new Error(`modbus bench: ${src.health().errors} errors`);

      // Raw: the same adapter, the same reads and schedule, a sink that only counts.
      const bare = new ModbusSource({
        id: "plc", adapter: "modbus-tcp", uriBase: `modbus+tcp://127.0.0.1:${port}`, serialBus: false, retries: 0, retryDelayMs: 0,
        backoffMaxMs: 1000, maxGap: 0, devices: [{ unitId: 1, pollMs: 0, registers }], connect: () => connectTcp("127.0.0.1", port, 1000),
      }, systemClock, silentLogger());
      let points = 0;
      await bare.start(() => points++);
      const r0 = performance.now();
      const p0 = points;
      await sleep(ms);
      const rawRate = ((points - p0) * 1000) / (performance.now() - r0);
      await bare.stop();
      if (t > 0) {
        piped.push(rate);
        raw.push(rawRate);
      }
    }
  } finally {
    await server.stop();
  }
  const rawFig = figure("modbus-points-raw", "points/s", raw);
  const fig = { ...figure("modbus-points", "points/s", piped), baseline: rawFig.id, ratio: median(piped) / rawFig.value };
  return [fig, rawFig];
}

async function benchOpcua(trials: number, ms: number): Promise<BenchFigure[]> {
  const ua = await import("node-opcua");
  const port = await freePort();
  const srv = await startOpcuaServer(port, mkdtempSync(join(tmpdir(), "otgw-bench-uasrv-")), 1, ITEMS);
  const nodeIds = Array.from({ length: ITEMS }, (_, i) => `ns=1;s=Bench.V${i}`);
  const { config } = fieldConfig({
    streams: [{ id: "telemetry", priority: 2, valueSchema: { type: "number" } }],
    sources: [{
      id: "ua", kind: "opcua", endpointUrl: srv.endpointUrl, publishingIntervalMs: 50,
      items: nodeIds.map((nodeId) => ({ nodeId, samplingIntervalMs: 10, queueSize: 100 })),
    }],
    points: pointsFor("ua", nodeIds),
  });
  const pki = join(config.gateway.stateDir, "pki", "opcua");
  const store = new TrustStore(pki);
  store.trust({ thumbprint: store.recordRejected(srv.certificate).thumbprint });
  const sc = config.sources[0] as OpcuaSourceConfig;
  const piped: number[] = [];
  const raw: number[] = [];
  try {
    for (let t = 0; t <= trials; t++) {
      const src = new OpcuaSource({ config: sc, pkiDir: pki }, systemClock, silentLogger());
      const p = await pipelineSink(config, src);
      await src.start(p.sink);
      if (src.health().state !== "running") throw new Error(`opcua bench: ${src.health().detail ?? "not running"}`);
      await sleep(500);
      const n0 = p.count();
      const t0 = performance.now();
      await sleep(ms);
      const rate = ((p.count() - n0) * 1000) / (performance.now() - t0);
      await src.stop();

      const cm = new ua.OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: false });
      await cm.initialize();
      const client = ua.OPCUAClient.create({
        securityMode: ua.MessageSecurityMode.SignAndEncrypt, securityPolicy: ua.SecurityPolicy.Basic256Sha256, clientCertificateManager: cm, endpointMustExist: false,
      });
      await client.connect(srv.endpointUrl);
      const session = await client.createSession();
      const sub = await session.createSubscription2({ requestedPublishingInterval: 50, requestedLifetimeCount: 100, requestedMaxKeepAliveCount: 10, publishingEnabled: true });
      let updates = 0;
      for (const nodeId of nodeIds) {
        const mi = await sub.monitor({ nodeId, attributeId: ua.AttributeIds.Value }, { samplingInterval: 10, queueSize: 100, discardOldest: true }, ua.TimestampsToReturn.Both);
        mi.on("changed", () => updates++);
      }
      await sleep(500);
      const u0 = updates;
      const r0 = performance.now();
      await sleep(ms);
      const rawRate = ((updates - u0) * 1000) / (performance.now() - r0);
      await sub.terminate();
      await session.close();
      await client.disconnect();
      await cm.dispose();
      if (t > 0) {
        piped.push(rate);
        raw.push(rawRate);
      }
    }
  } finally {
    await srv.stop();
  }
  const rawFig = figure("opcua-updates-raw", "updates/s", raw);
  const fig = { ...figure("opcua-updates", "updates/s", piped), baseline: rawFig.id, ratio: median(piped) / rawFig.value };
  return [fig, rawFig];
}

/** Both adapter figures with their baselines; `quick` runs fewer, shorter trials (CI smoke). */
export async function benchAdapters(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const trials = opts.quick ? 3 : 5;
  const ms = opts.quick ? 1000 : 3000;
  return [...(await benchModbus(trials, ms)), ...(await benchOpcua(trials, ms))];
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  for (const f of await benchAdapters({ quick: process.argv.includes("--quick") })) {
    console.log(`${f.id.padEnd(18)} ${f.value.toFixed(0)} ${f.unit}  spread ${f.spread?.toFixed(0)}${f.ratio ? `  ${f.ratio.toFixed(2)}× ${f.baseline}` : ""}`);
  }
  process.exit(0);
}
