import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../kernel/log.js";
import { systemClock } from "../../kernel/clock.js";
import type { RawReading } from "../../hal/source.js";
import { createSources } from "../../hal/registry.js";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";

// Pump1.Temperature alternates between 41.5 and 42.5 every 20 ms on the test server.
const TEMP = "ns=1;s=Pump1.Temperature";
let srv: TestOpcuaServer;
before(async () => {
  srv = await startOpcuaServer(await freePort(), mkdtempSync(join(tmpdir(), "otgw-uadb-")));
});
after(async () => {
  await srv.stop();
});

async function updates(deadband?: { type: "absolute"; value: number }): Promise<number> {
  const { config } = fieldConfig({
    sources: [{ id: "line1", kind: "opcua", endpointUrl: srv.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", trustAll: true,
      publishingIntervalMs: 100, items: [{ nodeId: TEMP, samplingIntervalMs: 50, queueSize: 100, ...(deadband ? { deadband } : {}) }] }],
    points: pointsFor("line1", [TEMP]),
  });
  const [src] = await createSources(config, systemClock, silentLogger());
  assert.ok(src);
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  for (let i = 0; i < 400 && got.length === 0; i++) await sleep(25); // first value = subscription is live
  assert.ok(got.length > 0, "the subscription delivers");
  const start = got.length;
  await sleep(1500);
  await src.stop();
  return got.length - start;
}

void test("monitored items honour an absolute deadband: changes of 1.0 pass without one and are filtered by a deadband of 2.0", async () => {
  const plain = await updates();
  const filtered = await updates({ type: "absolute", value: 2 });
  assert.ok(plain >= 5, `without a deadband the alternating value is reported (${plain} updates in 1.5 s)`);
  assert.ok(filtered <= 1, `with a deadband of 2.0 the changes of 1.0 are filtered (${filtered} updates)`);
});
