import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_EVENTS } from "../../firmware/audit/events.js";
import { silentLogger } from "../../kernel/log.js";
import { MAX_IN_MEMORY, type Gateway } from "../../firmware/runtime/gateway.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import type { Signer } from "../../kernel/keystore.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

void test("a signer that hangs never makes the gateway hold unbounded readings in memory: past its bound they are dropped, counted and audited", async () => {
  const stack = await newStack();
  // "Delivered" means receipted by a receiver (uplink.receipts: required, the default).
  const rx = stack.receiver(silentLogger());
  await rx.service.start();
  let g: Gateway | undefined;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  try {
    const gw = await stack.addGateway("gw-membound", SIM_EXAMPLE(), (cfg) => {
      for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 1000;
    });
    // A TPM that stopped answering: every signature (session-opens, checkpoints) waits on the gate.
    const hung = (inner: Signer): Signer => ({ algorithm: inner.algorithm, kind: inner.kind, publicKey: () => inner.publicKey(), sign: async (d) => { await gate; return inner.sign(d); } });
    g = (await createGateway({ config: gw, logger: silentLogger(), wrapSigner: hung })).gateway;
    await g.start();
    const gw1 = g;
    await waitFor(() => (gw1.drops.byStream.get("temperature")?.byReason.memory ?? 0) > 1000, "readings refused at the in-memory bound", 300_000);
    assert.ok(gw1.inMemory() <= MAX_IN_MEMORY + 64, `held in memory: ${gw1.inMemory()} (bound ${MAX_IN_MEMORY})`);
    const memoryDrops = [...gw1.drops.byStream.values()].reduce((n, s) => n + (s.byReason.memory ?? 0), 0);
    assert.equal(gw1.stats.sealed + memoryDrops <= gw1.stats.readings, true);
    // The signer comes back: what was held is sealed and queued, and the drops are audited.
    release();
    await g.stop(30_000);
    g = undefined;
    assert.ok(gw1.stats.publishedData > 0, "held records were sealed and delivered once the signer answered");
    const audited = readFileSync(join(gw.config.gateway.stateDir, "audit.jsonl"), "utf8").split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: { count: number; reason: string } })
      .filter((e) => e.type === AUDIT_EVENTS.queueDropped && e.data.reason === "memory");
    const finalDrops = [...gw1.drops.byStream.values()].reduce((n, s) => n + (s.byReason.memory ?? 0), 0);
    assert.equal(audited.reduce((n, e) => n + e.data.count, 0), finalDrops, "every refused reading is in the audit log");
    console.log(`memory bound: ${memoryDrops} readings refused at ${MAX_IN_MEMORY} held, ${gw1.stats.publishedData} delivered after the signer returned`);
  } finally {
    release();
    await g?.stop(1000);
    await rx.service.stop();
    rx.store.close();
    await stack.stop();
  }
});
