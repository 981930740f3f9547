import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { silentLogger } from "../../kernel/log.js";
import { AUDIT_EVENTS } from "../../firmware/audit/events.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { PREDICTION_SCHEMA_ID, type PredictionRecord } from "../../kernel/prediction.js";
import { tracePrediction } from "../../ingest/trace.js";
import { modelInstall } from "../../bin/commands/gateway/model.js";
import type { Io } from "../../bin/output.js";
import { traceCommand } from "../../bin/commands/receiver/trace.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";
import { bundleOf, newSigner } from "./helpers.js";
import { trainedArtefact } from "./plant.js";

const quiet = (): Io & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
};

void test("gateway scores with a verified model; the receiver traces a prediction to its model and verified inputs", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  try {
    const registry = newSigner();
    const pubFile = join(stack.dir, "model-signer.pub.pem");
    writeFileSync(pubFile, registry.publicPem);
    const gw = await stack.addGateway("gw-model-1", SIM_EXAMPLE(), (cfg) => {
      for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 20;
      cfg.models = { trustedSigners: [{ name: "registry", publicKeyFile: pubFile }], priority: 0 };
    });
    // Registry → gateway: v1 then v2 through the CLI's install (real identity and audit log).
    const artefact = trainedArtefact();
    for (const v of [1, 2]) {
      const f = join(stack.dir, `model-v${v}.bundle.json`);
      writeFileSync(f, bundleOf(artefact, v, registry, (a) => (a.driftEveryWindows = 100 + v)));
      const io = quiet();
      assert.equal(await modelInstall(f, gw.file, io), 0, io.lines.join("\n"));
    }
    const rollback = join(stack.dir, "model-v1.bundle.json");
    const io = quiet();
    assert.equal(await modelInstall(rollback, gw.file, io), 3, "rollback refused by the CLI");
    assert.match(io.lines.join("\n"), /MODEL_ROLLBACK/);

    const { gateway, limitReached } = await createGateway({ config: gw, logger: silentLogger(), maxRecords: 12 * 20 * 4 });
    await gateway.start();
    await limitReached;
    await gateway.stop(60_000);
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "receiver to verify every published message");
    assert.equal(store.counts().quarantined, 0);

    const audit = readFileSync(join(gw.config.gateway.stateDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const types = audit.map((e) => e.type);
    for (const t of [AUDIT_EVENTS.modelAccepted, AUDIT_EVENTS.modelPromoted, AUDIT_EVENTS.modelRejected, AUDIT_EVENTS.modelLoaded]) assert.ok(types.includes(t), t);
    const loaded = audit.find((e) => e.type === AUDIT_EVENTS.modelLoaded);
    assert.equal(loaded?.data.version, 2);

    const preds = [...store.verifiedRecords()].filter((r) => r.stream === "predictions").map((r) => JSON.parse(r.record) as PredictionRecord);
    assert.ok(preds.length >= 6, `predictions sealed and verified (${preds.length})`);
    const p = preds.find((x) => x.inputs.length >= 40) ?? preds[0]!;
    assert.equal(p.model.version, 2);
    assert.equal(p.model.digest, loaded?.data.digest);

    const t = tracePrediction(store.file, p.id);
    assert.equal(t.match, true, "input hash recomputed from verified records");
    assert.equal(t.missing, 0);
    assert.equal(t.inputs.length, p.inputs.length);
    assert.equal(t.prediction.gatewayId, "gw-model-1");
    assert.ok(t.inputs.every((i) => i.at !== null && i.at.stream !== "predictions"));
    const lines: string[] = [];
    assert.equal(traceCommand(p.id, { db: store.file }, (l) => lines.push(l)), 0);
    assert.match(lines.join("\n"), /"match": true/);

    // Evidence, not decoration: change one stored input record and the trace no longer matches.
    const first = t.inputs[0]!.at!;
    const db = new Database(store.file);
    db.prepare("UPDATE verified SET record = replace(record, '\"quality\":\"good\"', '\"quality\":\"good\" ') WHERE session_id = ? AND seq = ?").run(first.sessionId, BigInt(first.seq));
    db.close();
    const t2 = tracePrediction(store.file, p.id);
    assert.equal(t2.match, false);
    assert.equal(traceCommand(p.id, { db: store.file }, () => undefined), 4);
    assert.ok(store.counts().events.SESSION_OPENED !== undefined);
    assert.ok([...store.verifiedRecords()].some((r) => r.stream === "predictions"), PREDICTION_SCHEMA_ID);
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
});
