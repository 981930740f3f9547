import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { systemClock } from "../../kernel/clock.js";
import type { RawReading } from "../../hal/source.js";
import { createSources } from "../../hal/registry.js";
import { freePort } from "../../devkit/dev-plant/modbus-peers.js";
import { startOpcuaServer, type TestOpcuaServer } from "../../devkit/dev-plant/opcua-server.js";
import { fieldConfig, pointsFor } from "../../devkit/dev-plant/field-config.js";
import { until } from "../../devkit/until.js";

// Pump1.Temperature alternates between 41.5 and 42.5 on every tick of the test server (20 ms). The
// filtering happens in the server, on its own timers, so the window is measured in the server's own
// progress rather than in wall-clock time: Pump1.Vibration, which changes on every tick and has no
// deadband, rides in the same subscription as the yardstick.
const TEMP = "ns=1;s=Pump1.Temperature";
const VIB = "ns=1;s=Pump1.Vibration";
/** Yardstick updates per window: 30 samples at 50 ms, about 1.5 s of an unloaded server. */
const WINDOW = 30;
let srv: TestOpcuaServer;
before(async () => {
  srv = await startOpcuaServer(await freePort(), mkdtempSync(join(tmpdir(), "otgw-uadb-")));
});
after(async () => {
  await srv.stop();
});

/** Temperature updates while the yardstick delivers WINDOW updates, after both items' first values. */
async function updates(deadband?: { type: "absolute"; value: number }): Promise<number> {
  const { config } = fieldConfig({
    sources: [{ id: "line1", kind: "opcua", endpointUrl: srv.endpointUrl, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", trustAll: true,
      publishingIntervalMs: 100, items: [
        { nodeId: TEMP, samplingIntervalMs: 50, queueSize: 100, ...(deadband ? { deadband } : {}) },
        { nodeId: VIB, samplingIntervalMs: 50, queueSize: 100 },
      ] }],
    points: pointsFor("line1", [TEMP, VIB]),
  });
  const [src] = await createSources(config, systemClock, silentLogger());
  assert.ok(src);
  const got: RawReading[] = [];
  await src.start((r) => got.push(r));
  const of = (address: string, from: number) => got.slice(from).filter((r) => r.address === address).length;
  await until("the first value of both items (the subscription is live)", () => of(TEMP, 0) > 0 && of(VIB, 0) > 0);
  const start = got.length;
  await until(`${WINDOW} yardstick updates`, () => of(VIB, start) >= WINDOW);
  const temp = of(TEMP, start); // counted before anything else can arrive: readings come from I/O callbacks
  await src.stop();
  return temp;
}

void test("monitored items honour an absolute deadband: changes of 1.0 pass without one and are filtered by a deadband of 2.0", async () => {
  const plain = await updates();
  const filtered = await updates({ type: "absolute", value: 2 });
  assert.ok(plain >= 5, `without a deadband the alternating value is reported (${plain} updates while the yardstick had ${WINDOW})`);
  assert.ok(filtered <= 1, `with a deadband of 2.0 the changes of 1.0 are filtered (${filtered} updates)`);
});
