import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { sharedFakeChip } from "../../hal/gpio/fake.js";
import { newStack, SIM_EXAMPLE, waitFor } from "./harness.js";

void test("an enclosure tamper input is a reading and an audit event, and both arrive verified upstream", async () => {
  const LINE = 23;
  sharedFakeChip.set(LINE, 1); // activeLow: 1 = closed
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  const gw = await stack.addGateway("gw-tamper", SIM_EXAMPLE(), (cfg) => {
    (cfg.sources as unknown[]).push({ id: "cabinet", kind: "gpio", backend: "fake", chip: "gpiochip0", lines: [{ line: LINE, debounceMs: 5, activeLow: true, tamper: true }] });
    (cfg.streams as unknown[]).push({ id: "status", priority: 1, valueSchema: { type: "boolean" } });
    (cfg.transforms as unknown[]).push({ id: "contact-v1", unit: "1" });
    (cfg.points as unknown[]).push({ name: "cabinet.door", source: "cabinet", address: String(LINE), stream: "status", transform: "contact-v1", deviceId: "SN-CAB-1" });
  });
  const { gateway } = await createGateway({ config: gw, logger: silentLogger() });
  try {
    await gateway.start();
    sharedFakeChip.set(LINE, 0); // the door opens
    const auditFile = join(gw.config.gateway.stateDir, "audit.jsonl");
    await waitFor(() => readFileSync(auditFile, "utf8").split("\n").filter((l) => l.includes('"tamper.input"')).length >= 2, "tamper audit events");
    await gateway.stop(30_000);
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "receiver to verify everything");
    const entries = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; data: { active?: boolean; uri?: string } });
    const tamper = entries.filter((e) => e.type === "tamper.input");
    assert.deepEqual(tamper.map((e) => e.data.active), [false, true], "state at start (closed), then opened");
    assert.equal(tamper[1]!.data.uri, `gpio://gpiochip0/${LINE}`);
    let doorReadings = 0;
    let upstreamTamper = 0;
    for (const row of store.verifiedRecords()) {
      if (row.stream === "status" && row.record.includes('"cabinet.door"')) doorReadings++;
      if (row.stream === "audit" && row.record.includes('"tamper.input"')) upstreamTamper++;
    }
    assert.ok(doorReadings >= 2, `door readings verified upstream (${doorReadings})`);
    assert.equal(upstreamTamper, 2, "the tamper audit events travelled as the sealed audit stream");
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
});
