/**
 * OPC UA outages against a real node-opcua server: a server whose certificate is replaced while the
 * gateway is connected is retried on the configured backoff (not hundreds of times a second) and the
 * refusal is logged once with the thumbprint and the trust command; a stopped server shows at the
 * receiver as bad `opcua-unreachable` readings for every mapped node, then good readings again; the
 * gateway's own certificate carries its applicationName and URI.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../kernel/clock.js";
import { backoffDelay } from "../../kernel/backoff.js";
import { createLogger, silentLogger, type Logger } from "../../kernel/log.js";
import type { OpcuaSourceConfig } from "../../firmware/config/schema.js";
import { OPCUA_RETRY_MIN_MS, OpcuaSource, TrustStore, thumbprintOf } from "../../hal/opcua/index.js";
import type { RawReading } from "../../hal/source.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { until } from "../../devkit/until.js";

const VIB = "ns=1;s=Pump1.Vibration";
const TEMP = "ns=1;s=Pump1.Temperature";
const PRES = "ns=1;s=Pump1.Pressure";
const ITEMS = [VIB, TEMP, PRES];
const RECONNECT_MAX_MS = 1000;

let port = 0;
let serverPki = "";
let srv: TestOpcuaServer;

before(async () => {
  port = await freePort();
  serverPki = mkdtempSync(join(tmpdir(), "otgw-uaout-"));
  srv = await startOpcuaServer(port, serverPki);
});
after(async () => {
  await srv.stop();
});

/** A source that trusts the current server's certificate, with its pki dir and config file. */
function trustedSource(logger: Logger = silentLogger(), applicationName = "otgw"): { src: OpcuaSource; pki: string; file: string } {
  const { config, file } = fieldConfig({
    sources: [{
      id: "line1", kind: "opcua", endpointUrl: srv.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
      publishingIntervalMs: 100, reconnectMaxMs: RECONNECT_MAX_MS, timeoutMs: 5000, applicationName,
      items: ITEMS.map((nodeId) => ({ nodeId, samplingIntervalMs: 50 })),
    }],
    points: pointsFor("line1", ITEMS),
  });
  const pki = join(config.gateway.stateDir, "pki", "opcua");
  const store = new TrustStore(pki);
  store.recordRejected(srv.certificate);
  store.trust({ thumbprint: store.list()[0]!.thumbprint });
  const sc = config.sources[0] as OpcuaSourceConfig;
  return { src: new OpcuaSource({ config: sc, pkiDir: pki, configFile: file }, systemClock, logger), pki, file };
}

/** The most attempts a backoff schedule starting at OPCUA_RETRY_MIN_MS allows within `ms`, plus the first. */
function attemptsAllowedIn(ms: number): number {
  let n = 1;
  let t = 0;
  for (;;) {
    t += backoffDelay(n - 1, { minMs: OPCUA_RETRY_MIN_MS, maxMs: RECONNECT_MAX_MS, jitter: 0 });
    if (t > ms) return n;
    n++;
  }
}

void test("server certificate replaced while connected: retries follow the backoff, the refusal is logged once with thumbprint and command", async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
  const { src, file } = trustedSource(logger);
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  await until("first readings", () => got.some((r) => r.address === VIB && r.quality === "good"));

  // The same endpoint comes back with a new certificate (a new server PKI).
  await srv.stop();
  srv = await startOpcuaServer(port, mkdtempSync(join(tmpdir(), "otgw-uaout-new-")), 2);
  const t0 = performance.now();
  let channels = 0;
  srv.server.on("newChannel", () => channels++);
  const thumb = thumbprintOf(srv.certificate);
  await sleep(5000);
  const seen = channels;
  const allowed = attemptsAllowedIn(performance.now() - t0);
  t.diagnostic(`connections to the new server in the window: ${seen}; the backoff allows ${allowed}`);
  assert.ok(seen <= allowed, `${seen} connections to the new server; the backoff (min ${OPCUA_RETRY_MIN_MS} ms, max ${RECONNECT_MAX_MS} ms) allows ${allowed}`);
  await until("the new certificate to be refused", () => src.health().detail?.includes(thumb));
  await src.stop();

  // One channel per attempt (the discovery probe; the refusal comes before any session channel).
  assert.ok(seen >= 2, `the source kept retrying (${seen} channels)`);
  const refusals = lines.map((l) => JSON.parse(l) as { level: number; thumbprint?: string; err?: string; msg: string })
    .filter((l) => l.thumbprint === thumb);
  assert.equal(refusals.length, 1, `the refusal is logged once: ${JSON.stringify(refusals)}`);
  assert.equal(refusals[0]!.level, 50);
  assert.ok(refusals[0]!.err?.includes(`otgw trust opcua trust ${thumb} --config ${file}`), refusals[0]!.err);

  srv = await restore();
});

/** Back to the first server certificate for the next test. */
async function restore(): Promise<TestOpcuaServer> {
  await srv.stop();
  return startOpcuaServer(port, serverPki);
}

void test("server stopped: every mapped node reads bad `opcua-unreachable`; restarted: good readings again", async () => {
  const { src } = trustedSource();
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  await until("first readings", () => got.some((r) => r.address === VIB && r.quality === "good"));

  await srv.stop();
  const down = got.length;
  const unreachable = (a: string) => got.slice(down).some((r) => r.address === a && r.quality === "bad" && r.qualityDetail === "opcua-unreachable" && r.value === null);
  await until("bad readings for every node", () => ITEMS.every(unreachable));
  assert.notEqual(src.health().state, "running");

  srv = await startOpcuaServer(port, serverPki, 3);
  const back = got.length;
  await until("good readings after the restart", () => got.slice(back).some((r) => r.address === VIB && r.quality === "good" && (r.value as number) >= 3_000_000), 90_000);
  await until("running", () => src.health().state === "running");
  await src.stop();
});

void test("the gateway's OPC UA certificate carries applicationName and the application URI", async () => {
  const { src, pki } = trustedSource(silentLogger(), "press-line-7");
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  await until("readings", () => got.some((r) => r.quality === "good"));
  await src.stop();
  const cert = new X509Certificate(readFileSync(join(pki, "own", "certs", "client_certificate.pem")));
  assert.match(cert.subject, /^CN=press-line-7@/m);
  assert.match(cert.subject, /^O=otgw$/m);
  assert.doesNotMatch(cert.subject, /NodeOPCUA|Sterfive/);
  assert.match(cert.subjectAltName ?? "", /URI:urn:otgw:press-line-7/);
});
