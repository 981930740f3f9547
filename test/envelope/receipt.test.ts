/**
 * Receipts (docs/envelope.md "Receipt"): the committed vector byte for byte, the MAC refusing a
 * forgery (another session's key, a flipped bit), every parse refusal, and what a receiver's session
 * record turns into.
 */
import { createSecretKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { deriveRaw, deriveSessionKeys } from "../../envelope/keys.js";
import {
  MAX_RECEIPT_RANGES, ReceiptReason, encodeReceipt, frameRef, parseReceipt, receiptFrees, verifyReceiptMac, type Receipt,
} from "../../envelope/receipt.js";
import { receiptOf, receiptsOf } from "../../envelope/verify/receipts.js";
import { MemoryVerifierState } from "../../envelope/verify/verifier.js";
import { repoRoot } from "../../kernel/paths.js";
import { makeWorld, show } from "./helpers.js";

interface V { dataKey: string; sessionId: string; gatewayId: string; stream: string; receiptKey: string;
  receipt: { topic: string; flags: number; contiguousNext: string; checkpointIndex: number; held: Array<{ from: string; to: string }>; frame: string } }
const v = JSON.parse(readFileSync(join(repoRoot(), "docs", "envelope-vectors.json"), "utf8")) as V;
const hex = (s: string): Buffer => Buffer.from(s, "hex");

void test("receipt vector: HKDF receipt key, frame bytes, MAC, fields", () => {
  const raw = deriveRaw(hex(v.dataKey), hex(v.sessionId));
  assert.equal(raw.receiptKey.toString("hex"), v.receiptKey);
  const key = createSecretKey(raw.receiptKey);
  const r: Receipt = { sessionId: hex(v.sessionId), gatewayId: v.gatewayId, stream: v.stream, flags: v.receipt.flags, contiguousNext: BigInt(v.receipt.contiguousNext),
    checkpointIndex: v.receipt.checkpointIndex, held: v.receipt.held.map((h) => ({ from: BigInt(h.from), to: BigInt(h.to) })) };
  assert.equal(encodeReceipt(r, key).toString("hex"), v.receipt.frame);
  const p = parseReceipt(hex(v.receipt.frame));
  assert.ok(p.ok, show(p));
  assert.ok(verifyReceiptMac(key, hex(v.receipt.frame), p.macEnd, p.mac));
  assert.deepEqual({ ...p.receipt, sessionId: p.receipt.sessionId.toString("hex") }, { ...r, sessionId: v.sessionId });
});

void test("receipt MAC: another session's key, or any flipped bit, does not verify (BAD_MAC at the gateway)", () => {
  const frame = hex(v.receipt.frame);
  const p = parseReceipt(frame);
  assert.ok(p.ok);
  const other = deriveSessionKeys(Buffer.alloc(32, 1), hex(v.sessionId)).receiptKey;
  assert.equal(verifyReceiptMac(other, frame, p.macEnd, p.mac), false, "a key derived from another data key (another gateway's session) cannot forge it");
  const key = createSecretKey(hex(v.receiptKey));
  const c = Buffer.from(frame);
  // Claim checkpoint 1 accepted: a broker trying to free frames the receiver never committed.
  const at = p.macEnd - 2 - 16 - 1;
  c[at] = (c[at] ?? 0) ^ 0x01;
  const q = parseReceipt(c);
  assert.ok(q.ok && q.receipt.checkpointIndex === 1, show(q));
  assert.equal(verifyReceiptMac(key, c, q.macEnd, q.mac), false);
  assert.equal(ReceiptReason.BAD_MAC, "BAD_MAC");
});

void test("receipt parse refusals: magic, version, type, flags, reserved, ids, lengths, ranges", () => {
  const good = hex(v.receipt.frame);
  const mut = (i: number, val: number): Buffer => { const c = Buffer.from(good); c[i] = val; return c; };
  const cases: Array<[Buffer, string, RegExp]> = [
    [good.subarray(0, 10), ReceiptReason.MALFORMED, /too short or magic/],
    [mut(0, 0x41), ReceiptReason.MALFORMED, /magic/],
    [mut(4, 2), ReceiptReason.UNSUPPORTED_VERSION, /version 2/],
    [mut(5, 2), ReceiptReason.MALFORMED, /type 2 is not 5/],
    [mut(6, 0x80), ReceiptReason.MALFORMED, /flags 0x80/],
    [mut(7, 1), ReceiptReason.MALFORMED, /reserved/],
    [mut(25, 0x2f), ReceiptReason.MALFORMED, /gatewayId breaks the id rule/],
    [good.subarray(0, good.length - 1), ReceiptReason.MALFORMED, /length \d+ is not \d+ for 1 range/],
    [Buffer.concat([good, Buffer.alloc(1)]), ReceiptReason.MALFORMED, /length/],
  ];
  const p = parseReceipt(good);
  assert.ok(p.ok);
  // held range starting at contiguousNext (no gap before it)
  const noGap = Buffer.from(good);
  noGap.writeBigUInt64BE(2n, p.macEnd - 16);
  cases.push([noGap, ReceiptReason.MALFORMED, /held range 0 \(2\.\.3\) is not ascending above 2/]);
  const tooMany = Buffer.from(good);
  tooMany.writeUInt16BE(MAX_RECEIPT_RANGES + 1, p.macEnd - 18);
  cases.push([tooMany, ReceiptReason.MALFORMED, /rangeCount 65/]);
  for (const [b, reason, detail] of cases) {
    const r = parseReceipt(b);
    assert.ok(!r.ok && r.reason === reason && detail.test(r.detail), `${detail}: ${show(r)}`);
  }
});

void test("receiptOf: lowest gap start is contiguousNext, committed ranges between gaps are held; frames freed accordingly", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const state = new MemoryVerifierState();
  const ver = w.verifier({}, state);
  assert.ok((await ver.accept(w.topic, s.openFrame)).ok);
  const frames = Array.from({ length: 8 }, () => s.seal(Buffer.from("{}"), "otgw.reading/1", 1n));
  for (const i of [0, 1, 3, 4, 7]) assert.ok((await ver.accept(w.topic, frames[i]!)).ok); // seq 1,2,4,5,8; 3 and 6..7 lost
  const rec = state.get(s.sessionIdHex);
  assert.ok(rec);
  const r = receiptOf(rec);
  assert.equal(r.contiguousNext, 3n);
  assert.deepEqual(r.held, [{ from: 4n, to: 5n }, { from: 8n, to: 8n }]);
  const key = ver.receiptKey(s.sessionIdHex);
  assert.ok(key);
  // Gateway side: the receiver's key and the sealer's are the same key.
  const wire = encodeReceipt(r, key);
  const p = parseReceipt(wire);
  assert.ok(p.ok && verifyReceiptMac(s.receiptKey, wire, p.macEnd, p.mac));
  const freed = frames.map((f) => receiptFrees(p.receipt, frameRef(f)!));
  assert.deepEqual(freed, [true, true, false, true, true, false, false, true]);
  assert.equal(receiptFrees(p.receipt, frameRef(s.openFrame)!), true);
  // The resend of seq 3 fills the gap: the next receipt covers 1..5 contiguously.
  const fill = await ver.accept(w.topic, frames[2]!);
  assert.ok(fill.ok && fill.kind === "data" && fill.filled, show(fill));
  const r2 = receiptOf(state.get(s.sessionIdHex)!);
  assert.equal(r2.contiguousNext, 6n);
  assert.deepEqual(r2.held, [{ from: 8n, to: 8n }]);
});

