/** Checkpoint scenarios (deletion, reordering, truncation, re-sync), sealer policy and parse details. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_SEQ } from "../../envelope/format.js";
import { parseFrame } from "../../envelope/parse.js";
import type { VerifyResult } from "../../envelope/verify/verifier.js";
import { makeWorld, show } from "./helpers.js";

const PT = Buffer.from('{"v":1}');
const S = "otgw.reading/1";

function cp(r: VerifyResult): { mismatch: string | undefined } {
  assert.ok(r.ok && r.kind === "checkpoint", show(r));
  return { mismatch: r.mismatch?.detail };
}

async function setup(n: number) {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  assert.ok((await v.accept(w.topic, s.openFrame)).ok);
  const frames = Array.from({ length: n }, (_, i) => s.seal(Buffer.from(`{"v":${i}}`), S, BigInt(i)));
  return { w, s, v, frames, at: (i: number): Buffer => frames[i] ?? Buffer.alloc(0) };
}

void test("clean session: checkpoints match, no mismatch", async () => {
  const { w, s, v, frames } = await setup(5);
  for (const f of frames) assert.ok((await v.accept(w.topic, f)).ok);
  assert.equal(cp(await v.accept(w.topic, await s.checkpoint())).mismatch, undefined);
  assert.equal(cp(await v.accept(w.topic, await s.checkpoint(true))).mismatch, undefined, "empty final checkpoint still matches");
});

void test("deletion in the middle: gap, then checkpoint mismatch, then re-sync", async () => {
  const { w, s, v, at } = await setup(4);
  await v.accept(w.topic, at(0));
  await v.accept(w.topic, at(2));
  await v.accept(w.topic, at(3));
  // A deletion looks like a transport loss until the gap stays unfilled: the gap names seq 2, the checkpoint says why it cannot compare.
  assert.match(cp(await v.accept(w.topic, await s.checkpoint())).mismatch ?? "", /chain at seq 4 not comparable: the receiver's chain is broken by seq 2\.\.2/);
  assert.ok((await v.accept(w.topic, s.seal(PT, S, 9n))).ok);
  assert.equal(cp(await v.accept(w.topic, await s.checkpoint())).mismatch, undefined, "re-synced to the authentic checkpoint");
});

void test("reordering: the late frame fills its gap once, and the checkpoint still shows the mismatch", async () => {
  const { w, s, v, at } = await setup(3);
  await v.accept(w.topic, at(0));
  await v.accept(w.topic, at(2));
  const late = await v.accept(w.topic, at(1));
  assert.ok(late.ok && late.kind === "data" && late.filled === true, show(late));
  const again = await v.accept(w.topic, at(1));
  assert.ok(!again.ok && again.reason === "REPLAY", show(again));
  assert.ok(cp(await v.accept(w.topic, await s.checkpoint())).mismatch);
});

void test("truncation: checkpoint covers more than arrived; late frames then fill the gap once", async () => {
  const { w, s, v, at } = await setup(3);
  await v.accept(w.topic, at(0));
  assert.match(cp(await v.accept(w.topic, await s.checkpoint())).mismatch ?? "", /seq 2\.\.3 not received \(yet\)/);
  const late = await v.accept(w.topic, at(2));
  assert.ok(late.ok && late.kind === "data" && late.filled === true, show(late));
  const again = await v.accept(w.topic, at(2));
  assert.ok(!again.ok && again.reason === "REPLAY", show(again));
  const next = await v.accept(w.topic, s.seal(PT, S, 1n));
  assert.ok(next.ok && next.kind === "data" && !next.gap, show(next));
  assert.equal(cp(await v.accept(w.topic, await s.checkpoint())).mismatch, undefined);
});

void test("deleted checkpoint: index jump is evidence", async () => {
  const { w, s, v, at } = await setup(1);
  await v.accept(w.topic, at(0));
  await s.checkpoint();
  assert.match(cp(await v.accept(w.topic, await s.checkpoint())).mismatch ?? "", /index 2 follows 0/);
});

void test("checkpoint published after data sealed past its snapshot still matches", async () => {
  const { w, s, v, at } = await setup(1);
  const pending = s.checkpoint();
  const f2 = s.seal(PT, S, 1n);
  await v.accept(w.topic, at(0));
  await v.accept(w.topic, f2);
  assert.equal(cp(await v.accept(w.topic, await pending)).mismatch, undefined);
});

void test("altered frame replaced by a forged one is impossible: substitution from another session fails AEAD", async () => {
  const a = await setup(1);
  const b = await a.w.sealer();
  const foreign = b.seal(PT, S, 1n);
  // Same gateway/stream, other session id: unknown session here.
  const r = await a.v.accept(a.w.topic, foreign);
  assert.ok(!r.ok && r.reason === "UNKNOWN_SESSION");
});

void test("sealer: checkpointDue by count and by time, needs a message since the last one", async () => {
  const w = await makeWorld();
  const s = await w.sealer({ checkpointEveryMessages: 3, checkpointEveryMs: 5000 });
  assert.equal(s.checkpointDue(), false);
  s.seal(PT, S, 1n);
  s.seal(PT, S, 1n);
  assert.equal(s.checkpointDue(), false);
  s.seal(PT, S, 1n);
  assert.equal(s.checkpointDue(), true);
  await s.checkpoint();
  assert.equal(s.checkpointDue(), false);
  w.clock.advanceMs(6000);
  assert.equal(s.checkpointDue(), false, "no message since the last checkpoint");
  s.seal(PT, S, 1n);
  assert.equal(s.checkpointDue(), true);
  assert.equal(s.counters.sealed, 4);
  assert.equal(s.nextSeq, 5n);
  assert.match(s.sessionIdHex, /^[0-9a-f]{32}$/);
});

void test("sealer: refuses past 2^63-1 and past the session message limit", async () => {
  const w = await makeWorld();
  const s = await w.sealer({ firstSeq: MAX_SEQ });
  s.seal(PT, S, 1n);
  assert.throws(() => s.seal(PT, S, 1n), /message limit/);
  await assert.rejects(w.sealer({ firstSeq: 0n }), /firstSeq/);
  assert.throws(() => s.seal(PT, "bad schema", 1n));
});

void test("parse details name the field", () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from("OTGW"), /shorter than the 8-byte header/],
    [Buffer.from("4f54475701090000", "hex"), /type 9/],
    [Buffer.from("4f54475701030200", "hex"), /flags 0x2/],
    [Buffer.concat([Buffer.from("4f54475701020000", "hex"), Buffer.alloc(16), Buffer.from([0])]), /gatewayId length 0/],
    [Buffer.concat([Buffer.from("4f54475701020000", "hex"), Buffer.alloc(16), Buffer.from([2, 0x41, 0x20])]), /gatewayId byte 1/],
  ];
  for (const [b, re] of cases) {
    const r = parseFrame(b);
    assert.ok(!r.ok && re.test(r.detail), `${b.toString("hex")}: ${show(r)}`);
  }
});
