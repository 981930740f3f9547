import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import { AuditError } from "../../kernel/errors.js";
import { AuditLog, AUDIT_EVENTS, type AuditEntry } from "../../firmware/audit/audit-log.js";
import { entryHash } from "../../firmware/audit/chain.js";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { auditVerifyCommand } from "../../bin/commands/gateway/audit-verify.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";

const signer = SoftwareSigner.generate();
const tmpFile = (): string => join(mkdtempSync(join(tmpdir(), "otgw-audit-")), "audit.jsonl");
const lines = (file: string): string[] => readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
const write = (file: string, ls: string[]): void => writeFileSync(file, ls.map((l) => l + "\n").join(""));

/** A closed log with `n` events and a checkpoint every 4 entries. */
async function sampleLog(n = 10): Promise<string> {
  const file = tmpFile();
  const clock = new ManualClock();
  const log = AuditLog.open(file, { signer, clock, checkpointEvery: 4 });
  for (let i = 0; i < n; i++) {
    log.append(AUDIT_EVENTS.recordQuarantined, { point: `p${i}`, stream: "vibration", reason: "value: must be <= 50" });
    clock.advanceMs(10);
    await log.flush();
  }
  await log.close();
  return file;
}

function expectFail(file: string, line: number, seq: number | null, problem: RegExp): void {
  const res = verifyAuditFile(file, { publicKey: signer.publicKey() });
  assert.equal(res.ok, false, "tampering must be detected");
  if (res.ok) return;
  assert.equal(res.line, line, res.problem);
  assert.equal(res.seq, seq);
  assert.match(res.problem, problem);
}

void test("append, sign, close, reopen and continue: every entry reaches the disk with the checkpoint that signs it", async () => {
  const file = tmpFile();
  const clock = new ManualClock();
  const seen: AuditEntry[] = [];
  const log = AuditLog.open(file, { signer, clock, checkpointEvery: 3 });
  log.onEntry((e) => seen.push(e));
  log.append(AUDIT_EVENTS.gatewayStart, { gatewayId: "gw-1", mode: "development", signer: "software" });
  assert.equal(readFileSync(file, "utf8"), "", "nothing on disk before its signature");
  log.append(AUDIT_EVENTS.configLoaded, { digest: "ab".repeat(32) });
  log.append(AUDIT_EVENTS.sessionOpened, { stream: "vibration", sessionId: "s1" });
  log.append(AUDIT_EVENTS.gatewayStop, { readings: 1, sealed: 1, quarantined: 0 });
  await log.flush();
  // The first entry went alone; the three appended while it was signed went together (at most 3 per checkpoint).
  const types = [AUDIT_EVENTS.gatewayStart, AUDIT_EVENTS.checkpoint, AUDIT_EVENTS.configLoaded, AUDIT_EVENTS.sessionOpened, AUDIT_EVENTS.gatewayStop, AUDIT_EVENTS.checkpoint];
  assert.deepEqual(seen.map((e) => e.type), types, "listeners hear every entry, checkpoints included");
  const first = seen[0]!;
  assert.equal(first.seq, 1);
  assert.equal(first.prev, "0".repeat(64));
  assert.equal(first.hash, entryHash(first));
  for (const cp of seen.filter((e) => e.type === AUDIT_EVENTS.checkpoint)) assert.equal(cp.data.upTo, cp.seq - 1, "each checkpoint signs the entry right before it");
  await log.close();
  assert.equal(lines(file).length, 6);
  assert.throws(() => log.append("x", {}), AuditError);

  const again = AuditLog.open(file, { signer, clock, checkpointEvery: 3 });
  again.onEntry((e) => seen.push(e));
  again.append(AUDIT_EVENTS.gatewayStart, { gatewayId: "gw-1", mode: "development", signer: "software" });
  await again.close();
  const next = seen[6]!;
  assert.equal(next.seq, 7);
  assert.equal(next.prev, (JSON.parse(lines(file)[5]!) as AuditEntry).hash);
  const res = verifyAuditFile(file, { publicKey: signer.publicKey() });
  assert.ok(res.ok, JSON.stringify(res));
  assert.equal(res.entries, 8);
  assert.equal(res.checkpoints, 3);
  assert.equal(res.keyPinned, true);
});

void test("a run killed while a signature is on its way leaves nothing unsigned on disk; the next open resumes the chain", async () => {
  const file = await sampleLog(2);
  const before = readFileSync(file, "utf8");
  const clock = new ManualClock();
  // A signer that never answers: the process "dies" with the entry still waiting for its signature.
  const stuck = { algorithm: signer.algorithm, kind: signer.kind, publicKey: () => signer.publicKey(), sign: () => new Promise<Buffer>(() => undefined) };
  const killed = AuditLog.open(file, { signer: stuck, clock, checkpointEvery: 100 });
  killed.append(AUDIT_EVENTS.sessionOpened, { stream: "vibration", sessionId: "s1" });
  await new Promise((r) => setImmediate(r));
  assert.equal(readFileSync(file, "utf8"), before, "no unsigned entry reached the file");

  const next = AuditLog.open(file, { signer, clock, checkpointEvery: 100 });
  next.append(AUDIT_EVENTS.gatewayStart, { gatewayId: "gw-1", mode: "development", signer: "software" });
  await next.close();
  const res = verifyAuditFile(file, { publicKey: signer.publicKey() });
  assert.ok(res.ok, JSON.stringify(res));
  assert.equal(res.entries, before.split("\n").filter((l) => l !== "").length + 2);
});

