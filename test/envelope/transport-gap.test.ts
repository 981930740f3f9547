/**
 * Issue #14: the receiver tells a transport loss from tampering. A checkpoint whose chain differs only
 * because frames were not received (yet) (a gap the gateway's resend fills later) is a mismatch with
 * cause "gap" and transport wording; the tamper wording ("frames deleted, altered or reordered") is
 * kept for differences nothing missing explains.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryVerifierState } from "../../envelope/verify/verifier.js";
import { makeWorld, show } from "./helpers.js";

const TAMPER = /deleted, altered or reordered/;

void test("a checkpoint after a gap (seq 3 lost in transport, resent later): mismatch cause 'gap', transport wording, then the resend fills the gap", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const ver = w.verifier({}, new MemoryVerifierState());
  assert.ok((await ver.accept(w.topic, s.openFrame)).ok);
  const f = Array.from({ length: 5 }, () => s.seal(Buffer.from("{}"), "otgw.reading/1", 1n));
  for (const i of [0, 1, 3, 4]) assert.ok((await ver.accept(w.topic, f[i]!)).ok); // seq 3 lost
  const cp = await ver.accept(w.topic, await s.checkpoint());
  assert.ok(cp.ok && cp.kind === "checkpoint" && cp.mismatch, show(cp));
  assert.equal(cp.mismatch.cause, "gap", cp.mismatch.detail);
  assert.match(cp.mismatch.detail, /seq 3\.\.3/);
  assert.match(cp.mismatch.detail, /transport loss, not evidence of tampering/);
  assert.doesNotMatch(cp.mismatch.detail, TAMPER);
  const fill = await ver.accept(w.topic, f[2]!);
  assert.ok(fill.ok && fill.kind === "data" && fill.filled, show(fill));
});

void test("a checkpoint covering seqs not received (yet): mismatch cause 'gap', the seqs named, no tamper wording", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const ver = w.verifier({}, new MemoryVerifierState());
  assert.ok((await ver.accept(w.topic, s.openFrame)).ok);
  const f = Array.from({ length: 4 }, () => s.seal(Buffer.from("{}"), "otgw.reading/1", 1n));
  for (const i of [0, 1]) assert.ok((await ver.accept(w.topic, f[i]!)).ok); // seq 3, 4 still on their way
  const cp = await ver.accept(w.topic, await s.checkpoint());
  assert.ok(cp.ok && cp.kind === "checkpoint" && cp.mismatch, show(cp));
  assert.equal(cp.mismatch.cause, "gap", cp.mismatch.detail);
  assert.match(cp.mismatch.detail, /seq 3\.\.4 not received \(yet\)/);
  assert.doesNotMatch(cp.mismatch.detail, TAMPER);
  for (const i of [2, 3]) {
    const r = await ver.accept(w.topic, f[i]!);
    assert.ok(r.ok && r.kind === "data" && r.filled, show(r));
  }
});

void test("a checkpoint after a lost checkpoint (index skipped, nothing missing): cause 'chain', not a transport gap", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const ver = w.verifier({}, new MemoryVerifierState());
  assert.ok((await ver.accept(w.topic, s.openFrame)).ok);
  assert.ok((await ver.accept(w.topic, s.seal(Buffer.from("{}"), "otgw.reading/1", 1n))).ok);
  await s.checkpoint(); // checkpoint 1 never delivered
  const cp = await ver.accept(w.topic, await s.checkpoint());
  assert.ok(cp.ok && cp.kind === "checkpoint" && cp.mismatch, show(cp));
  assert.equal(cp.mismatch.cause, "chain", cp.mismatch.detail);
  assert.match(cp.mismatch.detail, /checkpoint index 2 follows 0/);
});
