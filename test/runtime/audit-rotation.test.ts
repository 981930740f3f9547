/**
 * Issue #13 item 4 on a running gateway: Gateway.switchIdentity to a new key (real mosquitto, make-
 * before-break) leaves an audit log that verifies with the first key pinned, the new key introduced by
 * the old one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { keyId } from "../../kernel/keystore.js";
import { AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { keyFingerprint } from "../../firmware/audit/chain.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { caFromPem, gatewayUri, issueCertificate } from "../../fleet/ca/pki.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

void test("a running gateway rotated to a new key: its audit log verifies from the first key, which handed over to the new one", async () => {
  const stack = await newStack();
  // "Delivered" means receipted by a receiver (uplink.receipts: required, the default).
  const rx = stack.receiver(silentLogger());
  await rx.service.start();
  try {
    const gw = await stack.addGateway("gw-rot", SIM_EXAMPLE());
    const handle = await createGateway({ config: gw, logger: silentLogger() });
    const { gateway } = handle;
    const keyA = handle.identity.signer.publicKey();
    await gateway.start();
    await waitFor(() => gateway.stats.publishedData > 20, "readings flowing on the first key");

    const keyDir = mkdtempSync(join(tmpdir(), "otgw-next-key-"));
    const next = await new SoftwareKeyStore(keyDir).create("next");
    const ca = caFromPem(readFileSync(stack.pki.caCert, "utf8"), readFileSync(stack.pki.caKey, "utf8"));
    const cert = await issueCertificate({ ca, commonName: "gw-rot", publicKey: next.publicKey(), days: 30, usage: "client", sanUris: [gatewayUri("gw-rot")] });
    await gateway.switchIdentity({ signer: next, tls: { ca: readFileSync(stack.pki.caCert, "utf8"), cert: cert.certPem, key: readFileSync(join(keyDir, "next.key.pem"), "utf8") } });
    const after = gateway.stats.publishedData;
    await waitFor(() => gateway.stats.publishedData > after + 20, "readings flowing on the new key");
    await handle.stop();

    const file = join(gw.config.gateway.stateDir, "audit.jsonl");
    const entries = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEntry);
    const rotated = entries.find((e) => e.type === AUDIT_EVENTS.identityRotated);
    assert.equal(rotated?.data.keyFrom, keyId(keyA));
    assert.equal(rotated?.data.keyTo, keyId(next.publicKey()));
    const res = verifyAuditFile(file, { publicKey: keyA });
    assert.ok(res.ok, JSON.stringify(res));
    const spki = (k: typeof keyA): string => k.export({ type: "spki", format: "der" }).toString("base64");
    assert.deepEqual(res.signers, [keyFingerprint(spki(keyA)), keyFingerprint(spki(next.publicKey()))]);
    assert.equal(verifyAuditFile(file, { publicKey: next.publicKey() }).ok, false, "the log does not start with the new key");
  } finally {
    await rx.service.stop();
    rx.store.close();
    await stack.stop();
  }
});
