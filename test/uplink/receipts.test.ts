/**
 * The gateway's receipt tracker (firmware/uplink/receipts.ts) on real sealed frames and real receipts:
 * PUBACK does not free a frame while receipts are required, an authentic receipt does, and a forged,
 * altered, foreign or unknown-session receipt frees nothing. Overdue frames and frames a receipt names
 * missing come back for a resend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { encodeReceipt, type Receipt } from "../../envelope/receipt.js";
import { deriveSessionKeys } from "../../envelope/keys.js";
import { ReceiptTracker } from "../../firmware/uplink/receipts.js";
import type { QueueItem } from "../../firmware/queue/queue.js";
import { makeWorld } from "../envelope/helpers.js";

async function setup(): Promise<{ tracker: ReceiptTracker; items: QueueItem[]; key: KeyObject; sid: Buffer; gw: string; stream: string }> {
  const w = await makeWorld("gw-rc", "line1");
  const s = await w.sealer();
  const frames = [s.openFrame, ...Array.from({ length: 6 }, () => s.seal(Buffer.from("{}"), "otgw.reading/1", 1n))];
  const items = frames.map((payload, i): QueueItem => ({ id: i + 1, stream: "line1", topic: w.topic, priority: 2, payload, enqueuedMs: 0 }));
  const keys = new Map([[s.sessionIdHex, s.receiptKey]]);
  const tracker = new ReceiptTracker({ mode: "required", gatewayId: "gw-rc", keyOf: (id) => keys.get(id), resendAfterMs: 1000, gapGraceMs: 100 });
  return { tracker, items, key: s.receiptKey, sid: Buffer.from(s.sessionIdHex, "hex"), gw: "gw-rc", stream: "line1" };
}

void test("receipts required: PUBACK keeps the frame, an authentic receipt frees exactly what it covers", async () => {
  const { tracker, items, key, sid, gw, stream } = await setup();
  for (const it of items) assert.equal(tracker.acknowledged(it, 0, true), false, `item ${it.id} waits for its receipt`);
  assert.equal(tracker.counters(500).unreceipted, 7);
  assert.equal(tracker.counters(500).oldestUnreceiptedMs, 500);
  // The receiver committed seq 1..2 and 4..5; seq 3 is missing (items: 1 = open, 2.. = seq 1..).
  const r: Receipt = { sessionId: sid, gatewayId: gw, stream, flags: 0, contiguousNext: 3n, checkpointIndex: 0, held: [{ from: 4n, to: 5n }] };
  const out = tracker.receipt(encodeReceipt(r, key), 500);
  assert.ok(out.ok);
  assert.deepEqual(out.freed.sort((a, b) => a - b), [1, 2, 3, 5, 6]);
  assert.deepEqual(out.missing, [{ id: 4, priority: 2 }], "seq 3 is named missing (below the held range, sent long enough ago)");
  assert.equal(tracker.counters(500).unreceipted, 2);
  // Seq 6 is above every held range: not missing, just not yet receipted; overdue once resendAfterMs passed
  // with no receipt for the session.
  assert.deepEqual(tracker.overdue(1200), []);
  assert.deepEqual(tracker.overdue(1600).map((o) => o.id), [4, 7]);
});

void test("a forged, altered, foreign or unknown-session receipt frees nothing, each with its reason", async () => {
  const { tracker, items, key, sid, gw, stream } = await setup();
  for (const it of items) tracker.acknowledged(it, 0, true);
  const all: Receipt = { sessionId: sid, gatewayId: gw, stream, flags: 0, contiguousNext: 100n, checkpointIndex: 9, held: [] };
  const otherKey = deriveSessionKeys(Buffer.alloc(32, 3), sid).receiptKey; // what another party could derive
  const forged = tracker.receipt(encodeReceipt(all, otherKey), 1);
  assert.ok(!forged.ok && forged.reason === "BAD_MAC", JSON.stringify(forged));
  const genuine = encodeReceipt({ ...all, contiguousNext: 2n }, key);
  const altered = Buffer.from(genuine);
  altered.writeBigUInt64BE(100n, 26 + gw.length + stream.length); // raise contiguousNext, keep the MAC
  const a = tracker.receipt(altered, 1);
  assert.ok(!a.ok && a.reason === "BAD_MAC", JSON.stringify(a));
  const foreign = tracker.receipt(encodeReceipt({ ...all, gatewayId: "gw-other" }, key), 1);
  assert.ok(!foreign.ok && foreign.reason === "WRONG_GATEWAY", JSON.stringify(foreign));
  const unknown = tracker.receipt(encodeReceipt({ ...all, sessionId: Buffer.alloc(16, 1) }, key), 1);
  assert.ok(!unknown.ok && unknown.reason === "UNKNOWN_SESSION", JSON.stringify(unknown));
  const junk = tracker.receipt(Buffer.from("OTGW"), 1);
  assert.ok(!junk.ok && junk.reason === "MALFORMED", JSON.stringify(junk));
  assert.equal(tracker.counters(1).unreceipted, 7, "nothing freed");
  assert.equal(tracker.counters(1).receiptsRefused, 5);
  assert.ok(tracker.receipt(genuine, 1).ok);
});

void test("PUBACK 16 is not a delivery, also with receipts off; frames of an earlier run's session are freed by PUBACK", async () => {
  const { items } = await setup();
  const off = new ReceiptTracker({ mode: "off", gatewayId: "gw-rc", keyOf: () => undefined });
  assert.equal(off.acknowledged(items[1]!, 0, false), false, "16: kept");
  assert.equal(off.acknowledged(items[2]!, 0, true), true, "0: freed (receipts off)");
  const req = new ReceiptTracker({ mode: "required", gatewayId: "gw-rc", keyOf: () => undefined });
  assert.equal(req.acknowledged(items[3]!, 0, true), true, "no receipt key (earlier run): PUBACK frees");
  assert.equal(req.counters(0).freedByPuback, 1);
  assert.equal(off.counters(0).notDelivered, 1);
});

void test("a session with no receipt at all is resent at doubling intervals up to a cap, not every resendAfterMs; its next receipt resets the wait", async () => {
  // A session the receiver refuses for good (a gateway clock an hour behind a fresh certificate:
  // test/durability/clock-skew.test.ts) never gets a receipt; resending its frames every resendAfterMs
  // sent 27,567 frames for a backlog of 2,025 in 15 s, each one more row in the receiver's quarantine.
  const { tracker, items, key, sid, gw, stream } = await setup();
  const all = items.map((i) => i.id);
  const sendAll = (at: number): void => { for (const it of items) tracker.acknowledged(it, at, true); };
  sendAll(0);
  assert.deepEqual(tracker.overdue(999).map((o) => o.id), [], "not overdue before resendAfterMs");
  assert.deepEqual(tracker.overdue(1000).map((o) => o.id), all, "first resend after resendAfterMs");
  sendAll(1000);
  assert.deepEqual(tracker.overdue(2000).map((o) => o.id), [], "no receipt after a resend: the next one waits twice as long");
  assert.deepEqual(tracker.overdue(3000).map((o) => o.id), all);
  sendAll(3000);
  assert.deepEqual(tracker.overdue(6999).map((o) => o.id), []);
  assert.deepEqual(tracker.overdue(7000).map((o) => o.id), all, "then four times");
  for (let at = 7000, wait = 8000; wait <= 64_000; at += wait, wait *= 2) {
    sendAll(at);
    assert.deepEqual(tracker.overdue(at + wait - 1).map((o) => o.id), [], `waits ${wait} ms`);
    assert.deepEqual(tracker.overdue(at + wait).map((o) => o.id), all);
  }
  const capped = new ReceiptTracker({ mode: "required", gatewayId: gw, keyOf: () => key, resendAfterMs: 1000, maxResendAfterMs: 3000 });
  for (const it of items) capped.acknowledged(it, 0, true);
  let at = 0;
  for (const wait of [1000, 2000, 3000, 3000]) {
    assert.deepEqual(capped.overdue(at + wait - 1).map((o) => o.id), [], `capped: waits ${wait} ms`);
    assert.equal(capped.overdue(at + wait).length, items.length);
    at += wait;
    for (const it of items) capped.acknowledged(it, at, true);
  }
  // A receipt of the session (the receiver is back, or accepts it now) resets the wait.
  const base = 1_000_000;
  sendAll(base);
  const r: Receipt = { sessionId: sid, gatewayId: gw, stream, flags: 0, contiguousNext: 3n, checkpointIndex: 0, held: [] };
  assert.ok(tracker.receipt(encodeReceipt(r, key), base).ok);
  assert.deepEqual(tracker.overdue(base + 1000).map((o) => o.id), [4, 5, 6, 7], "back to resendAfterMs after a receipt");
});