void test("an untouched log verifies", async () => {
  const res = verifyAuditFile(await sampleLog(), { publicKey: signer.publicKey() });
  assert.ok(res.ok);
  assert.ok(res.checkpoints >= 3);
});

void test("editing a middle entry is named (line and seq) — fails if the hash check is removed", async () => {
  const file = await sampleLog();
  const ls = lines(file);
  const e = JSON.parse(ls[4]!) as AuditEntry;
  e.data.reason = "nothing to see";
  ls[4] = JSON.stringify(e);
  write(file, ls);
  expectFail(file, 5, e.seq, /hash does not match the entry's content/);
});

void test("editing an entry and recomputing its hash breaks the next link", async () => {
  const file = await sampleLog();
  const ls = lines(file);
  const e = JSON.parse(ls[1]!) as AuditEntry;
  e.data.point = "other";
  e.hash = entryHash(e);
  ls[1] = JSON.stringify(e);
  write(file, ls);
  expectFail(file, 3, 3, /prev does not match/);
});

void test("rewriting the whole chain after an edit is caught by the signed checkpoint", async () => {
  const file = await sampleLog();
  const ls = lines(file).map((l) => JSON.parse(l) as AuditEntry);
  ls[0]!.data.point = "rewritten";
  let prev = "0".repeat(64);
  for (const e of ls) {
    e.prev = prev;
    e.hash = entryHash(e);
    prev = e.hash;
  }
  write(file, ls.map((e) => JSON.stringify(e)));
  const cp = ls.findIndex((e) => e.type === "checkpoint");
  expectFail(file, cp + 1, cp + 1, /checkpoint hash does not match/);
});

void test("deleting an entry is named", async () => {
  const file = await sampleLog();
  const ls = lines(file);
  ls.splice(2, 1);
  write(file, ls);
  expectFail(file, 3, 4, /seq 4 where 3 was expected: skips ahead/);
});

void test("swapping two entries is named", async () => {
  const file = await sampleLog();
  const ls = lines(file);
  [ls[1], ls[2]] = [ls[2]!, ls[1]!];
  write(file, ls);
  expectFail(file, 2, 3, /seq 3 where 2 was expected/);
});

void test("truncation mid-line is named", async () => {
  const file = await sampleLog();
  const text = readFileSync(file, "utf8");
  writeFileSync(file, text.slice(0, text.length - 40));
  const n = lines(file).length;
  expectFail(file, n, n, /incomplete \(file truncated mid-entry\)/);
});

void test("a forged checkpoint signature is named; so is a checkpoint by another key", async () => {
  const file = await sampleLog();
  const ls = lines(file);
  const i = ls.findIndex((l) => (JSON.parse(l) as AuditEntry).type === "checkpoint");
  const cp = JSON.parse(ls[i]!) as AuditEntry;
  const sig = Buffer.from(cp.data.sig as string, "base64");
  sig[5] = (sig[5] ?? 0) ^ 0xff;
  cp.data.sig = sig.toString("base64");
  cp.hash = entryHash(cp);
  ls[i] = JSON.stringify(cp);
  write(file, ls);
  expectFail(file, i + 1, cp.seq, /checkpoint signature does not verify/);

  const other = await sampleLog();
  const res = verifyAuditFile(other, { publicKey: SoftwareSigner.generate().publicKey() });
  assert.equal(res.ok, false);
  assert.match(res.ok ? "" : res.problem, /signed by sha256:[0-9a-f]{16}, not by the given key/);
});

void test("open repairs a torn last line (crash mid-write) and records it; refuses a tail that does not verify", async () => {
  const file = await sampleLog(3);
  appendFileSync(file, '{"seq":99,"ts":"2023');
  const clock = new ManualClock();
  const log = AuditLog.open(file, { signer, clock, checkpointEvery: 100 });
  await log.close();
  const types = lines(file).map((l) => (JSON.parse(l) as AuditEntry).type);
  assert.ok(types.includes(AUDIT_EVENTS.tailRepaired));
  assert.ok(verifyAuditFile(file, { publicKey: signer.publicKey() }).ok);

  const ls = lines(file);
  const last = JSON.parse(ls.at(-1)!) as AuditEntry;
  last.tsNs = "1";
  ls[ls.length - 1] = JSON.stringify(last);
  write(file, ls);
  assert.throws(() => AuditLog.open(file, { signer, clock, checkpointEvery: 100 }), (e: unknown) => e instanceof AuditError && e.code === "AUDIT_TAIL_INVALID");
});

void test("auditVerifyCommand exit codes and output", async () => {
  const file = await sampleLog();
  const keyFile = join(mkdtempSync(join(tmpdir(), "otgw-key-")), "gw.pub.pem");
  writeFileSync(keyFile, signer.publicKey().export({ type: "spki", format: "pem" }));
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  assert.equal(auditVerifyCommand(file, { publicKey: keyFile }, io), 0);
  assert.match(out[0] ?? "", /^OK .* entries, \d+ signed checkpoint\(s\) by sha256:/);
  const ls = lines(file);
  ls.splice(1, 1);
  write(file, ls);
  assert.equal(auditVerifyCommand(file, { publicKey: keyFile }, io), 1);
  assert.match(err[0] ?? "", /^FAIL .* line 2 \(seq 3\): seq 3 where 2 was expected/);
  assert.equal(auditVerifyCommand(join(tmpdir(), "nope", "missing.jsonl"), {}, io), 2);
});
