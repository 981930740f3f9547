/**
 * Whole-pipeline figures against the same broker in the same run (mosquitto, mTLS, TLS 1.3, MQTT v5):
 *  - pipeline-msgs: the real Gateway, readings in → sealed frames PUBACKed, messages/s (uplink.receipts
 *    off; a plain subscriber consumes the topics, so the broker answers PUBACK 0, not 16)
 *  - pipeline-receipts-msgs: the same with uplink.receipts required and a real receiver (verify, store,
 *    receipt) in this process: frames freed by receipt per second; its ratio is to pipeline-msgs
 *  - mqtt-raw-msgs: MQTT.js alone publishing same-size payloads, QoS 1, same window (the baseline)
 *  - pipeline-cpu-us, mqtt-raw-cpu-us: CPU time of each process per message (all its threads)
 *  - rss-mb: peak RSS of the gateway process during pipeline-msgs
 *  - rss-mb-opcua: peak RSS of a gateway process reading the simulated plant and an OPC UA server
 *    (node-opcua loaded, a 50-item SignAndEncrypt subscription) until it has published n records
 *  - backlog-drain-msgs: a backlog of 1,000,000 queued frames (20,000 with --quick) drained after an
 *    outage, through the uplink into the broker
 * Each runs in its own process (bench/pipeline-child.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../kernel/paths.js";
import { createDevStack, type DevStack } from "../devkit/dev-stack.js";
import { GATEWAY_NODE_FLAGS } from "../firmware/runtime/gateway.js";
import { TrustStore } from "../hal/opcua/trust-store.js";
import { freePort } from "../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer } from "../devkit/dev-plant/opcua-server.js";
import { runChild } from "./child.js";
import type { BenchFigure } from "./figure.js";
import { rateFigure } from "./stats.js";
import mqtt from "mqtt";
import { readFileSync } from "node:fs";
import { silentLogger } from "../kernel/log.js";

interface ChildResult {
  rates: number[];
  /** CPU time of the process (all threads) per message, per trial, µs. */
  cpuUs?: number[];
  maxRssMb: number;
  frameBytes?: number;
  published?: number;
  /** Data frames committed per stream (field mode). */
  byStream?: Record<string, number>;
}

const UA_ITEMS = 50;

/**
 * rss-mb-opcua: the gateway process as deployed with an OPC UA source (node-opcua holds ~37 MB of heap
 * once loaded, which the in-process source of rss-mb never loads), under GATEWAY_NODE_FLAGS, reading
 * the simulated plant and a 50-item subscription of a node-opcua server in this (the parent) process.
 */
async function benchOpcuaRss(stack: DevStack, dir: string, n: number): Promise<BenchFigure> {
  const ua = await startOpcuaServer(await freePort(), join(dir, "opcua-server-pki"), 1, UA_ITEMS);
  try {
    const nodeIds = Array.from({ length: UA_ITEMS }, (_, i) => `ns=1;s=Bench.V${i}`);
    const gw = await stack.addGateway("gw-bench-ua", join(repoRoot(), "config", "examples", "sim-plant.yaml"), (cfg) => {
      (cfg.streams as unknown[]).push({ id: "ua", priority: 2, valueSchema: { type: "number" } });
      (cfg.transforms as unknown[]).push({ id: "ua-raw-v1", unit: "1" });
      (cfg.sources as unknown[]).push({
        id: "ua", kind: "opcua", endpointUrl: ua.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", publishingIntervalMs: 500,
        items: nodeIds.map((nodeId) => ({ nodeId, samplingIntervalMs: 100 })),
      });
      (cfg.points as unknown[]).push(...nodeIds.map((address, i) => ({ name: `ua.v${i}`, source: "ua", address, stream: "ua", transform: "ua-raw-v1", deviceId: "SN-UA" })));
    });
    const trust = new TrustStore(join(gw.config.gateway.stateDir, "pki", "opcua"));
    trust.trust({ thumbprint: trust.recordRejected(ua.certificate).thumbprint });
    // As deployed: uplink.receipts required (the default), so a real receiver receipts what it stores;
    // without one nothing would ever leave the queue.
    const rx = stack.receiver(silentLogger(), "bench-ua", { shared: false });
    await rx.service.start();
    let f: ChildResult;
    try {
      f = await runChild<ChildResult>("pipeline-child", ["field", gw.file, String(n)], GATEWAY_NODE_FLAGS);
    } finally {
      await rx.service.stop();
      rx.store.close();
    }
    const uaFrames = f.byStream?.ua ?? 0;
    if (uaFrames === 0) throw new Error("bench rss-mb-opcua: the gateway committed no OPC UA reading (is the server's certificate trusted?)");
    return {
      id: "rss-mb-opcua", unit: "MB", value: f.maxRssMb,
      note: `peak RSS of a gateway process reading the simulated plant and ${UA_ITEMS} OPC UA items until ${f.published ?? n} records were published and receipted by a real receiver, ${uaFrames} of them OPC UA (node ${GATEWAY_NODE_FLAGS.join(" ")})`,
    };
  } finally {
    await ua.stop();
  }
}

