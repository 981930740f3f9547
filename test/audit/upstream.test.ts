/**
 * Issue #13 item 3: a log cut at an entry boundary, or emptied, is a valid-looking prefix of itself;
 * what went upstream proves the cut. A real gateway ships its audit stream through mosquitto to a real
 * receiver; `otgw audit verify --upstream <receiver db>` then names the entries missing locally.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { readUpstreamAudit } from "../../firmware/audit/upstream.js";
import { AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { auditVerifyCommand } from "../../bin/commands/gateway/audit-verify.js";
import { newStack, simGateway, waitFor } from "../e2e/harness.js";

void test("a truncated or emptied audit log is caught against the audit stream the receiver verified, naming the missing entries", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  const { gateway, limit, stateDir, publicKey } = await simGateway(stack, "gw-audit-up", 200);
  const dbFile = join(stack.dir, "receiver", "r1.db");
  try {
    await gateway.start();
    await limit;
    await gateway.stop(60_000);
    await waitFor(() => store.counts().verified >= gateway.stats.publishedData, "receiver to verify every published frame");
  } finally {
    await service.stop();
    store.close();
    await stack.stop();
  }
  const file = join(stateDir, "audit.jsonl");
  const keyFile = join(mkdtempSync(join(tmpdir(), "otgw-key-")), "gw.pub.pem");
  writeFileSync(keyFile, publicKey.export({ type: "spki", format: "pem" }));
  const local = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  const upstream = readUpstreamAudit(dbFile);
  assert.equal(upstream.length, local.length, "every entry of the log went upstream (the stop's included)");

  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  assert.equal(auditVerifyCommand(file, { publicKey: keyFile, upstream: dbFile }, io), 0, err.join("\n"));
  assert.match(out.at(-1) ?? "", new RegExp(`${local.length} match the receiver's copy, 0 not upstream yet`));

  // Cut after the first checkpoint: the prefix verifies on its own, and only the upstream copy shows the cut.
  const cut = local.findIndex((l) => (JSON.parse(l) as AuditEntry).type === AUDIT_EVENTS.checkpoint) + 1;
  assert.ok(cut > 0 && cut < local.length);
  writeFileSync(file, local.slice(0, cut).map((l) => l + "\n").join(""));
  assert.ok(verifyAuditFile(file, { publicKey }).ok, "a prefix cut at a checkpoint verifies without the upstream copy");
  const truncated = verifyAuditFile(file, { publicKey, upstream });
  assert.equal(truncated.ok, false);
  if (!truncated.ok) {
    assert.deepEqual(truncated.missing, [{ from: cut + 1, to: local.length }]);
    assert.match(truncated.problem, new RegExp(`^${local.length - cut} entr\\(ies\\) the receiver verified are not in this file \\(seq ${cut + 1}-${local.length}\\)`));
  }
  assert.equal(auditVerifyCommand(file, { publicKey: keyFile, upstream: dbFile }, io), 1);
  assert.match(err.at(-1) ?? "", /^FAIL .*: \d+ entr\(ies\) the receiver verified are not in this file/);

  // Emptied: every entry is missing, even with --fresh (the receiver knows the device wrote some).
  writeFileSync(file, "");
  const emptied = verifyAuditFile(file, { publicKey, upstream, fresh: true });
  assert.equal(emptied.ok, false);
  if (!emptied.ok) assert.deepEqual(emptied.missing, [{ from: 1, to: local.length }]);

  // An export of the receiver's audit stream (one entry per line) serves as well as its database.
  const exportFile = join(mkdtempSync(join(tmpdir(), "otgw-up-")), "audit-upstream.jsonl");
  writeFileSync(exportFile, upstream.map((e) => JSON.stringify(e)).join("\n") + "\n");
  assert.equal(auditVerifyCommand(file, { publicKey: keyFile, upstream: exportFile }, io), 1);
  assert.match(err.at(-1) ?? "", new RegExp(`seq 1-${local.length}\\)`));
});
