/**
 * createGateway opens the gateway's state before start(): what the end-to-end tests do not show is that
 * a gateway stopped without starting, or whose wiring fails half way, leaves none of it open, and that
 * an audit log whose tail the gateway's key did not sign is refused before anything signs over it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../kernel/log.js";
import { AuditError } from "../../kernel/errors.js";
import { keyId } from "../../kernel/keystore.js";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { caFromPem, createCa, gatewayUri, issueCertificate } from "../../fleet/ca/pki.js";
import { AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { entryHash } from "../../firmware/audit/chain.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { auditVerifyCommand } from "../../bin/commands/gateway/audit-verify.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE } from "../e2e/harness.js";

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openUnder(dir: string): string[] {
  const root = realpathSync(dir);
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(`${root}/`) ? [target] : [];
    } catch {
      return []; // closed while listing (the directory's own descriptor)
    }
  });
}

void test("createGateway: stopped without starting, the gateway closes its files and audits nothing; a failing step closes what it had opened", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-wiring", SIM_EXAMPLE());
    const stateDir = gw.config.gateway.stateDir;
    const wired = await createGateway({ config: gw, logger: silentLogger() });
    const open = openUnder(stateDir);
    for (const f of ["queue.db", "quarantine.db", "audit.jsonl"]) assert.ok(open.some((p) => p.endsWith(`/${f}`)), `${f} is open once wired (${open.join(", ")})`);
    await wired.stop();
    assert.deepEqual(openUnder(stateDir), [], "nothing of the state left open");
    assert.equal(readFileSync(join(stateDir, "audit.jsonl"), "utf8"), "", "no start or stop audited: the gateway never ran");

    // An audit log whose last line is no entry is refused when it opens, after the queue and quarantine did.
    writeFileSync(join(stateDir, "audit.jsonl"), "not an audit entry\n");
    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), { code: "AUDIT_TAIL_INVALID" });
    assert.deepEqual(openUnder(stateDir), [], "the queue and quarantine are closed again");
  } finally {
    await stack.stop();
  }
});

void test("createGateway: a tail the gateway's key did not sign (a forged line with a correct chain hash) is refused before start signs over it", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-tail", SIM_EXAMPLE());
    const file = join(gw.config.gateway.stateDir, "audit.jsonl");
    const first = await createGateway({ config: gw, logger: silentLogger() });
    const publicKey = first.identity.signer.publicKey();
    await first.gateway.start();
    await first.stop();
    assert.ok(verifyAuditFile(file, { publicKey }).ok, "the gateway's own run verifies");

    // Someone with write access to the state directory appends an entry, chained correctly.
    const last = JSON.parse(readFileSync(file, "utf8").trim().split("\n").at(-1)!) as AuditEntry;
    const body = { seq: last.seq + 1, ts: last.ts, tsNs: last.tsNs, type: AUDIT_EVENTS.configLoaded, data: { digest: "00".repeat(32) }, prev: last.hash };
    appendFileSync(file, JSON.stringify({ ...body, hash: entryHash(body) }) + "\n");
    const forged = readFileSync(file, "utf8");

    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), (e: unknown) => e instanceof AuditError && e.code === "AUDIT_TAIL_UNAUTHENTICATED" && e.message.includes(file));
    assert.equal(readFileSync(file, "utf8"), forged, "nothing signed over it, nothing written");
    assert.deepEqual(openUnder(gw.config.gateway.stateDir), [], "the queue and quarantine are closed again");
  } finally {
    await stack.stop();
  }
});

void test("createGateway: a key rotated while the gateway was stopped is taken over only with a certificate of the fleet CA for the previous key; verify then needs both keys", async () => {
  const stack = await newStack();
  try {
    const gw = await stack.addGateway("gw-offline", SIM_EXAMPLE());
    const { certFile } = gw.config.identity;
    const keyDir = join(gw.config.gateway.stateDir, "keys");
    const file = join(gw.config.gateway.stateDir, "audit.jsonl");
    const first = await createGateway({ config: gw, logger: silentLogger() });
    const keyA = first.identity.signer.publicKey();
    await first.gateway.start();
    await first.stop();

    // `otgw identity rotate` with the gateway stopped: new key and certificate, the old ones kept as .prev.
    renameSync(join(keyDir, "gateway.key.pem"), join(keyDir, "gateway.key.pem.prev"));
    const keyB = (await new SoftwareKeyStore(keyDir).create("gateway")).publicKey();
    const ca = caFromPem(readFileSync(stack.pki.caCert, "utf8"), readFileSync(stack.pki.caKey, "utf8"));
    const certB = await issueCertificate({ ca, commonName: "gw-offline", publicKey: keyB, days: 30, usage: "client", sanUris: [gatewayUri("gw-offline")] });
    const certA = readFileSync(certFile, "utf8");
    writeFileSync(certFile, certB.certPem);

    // A ".prev" certificate for key A that the fleet CA did not issue proves nothing: refused.
    const foreign = await createCa({ commonName: "not the fleet CA", days: 1 });
    writeFileSync(`${certFile}.prev`, (await issueCertificate({ ca: foreign, commonName: "gw-offline", publicKey: keyA, days: 30, usage: "client", sanUris: [gatewayUri("gw-offline")] })).certPem);
    await assert.rejects(createGateway({ config: gw, logger: silentLogger() }), { code: "AUDIT_TAIL_UNAUTHENTICATED" });

    writeFileSync(`${certFile}.prev`, certA);
    const second = await createGateway({ config: gw, logger: silentLogger() });
    await second.gateway.start();
    await second.stop();
    const entries = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEntry);
    const changed = entries.find((e) => e.type === AUDIT_EVENTS.signerChanged);
    assert.deepEqual(changed?.data, { keyFrom: keyId(keyA), keyTo: keyId(keyB) });
    const alone = verifyAuditFile(file, { publicKey: keyA });
    assert.equal(alone.ok, false, "no handover was signed by key A");
    if (!alone.ok) assert.match(alone.problem, /nor by a key it handed over to/);
    const both = verifyAuditFile(file, { publicKey: keyA, alsoKeys: [keyB] });
    assert.ok(both.ok, JSON.stringify(both));
    assert.equal(both.signers.length, 2);
    const pems = [certA, certB.certPem].map((pem, i) => {
      const f = join(gw.config.gateway.stateDir, `key-${i}.cert.pem`);
      writeFileSync(f, pem);
      return f;
    });
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    assert.equal(auditVerifyCommand(file, { publicKey: pems }, io), 0, out.join("\n"));
    assert.equal(auditVerifyCommand(file, { publicKey: pems.slice(0, 1) }, io), 1);
  } finally {
    await stack.stop();
  }
});