export async function benchPipeline(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), "otgw-bench-"));
  const stack = await createDevStack(join(dir, "stack"));
  try {
    const example = join(repoRoot(), "config", "examples", "sim-plant.yaml");
    const gw = await stack.addGateway("gw-bench-1", example, (cfg) => { Object.assign(cfg.uplink as Record<string, unknown>, { receipts: "off" }); });
    const gwR = await stack.addGateway("gw-bench-2", example, (cfg) => { Object.assign(cfg.uplink as Record<string, unknown>, { receipts: "required" }); });
    const n = opts.quick ? 10_000 : 100_000;
    const trials = opts.quick ? 3 : 5;
    // A consumer on the bench gateway's topics: without a matching subscriber the broker answers PUBACK
    // 16 (No matching subscribers), which the uplink rightly does not count as delivered.
    const sink = await mqtt.connectAsync(stack.broker.url, {
      protocolVersion: 5, clientId: "bench-sink", clean: true, reconnectPeriod: 0,
      ca: readFileSync(stack.pki.caCert), cert: readFileSync(stack.pki.receiver.cert), key: readFileSync(stack.pki.receiver.key),
    });
    await sink.subscribeAsync("otgw/v1/gw-bench-1/#", { qos: 0 });
    // The gateway process runs with the heap limits it is deployed with (GATEWAY_NODE_FLAGS).
    const p = await runChild<ChildResult>("pipeline-child", ["pipeline", gw.file, String(n), String(trials)], GATEWAY_NODE_FLAGS);
    // Same run, receipts required: a real receiver (no share) verifies, stores and receipts every frame.
    const rx = stack.receiver(silentLogger(), "bench", { shared: false });
    await rx.service.start();
    let pr: ChildResult;
    try {
      pr = await runChild<ChildResult>("pipeline-child", ["pipeline", gwR.file, String(n), String(trials)], GATEWAY_NODE_FLAGS);
    } finally {
      await rx.service.stop();
      rx.store.close();
    }
    const bytes = p.frameBytes ?? 256;
    const r = await runChild<ChildResult>("pipeline-child", ["raw", gw.file, String(n), String(trials), String(bytes)]);
    const backlogN = opts.quick ? 20_000 : 1_000_000;
    const b = await runChild<ChildResult>("pipeline-child", ["backlog", gw.file, String(backlogN)]);
    await sink.endAsync();
    const uaRss = await benchOpcuaRss(stack, dir, opts.quick ? 3_000 : 30_000);
    const raw = { ...rateFigure("mqtt-raw-msgs", "msg/s", r.rates), note: `MQTT.js QoS 1, ${bytes} B payloads, window ${gw.config.uplink.window}, mTLS` };
    const pipe = { ...rateFigure("pipeline-msgs", "msg/s", p.rates), note: `${n} readings per trial, sealed frames of ~${bytes} B`, baseline: raw.id, ratio: 0 };
    pipe.ratio = pipe.value / raw.value;
    const withReceipts = { ...rateFigure("pipeline-receipts-msgs", "msg/s", pr.rates), note: `as pipeline-msgs with uplink.receipts required and a real receiver in the loop (verify, SQLite commit per frame, receipts): frames freed by receipt`, baseline: pipe.id, ratio: 0 };
    withReceipts.ratio = withReceipts.value / pipe.value;
    // CPU per message moves less with the machine's load than a rate does: where the time goes.
    const rawCpu = { ...rateFigure("mqtt-raw-cpu-us", "us/msg", r.cpuUs ?? []), note: "CPU time (all threads) of the raw MQTT.js process per message" };
    const pipeCpu = { ...rateFigure("pipeline-cpu-us", "us/msg", p.cpuUs ?? []), note: "CPU time (all threads) of the gateway process per message", baseline: rawCpu.id, ratio: 0 };
    pipeCpu.ratio = pipeCpu.value / rawCpu.value;
    return [
      pipe,
      withReceipts,
      raw,
      pipeCpu,
      rawCpu,
      { id: "rss-mb", unit: "MB", value: p.maxRssMb, note: `peak RSS of the gateway process during pipeline-msgs (node ${GATEWAY_NODE_FLAGS.join(" ")})` },
      { ...rateFigure("backlog-drain-msgs", "msg/s", b.rates), note: `${backlogN} queued frames of 300 B drained into the broker after an outage` },
      uaRss,
    ];
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
