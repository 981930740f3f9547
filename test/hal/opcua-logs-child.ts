/**
 * Child process of opcua-logs.test.ts: one OPC UA source (one real node, one unknown node id; argv:
 * endpoint, the two node ids, the pki dir) with the
 * gateway's structured logger on stderr at debug. Prints the good values it received as one JSON line
 * on stdout, so the parent can check that none of them reached the log.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../kernel/clock.js";
import { createLogger } from "../../kernel/log.js";
import { OpcuaSource } from "../../hal/opcua/index.js";
import type { RawReading } from "../../hal/source.js";
import type { OpcuaSourceConfig } from "../../firmware/config/schema.js";

const [endpointUrl, known, unknown, pkiDir] = process.argv.slice(2) as [string, string, string, string];
const config: OpcuaSourceConfig = {
  id: "line1", kind: "opcua", endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", trustAll: true,
  user: { type: "anonymous" }, applicationName: "otgw", publishingIntervalMs: 100, timeoutMs: 5000, reconnectMaxMs: 1000,
  items: [known, unknown].map((nodeId) => ({ nodeId, samplingIntervalMs: 50, queueSize: 10, discardOldest: true })),
};
const logger = createLogger({ level: "debug" });
const src = new OpcuaSource({ config, pkiDir }, systemClock, logger);
const got: RawReading[] = [];
await src.start((r) => got.push(r));
const end = Date.now() + 60_000;
while (Date.now() < end && !(got.filter((r) => r.address === known && r.quality === "good").length >= 5 && got.some((r) => r.address === unknown))) await sleep(50);
await src.stop();
const values = got.filter((r) => r.quality === "good").map((r) => r.value);
process.stdout.write(`${JSON.stringify({ values, unknown: got.filter((r) => r.address === unknown).map((r) => r.qualityDetail) })}\n`);
logger.flush(() => process.exit(0));