void test("receiptsOf: more gaps than one receipt holds (dropped frames never fill them) are split over several receipts; all held seqs covered", () => {
  // Seqs 1..300 arrived but 3, 6, ..., 297: 99 gaps, 99 held ranges above the first (the last is 298..300).
  const gaps = Array.from({ length: 99 }, (_, i) => ({ from: BigInt(3 * (i + 1)), to: BigInt(3 * (i + 1)) }));
  const rec = { sessionId: "00".repeat(16), gatewayId: "gw-x", stream: "s", certSha256: "", openFrame: Buffer.alloc(0), createdNs: 0n, firstSeq: 1n,
    nextSeq: 301n, chain: Buffer.alloc(32), chainBroken: true, lastCheckpointIndex: 0, closed: false, gaps, gapsTrimmedBelow: 0n };
  const rs = receiptsOf(rec);
  assert.equal(rs.length, 2);
  assert.ok(rs.every((r) => r.contiguousNext === 3n && r.held.length <= MAX_RECEIPT_RANGES));
  const key = createSecretKey(Buffer.alloc(32, 5));
  for (const r of rs) assert.ok(parseReceipt(encodeReceipt(r, key)).ok, "each one is well-formed");
  const covered = (seq: bigint): boolean => rs.some((r) => receiptFrees(r, { type: 2, sessionIdHex: rec.sessionId, n: seq }));
  for (let seq = 1n; seq <= 300n; seq++) assert.equal(covered(seq), seq % 3n !== 0n || seq === 300n, `seq ${seq}`);
  assert.equal(receiptOf(rec).held.length, MAX_RECEIPT_RANGES, "a single receipt holds the lowest 64");
});
