/**
 * OPC UA against a node-opcua server with SignAndEncrypt: an untrusted server certificate is refused with
 * the actionable error; trusting it with the CLI's function lets readings flow; status codes become
 * quality; picoseconds survive; a server restart is recovered without losing the mapping.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { systemClock } from "../../kernel/clock.js";
import { silentLogger } from "../../kernel/log.js";
import type { OpcuaSourceConfig } from "../../firmware/config/schema.js";
import { createSources } from "../../hal/registry.js";
import { OpcuaSource, TrustStore, thumbprintOf } from "../../hal/opcua/index.js";
import type { RawReading } from "../../hal/source.js";
import { trustOpcuaCommand } from "../../bin/commands/gateway/trust.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, VIB_PICOSECONDS, VIB_TS_MS, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { sourceContract } from "./source-contract.js";
import { until } from "../../devkit/until.js";

const VIB = "ns=1;s=Pump1.Vibration";
const TEMP = "ns=1;s=Pump1.Temperature";
const PRES = "ns=1;s=Pump1.Pressure";

let port = 0;
let serverPki = "";
let srv: TestOpcuaServer;

before(async () => {
  port = await freePort();
  serverPki = mkdtempSync(join(tmpdir(), "otgw-uasrv-"));
  srv = await startOpcuaServer(port, serverPki);
});
after(async () => {
  await srv.stop();
});

const latest = (got: RawReading[], address: string) => [...got].reverse().find((r) => r.address === address);

const source = (over: Partial<OpcuaSourceConfig> = {}): Record<string, unknown> => ({
  id: "line1", kind: "opcua", endpointUrl: srv.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
  publishingIntervalMs: 100, reconnectMaxMs: 1000, timeoutMs: 5000,
  items: [{ nodeId: VIB, samplingIntervalMs: 50 }, { nodeId: TEMP, samplingIntervalMs: 50 }, { nodeId: PRES, samplingIntervalMs: 50 }],
  ...over,
});

void test("untrusted server refused with thumbprint, subject and the exact command; trusted via `otgw trust` → readings flow", async () => {
  const { config, file } = fieldConfig({ sources: [source()], points: pointsFor("line1", [VIB, TEMP, PRES]) });
  const [src] = await createSources(config, systemClock, silentLogger(), { configFile: file });
  assert.ok(src instanceof OpcuaSource);
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  const thumb = thumbprintOf(srv.certificate);
  const h = src.health();
  assert.equal(h.state, "failed");
  assert.ok(h.detail?.includes(thumb), h.detail ?? "");
  assert.match(h.detail ?? "", /CN=/);
  assert.ok(h.detail?.includes(`otgw trust opcua trust ${thumb} --config ${file}`), h.detail ?? "");
  // No session, no values: every point reads bad "opcua-unreachable" (docs/adapters.md, "Source unreachable").
  assert.deepEqual([...new Set(got.map((r) => `${r.address} ${r.quality} ${r.qualityDetail} ${r.value}`))].sort(),
    [PRES, TEMP, VIB].map((a) => `${a} bad opcua-unreachable null`));

  // The certificate was recorded in rejected/ and the CLI lists it.
  const out: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(`ERR ${l}`) };
  assert.equal(trustOpcuaCommand("list", undefined, { config: file }, io), 0);
  assert.ok(out.some((l) => l.startsWith("rejected") && l.includes(thumb)), out.join("\n"));
  assert.equal(trustOpcuaCommand("trust", thumb.toUpperCase().replace(/(..)(?!$)/g, "$1:"), { config: file }, io), 0, out.join("\n"));

  const fromServer = (a: string) => latest(got, a)?.qualityDetail !== "opcua-unreachable";
  await until("readings after trust", () => latest(got, VIB) && [VIB, TEMP, PRES].every(fromServer));
  await until("running", () => src.health().state === "running");
  const vib = latest(got, VIB)!;
  assert.equal(vib.quality, "good");
  assert.equal(typeof vib.value, "number");
  assert.equal(vib.sourceTsNs, BigInt(VIB_TS_MS) * 1_000_000n + BigInt(Math.floor(VIB_PICOSECONDS / 1000)));
  const temp = latest(got, TEMP)!;
  assert.deepEqual([temp.quality, temp.qualityDetail, typeof temp.value], ["uncertain", "opcua:UncertainLastUsableValue", "number"]);
  const pres = latest(got, PRES)!;
  assert.deepEqual([pres.quality, pres.qualityDetail, pres.value], ["bad", "opcua:BadSensorFailure", null]);
  assert.equal(src.uriFor(VIB), `opcua://127.0.0.1:${port}/${VIB}`);
  // The gateway's application instance certificate was created in the state dir.
  assert.ok(existsSync(join(config.gateway.stateDir, "pki", "opcua", "own", "certs")));
  assert.ok(readdirSync(join(config.gateway.stateDir, "pki", "opcua", "own", "certs")).length > 0);

  // Reject again: the next connection attempt is refused (the store is re-read every attempt).
  assert.equal(trustOpcuaCommand("reject", thumb, { config: file }, io), 0);
  assert.equal(new TrustStore(join(config.gateway.stateDir, "pki", "opcua")).list().find((e) => e.thumbprint === thumb)?.state, "rejected");
  assert.equal(trustOpcuaCommand("remove", thumb, { config: file }, io), 0);
  assert.deepEqual(new TrustStore(join(config.gateway.stateDir, "pki", "opcua")).list(), []);
  await src.stop();
});

function trustedSource(policy: OpcuaSourceConfig["securityPolicy"] = "Basic256Sha256"): { src: OpcuaSource; pki: string } {
  const { config } = fieldConfig({ sources: [source({ securityPolicy: policy })], points: pointsFor("line1", [VIB, TEMP, PRES]) });
  const pki = join(config.gateway.stateDir, "pki", "opcua");
  const store = new TrustStore(pki);
  store.recordRejected(srv.certificate);
  store.trust({ thumbprint: store.list()[0]!.thumbprint });
  const sc = config.sources[0] as OpcuaSourceConfig;
  return { src: new OpcuaSource({ config: sc, pkiDir: pki }, systemClock, silentLogger()), pki };
}

void test("Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss also deliver", async () => {
  for (const policy of ["Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const) {
    const { src } = trustedSource(policy);
    const got: RawReading[] = [];
    await src.start((r) => got.push(r));
    await until(`${policy} readings`, () => latest(got, VIB));
    assert.equal(src.health().state, "running", `${policy}: ${src.health().detail ?? ""}`);
    await src.stop();
  }
});

void test("server restart: the subscription is re-created and readings resume for the same addresses", async () => {
  const { src } = trustedSource();
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  await until("first readings", () => latest(got, VIB));
  await srv.stop();
  await sleep(500);
  srv = await startOpcuaServer(port, serverPki, 2);
  await until("readings from the restarted server", () => ((latest(got, VIB)?.value as number) ?? 0) >= 2_000_000, 90_000);
  await until("all items back", () => [TEMP, PRES].every((a) => got.slice(-20).some((r) => r.address === a)), 30_000);
  await src.stop();
});

sourceContract("opcua (node-opcua server, SignAndEncrypt)", () => ({ source: trustedSource().src, advance: (ms) => sleep(ms + 1500) }));
