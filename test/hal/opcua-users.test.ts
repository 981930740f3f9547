import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { systemClock } from "../../kernel/clock.js";
import type { RawReading, Source } from "../../hal/source.js";
import { createSources } from "../../hal/registry.js";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { until } from "../../devkit/until.js";

const VIB = "ns=1;s=Pump1.Vibration";
const dir = mkdtempSync(join(tmpdir(), "otgw-uausers-"));
const password = randomBytes(12).toString("hex"); // generated per run, never committed
let srv: TestOpcuaServer;

before(async () => {
  srv = await startOpcuaServer(await freePort(), join(dir, "server-pki"), 1, 0, { passwords: { operator: password }, certificates: true });
});
after(async () => {
  await srv.stop();
});

async function run(user: Record<string, unknown>): Promise<{ src: Source; got: RawReading[] }> {
  const { config, file } = fieldConfig({
    sources: [{ id: "line1", kind: "opcua", endpointUrl: srv.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256",
      trustAll: true, user, publishingIntervalMs: 100, reconnectMaxMs: 1000, timeoutMs: 5000, items: [{ nodeId: VIB, samplingIntervalMs: 50 }] }],
    points: pointsFor("line1", [VIB]),
  });
  const [src] = await createSources(config, systemClock, silentLogger(), { configFile: file });
  assert.ok(src);
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  return { src, got };
}


void test("a server that refuses anonymous sessions: the right username/password reads, a wrong one is refused visibly", async () => {
  const good = join(dir, "operator.pw");
  const bad = join(dir, "wrong.pw");
  writeFileSync(good, password + "\n", { mode: 0o600 });
  writeFileSync(bad, "not-the-password\n", { mode: 0o600 });

  const ok = await run({ type: "username", username: "operator", passwordFile: good });
  await until("readings with the username identity", () => ok.got.some((r) => r.quality === "good"));
  await ok.src.stop();

  const denied = await run({ type: "username", username: "operator", passwordFile: bad });
  await until("the refusal to show in health", () => denied.src.health().state === "failed");
  assert.ok(denied.got.every((r) => r.quality === "bad" && r.qualityDetail === "opcua-unreachable"), "no values without a valid identity");
  assert.match(denied.src.health().detail ?? "", /BadUserAccessDenied|BadIdentityToken|user|identity/i);
  await denied.src.stop();

  const anon = await run({ type: "anonymous" });
  await until("anonymous to be refused", () => anon.src.health().state === "failed");
  assert.ok(anon.got.every((r) => r.quality === "bad" && r.qualityDetail === "opcua-unreachable"));
  await anon.src.stop();
});

void test("an X.509 user identity (RSA certificate and key made at test time) opens a session and reads", async () => {
  const cert = join(dir, "user.crt");
  const key = join(dir, "user.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=otgw-test-user"], {
    stdio: "pipe",
    // In this process (after node-opcua has started) openssl failed to open its config; a clean environment avoids that.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const u = await run({ type: "certificate", certFile: cert, keyFile: key });
  await until("readings with the X.509 user identity", () => u.got.some((r) => r.quality === "good"));
  await u.src.stop();
});
