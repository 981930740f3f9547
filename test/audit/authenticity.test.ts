/**
 * Issue #13 items 3 and 4: whoever can write the audit file but does not hold the gateway's key cannot
 * add an entry that verifies, nor make the gateway sign over one; an empty log is no proof of anything;
 * and a log that spans key rotations verifies from the first key, following the keys each handed over to.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import { AuditError } from "../../kernel/errors.js";
import { keyId, type Signer } from "../../kernel/keystore.js";
import { AuditLog, AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { entryHash, keyFingerprint } from "../../firmware/audit/chain.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { auditVerifyCommand } from "../../bin/commands/gateway/audit-verify.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";

const gatewayKey = SoftwareSigner.generate();
const tmpFile = (): string => join(mkdtempSync(join(tmpdir(), "otgw-audit-auth-")), "audit.jsonl");
const entries = (file: string): AuditEntry[] => readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditEntry);
const spki = (s: Signer): string => s.publicKey().export({ type: "spki", format: "der" }).toString("base64");
const captured = (): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
};

/** A log the gateway wrote: `n` events, each on disk with its checkpoint. */
async function gatewayLog(n: number, signer: Signer = gatewayKey, file = tmpFile()): Promise<string> {
  const clock = new ManualClock();
  const log = AuditLog.open(file, { signer, clock, checkpointEvery: 100 });
  for (let i = 0; i < n; i++) {
    log.append(AUDIT_EVENTS.recordQuarantined, { point: `p${i}`, stream: "vibration", reason: "value: must be <= 50" });
    clock.advanceMs(10);
    await log.flush();
  }
  await log.close();
  return file;
}

/** What someone with write access to the file can do: append an entry with a correctly computed chain hash. */
function forge(file: string, type: string, data: Record<string, unknown>): AuditEntry {
  const last = entries(file).at(-1);
  const body = { seq: (last?.seq ?? 0) + 1, ts: "2026-12-03T10:00:00.000Z", tsNs: "1796292000000000000", type, data, prev: last?.hash ?? "0".repeat(64) };
  const e: AuditEntry = { ...body, hash: entryHash(body) };
  appendFileSync(file, JSON.stringify(e) + "\n");
  return e;
}

/** ... and a checkpoint over the last entry, signed by a key of their own. */
async function forgeCheckpoint(file: string, key: Signer): Promise<AuditEntry> {
  const last = entries(file).at(-1)!;
  const sig = await key.sign(Buffer.from(last.hash, "hex"));
  return forge(file, AUDIT_EVENTS.checkpoint, { upTo: last.seq, hash: last.hash, sig: sig.toString("base64"), publicKey: spki(key) });
}

