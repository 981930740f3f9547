import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { silentLogger } from "../../kernel/log.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { newStack, simGateway, waitFor } from "./harness.js";

void test("sim plant → seal → queue → mTLS mosquitto → receiver: every published message verified once, with lineage", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  const { gateway, limit, stateDir, publicKey } = await simGateway(stack, "gw-e2e-1", 3000);
  try {
    await gateway.start();
    await limit;
    await gateway.stop(60_000);
    const published = gateway.stats.publishedData;
    assert.ok(gateway.stats.sealed >= 3000, `sealed ${gateway.stats.sealed}`);
    assert.ok(published >= gateway.stats.sealed, "audit records are published as data too");
    await waitFor(() => store.counts().verified >= published, "receiver to verify every published message");
    const c = store.counts();
    assert.equal(c.verified, published);
    assert.equal(c.quarantined, 0, `receiver refused frames: ${JSON.stringify(c.byReason)}`);
    assert.equal(gateway.stats.queueDepth, 0);

    const perStream = new Map<string, bigint>();
    let readings = 0;
    let audits = 0;
    for (const row of store.verifiedRecords()) {
      const key = `${row.sessionId}`;
      const prev = perStream.get(key);
      if (prev !== undefined) assert.equal(row.seq, prev + 1n, `seq strictly consecutive within session ${key}`);
      perStream.set(key, row.seq);
      if (row.stream === "audit") {
        audits++;
        continue;
      }
      readings++;
      const r = JSON.parse(row.record) as NormalizedRecord;
      assert.equal(r.lineage.gatewayId, "gw-e2e-1");
      assert.match(r.lineage.sourceUri, /^sim:\/\//);
      assert.match(r.lineage.transformRuleSha256, /^[0-9a-f]{64}$/);
      assert.ok(r.lineage.deviceId.length > 0 && r.lineage.transformRuleId.length > 0);
      assert.match(r.sourceTsNs, /^[0-9]{19}$/);
      assert.match(r.gatewayTsNs, /^[0-9]{19}$/);
    }
    assert.equal(readings, gateway.stats.sealed);
    assert.ok(audits >= 3, `audit stream shipped (${audits} entries)`);
    assert.ok((c.events.SESSION_OPENED ?? 0) >= 2, "a session per stream");
    assert.equal(c.events.SEQUENCE_GAP ?? 0, 0);
    assert.equal(c.events.CHECKPOINT_MISMATCH ?? 0, 0);
    assert.equal(c.events.SESSION_UNCLOSED ?? 0, 0, "a clean stop closes every session with a final checkpoint");

    // The gateway's own audit log verifies against its identity key, and an edit is caught.
    const auditFile = join(stateDir, "audit.jsonl");
    const ok = verifyAuditFile(auditFile, { publicKey });
    assert.ok(ok.ok, `audit log verifies: ${JSON.stringify(ok)}`);
    assert.ok(ok.checkpoints >= 1, "the audit log carries a signed checkpoint");
    const lines = readFileSync(auditFile, "utf8").split("\n");
    const edited = lines.findIndex((l) => l.includes('"config.loaded"'));
    lines[edited] = lines[edited]!.replace('"config.loaded"', '"config.changed"');
    writeFileSync(auditFile, lines.join("\n"));
    const bad = verifyAuditFile(auditFile, { publicKey });
    assert.equal(bad.ok, false, "an edited audit entry is detected");
    if (!bad.ok) assert.equal(bad.line, edited + 1);
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
});