void test("a forged line appended with a correct chain hash fails `otgw audit verify`, named by its line (pinned or not)", async () => {
  const file = await gatewayLog(3);
  const forged = forge(file, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  assert.equal(forged.seq, 7);
  for (const publicKey of [gatewayKey.publicKey(), undefined]) {
    const res = verifyAuditFile(file, { publicKey });
    assert.equal(res.ok, false, "an entry no checkpoint signs must not verify");
    if (res.ok) return;
    assert.equal(res.line, 7);
    assert.equal(res.seq, 7);
    assert.match(res.problem, /entry 7 and the 0 after it are not covered by a signed checkpoint/);
  }
  const c = captured();
  assert.equal(auditVerifyCommand(file, {}, c.io), 1);
  assert.match(c.err[0] ?? "", /^FAIL .* line 7 \(seq 7\): entry 7 .* not covered by a signed checkpoint/);
});

void test("a forged line under a checkpoint signed by the forger's own key fails at that checkpoint", async () => {
  const file = await gatewayLog(3);
  forge(file, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  const forger = SoftwareSigner.generate();
  const cp = await forgeCheckpoint(file, forger);
  const pinned = verifyAuditFile(file, { publicKey: gatewayKey.publicKey() });
  assert.equal(pinned.ok, false);
  if (!pinned.ok) {
    assert.equal(pinned.line, cp.seq);
    assert.match(pinned.problem, new RegExp(`checkpoint signed by ${keyFingerprint(spki(forger))}, not by the given key ${keyFingerprint(spki(gatewayKey))}`));
  }
  const unpinned = verifyAuditFile(file);
  assert.equal(unpinned.ok, false, "the log's own first key is the anchor when none is pinned");
  if (!unpinned.ok) assert.match(unpinned.problem, /not by the key in force .* nor by a key it handed over to/);
});

void test("the gateway's audit log refuses to open on a tail its key did not sign (AUDIT_TAIL_UNAUTHENTICATED), and writes nothing over it", async () => {
  const bare = await gatewayLog(2);
  forge(bare, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  const signedByOther = await gatewayLog(2);
  forge(signedByOther, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  await forgeCheckpoint(signedByOther, SoftwareSigner.generate());
  // Followed by a torn fragment, as a crash mid-write leaves: still refused, and the fragment is kept too.
  const torn = await gatewayLog(2);
  forge(torn, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  appendFileSync(torn, '{"seq":6,"ts":"2026-');
  const refusals = [
    [bare, /entry 5 \(config\.loaded\) is not covered by a signed checkpoint/],
    [signedByOther, /checkpoint at entry 6 is signed by sha256:[0-9a-f]{16}, not by this gateway's key/],
    [torn, /entry 5 \(config\.loaded\) is not covered by a signed checkpoint/],
  ] as const;
  for (const [file, why] of refusals) {
    const before = readFileSync(file, "utf8");
    assert.throws(
      () => AuditLog.open(file, { signer: gatewayKey, clock: new ManualClock(), checkpointEvery: 100 }),
      (e: unknown) => e instanceof AuditError && e.code === "AUDIT_TAIL_UNAUTHENTICATED" && why.test(e.message) && /otgw audit verify/.test(e.message),
    );
    assert.equal(readFileSync(file, "utf8"), before, "the evidence is left as it was");
  }
});

void test("an empty (0-byte) log does not verify, unless the device is declared fresh", () => {
  const file = tmpFile();
  writeFileSync(file, "");
  const res = verifyAuditFile(file, { publicKey: gatewayKey.publicKey() });
  assert.equal(res.ok, false);
  if (!res.ok) assert.match(res.problem, /^empty log/);
  const c = captured();
  assert.equal(auditVerifyCommand(file, {}, c.io), 1);
  assert.match(c.err[0] ?? "", /^FAIL .*: empty log/);
  assert.equal(auditVerifyCommand(file, { fresh: true }, c.io), 0);
  assert.match(c.out[0] ?? "", /^OK .*: 0 entries/);
});

/** A gateway's log across two rotations A -> B -> C, written as Gateway.switchIdentity writes it. */
async function rotatedLog(a: Signer, b: Signer, c: Signer): Promise<string> {
  const file = tmpFile();
  const clock = new ManualClock();
  const log = AuditLog.open(file, { signer: a, clock, checkpointEvery: 100 });
  log.append(AUDIT_EVENTS.gatewayStart, { gatewayId: "gw-1", mode: "production", signer: "tpm" });
  await log.flush();
  for (const [from, to] of [[a, b], [b, c]] as const) {
    log.append(AUDIT_EVENTS.identityRotated, { serialFrom: "01", serialTo: "02", notAfter: "2027-01-01T00:00:00.000Z", keyFrom: keyId(from.publicKey()), keyTo: keyId(to.publicKey()) });
    log.append(AUDIT_EVENTS.uplinkSwitched, { serial: "02", clientId: "gw-1.b", drainMs: 3, carriedOver: 0, madeBeforeBreak: true });
    await log.setSigner(to);
    log.append(AUDIT_EVENTS.recordQuarantined, { point: "p", stream: "vibration", reason: "value: must be <= 50" });
    await log.flush();
  }
  await log.close();
  return file;
}

void test("a log spanning key rotations verifies with the original key pinned, following each handover; the next start holds the last key", async () => {
  const [a, b, c] = [SoftwareSigner.generate(), SoftwareSigner.generate(), SoftwareSigner.generate()];
  const file = await rotatedLog(a, b, c);
  const res = verifyAuditFile(file, { publicKey: a.publicKey() });
  assert.ok(res.ok, JSON.stringify(res));
  assert.deepEqual(res.signers, [a, b, c].map((k) => keyFingerprint(spki(k))), "every key in the order it took over");
  assert.ok(verifyAuditFile(file).ok, "unpinned too");
  const wrongStart = verifyAuditFile(file, { publicKey: b.publicKey() });
  assert.equal(wrongStart.ok, false, "pinning a later key fails at the first checkpoint of the first one");

  // The handover is in the same write as the old key's checkpoint: the log never ends on a key the next start lacks.
  const reopened = AuditLog.open(file, { signer: c, clock: new ManualClock(), checkpointEvery: 100 });
  await reopened.close();
  assert.throws(() => AuditLog.open(file, { signer: a, clock: new ManualClock(), checkpointEvery: 100 }), { code: "AUDIT_TAIL_UNAUTHENTICATED" });
});

void test("a rotation entry not signed by the previous key is refused, and so is a checkpoint by a key other than the one introduced", async () => {
  const a = SoftwareSigner.generate();
  // Someone with file access "rotates" to their own key: the rotation entry is covered only by their key.
  const file = await gatewayLog(2, a);
  const x = SoftwareSigner.generate();
  forge(file, AUDIT_EVENTS.identityRotated, { serialFrom: "01", serialTo: "66", notAfter: "2027-01-01T00:00:00.000Z", keyFrom: keyId(a.publicKey()), keyTo: keyId(x.publicKey()) });
  const cp = await forgeCheckpoint(file, x);
  forge(file, AUDIT_EVENTS.configLoaded, { digest: "cd".repeat(32) });
  await forgeCheckpoint(file, x);
  const res = verifyAuditFile(file, { publicKey: a.publicKey() });
  assert.equal(res.ok, false);
  if (!res.ok) {
    assert.equal(res.line, cp.seq, "refused at the first checkpoint of the key nobody handed over to");
    assert.match(res.problem, /nor by a key it handed over to/);
  }

  // The gateway's own key A introduced B (rotation entry under A's checkpoint), but the next checkpoint is by C.
  const [b, c] = [SoftwareSigner.generate(), SoftwareSigner.generate()];
  const swapped = await gatewayLog(1, a);
  forge(swapped, AUDIT_EVENTS.identityRotated, { serialFrom: "01", serialTo: "02", notAfter: "2027-01-01T00:00:00.000Z", keyFrom: keyId(a.publicKey()), keyTo: keyId(b.publicKey()) });
  await forgeCheckpoint(swapped, a);
  const byC = await forgeCheckpoint(swapped, c);
  const res2 = verifyAuditFile(swapped, { publicKey: a.publicKey() });
  assert.equal(res2.ok, false);
  if (!res2.ok) {
    assert.equal(res2.line, byC.seq);
    assert.match(res2.problem, new RegExp(`checkpoint signed by ${keyFingerprint(spki(c))}`));
  }
});
