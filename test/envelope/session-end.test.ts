/** Session-end statements (type 4): exact accounting of a session the gateway's previous run left open. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseFrame } from "../../envelope/parse.js";
import { signSessionEnd } from "../../envelope/sealer.js";
import { MemoryVerifierState, type VerifyResult } from "../../envelope/verify/verifier.js";
import { makeCa, makeLeaf, makeWorld, show, type World } from "./helpers.js";

const S = "otgw.reading/1";

async function setup(n: number, delivered: number) {
  const w = await makeWorld();
  const s = await w.sealer();
  const state = new MemoryVerifierState();
  const v = w.verifier({}, state);
  assert.ok((await v.accept(w.topic, s.openFrame)).ok);
  const frames = Array.from({ length: n }, (_, i) => s.seal(Buffer.from(`{"v":${i}}`), S, BigInt(i)));
  for (const f of frames.slice(0, delivered)) assert.ok((await v.accept(w.topic, f)).ok);
  return { w, s, v, state, frames };
}

function end(w: World, sessionIdHex: string, lastSeq: bigint, leaf = w.leaf): Promise<Buffer> {
  return signSessionEnd({ gatewayId: w.gatewayId, stream: w.stream, sessionIdHex, lastSeq, signer: leaf.signer, certDer: leaf.der, clock: w.clock });
}

function ended(r: VerifyResult): Extract<VerifyResult, { kind: "session-end" }> {
  assert.ok(r.ok && r.kind === "session-end", show(r));
  return r;
}

void test("statement equal to what arrived: nothing missing; frames above it refused; replay refused", async () => {
  const { w, s, v, state } = await setup(5, 5);
  const frame = await end(w, s.sessionIdHex, 5n);
  const p = parseFrame(frame);
  assert.ok(p.ok && p.frame.type === 4 && p.frame.lastSeq === 5n && p.frame.sessionId.toString("hex") === s.sessionIdHex, show(p));
  const r = ended(await v.accept(w.topic, frame));
  assert.equal(r.lastSeq, 5n);
  assert.equal(r.receivedUpTo, 5n);
  assert.equal(r.missing, undefined);
  assert.equal(r.mismatch, undefined);
  assert.equal(state.get(s.sessionIdHex)?.endSeq, 5n);
  // Never committed, so never sent by a correct gateway: refused.
  const above = await v.accept(w.topic, s.seal(Buffer.from("{}"), S, 9n));
  assert.ok(!above.ok && above.reason === "SESSION_CLOSED", show(above));
  const again = await v.accept(w.topic, await end(w, s.sessionIdHex, 5n));
  assert.ok(!again.ok && again.reason === "REPLAY", show(again));
});

void test("statement above what arrived: exactly N+1..M missing; a late frame up to M is still accepted once, in order", async () => {
  const { w, s, v, frames } = await setup(7, 4);
  const r = ended(await v.accept(w.topic, await end(w, s.sessionIdHex, 7n)));
  assert.deepEqual(r.missing, { from: 5n, to: 7n });
  assert.equal(r.receivedUpTo, 4n);
  const late = await v.accept(w.topic, frames[4]!);
  assert.ok(late.ok && late.kind === "data" && late.seq === 5n && late.afterEnd === 7n && !late.gap, show(late));
  const dup = await v.accept(w.topic, frames[4]!);
  assert.ok(!dup.ok && dup.reason === "REPLAY", show(dup));
});

void test("a session with only its open frame committed ends at firstSeq - 1", async () => {
  const { w, s, v } = await setup(0, 0);
  const r = ended(await v.accept(w.topic, await end(w, s.sessionIdHex, 0n)));
  assert.equal(r.missing, undefined);
  assert.equal(r.receivedUpTo, 0n);
});

void test("statement below what arrived is accepted with a mismatch (the gateway lost commits it had sent)", async () => {
  const { w, s, v } = await setup(5, 5);
  const r = ended(await v.accept(w.topic, await end(w, s.sessionIdHex, 3n)));
  assert.match(r.mismatch?.detail ?? "", /committed up to seq 3, but the receiver accepted up to 5/);
  assert.equal(r.missing, undefined);
});

void test("a statement by a rotated key of the same gateway verifies; another gateway's key or an altered byte does not", async () => {
  const { w, s, v } = await setup(3, 3);
  const other = await makeLeaf(w.ca, { cn: "gw-other-02", serial: "2002" });
  const forged = await v.accept(w.topic, await end(w, s.sessionIdHex, 3n, other));
  assert.ok(!forged.ok && forged.reason === "GATEWAY_MISMATCH", show(forged));
  const outsider = await makeLeaf(await makeCa("some other CA"), { cn: w.gatewayId, serial: "4004" });
  const untrusted = await v.accept(w.topic, await end(w, s.sessionIdHex, 3n, outsider));
  assert.ok(!untrusted.ok && untrusted.reason === "UNKNOWN_GATEWAY", show(untrusted));
  const sigAltered = await end(w, s.sessionIdHex, 3n);
  sigAltered.writeUInt8(sigAltered.readUInt8(sigAltered.length - 1) ^ 1, sigAltered.length - 1);
  const badSig = await v.accept(w.topic, sigAltered);
  assert.ok(!badSig.ok && badSig.reason === "BAD_SIGNATURE", show(badSig));
  const seqAltered = await end(w, s.sessionIdHex, 2n);
  const off = 26 + w.gatewayId.length + w.stream.length + 7;
  seqAltered[off] = 3; // lastSeq 2 → 3 after signing
  assert.equal(parseFrame(seqAltered).ok, true);
  const bs = await v.accept(w.topic, seqAltered);
  assert.ok(!bs.ok && bs.reason === "BAD_SIGNATURE", show(bs));
  // Nothing refused changed the state: the authentic statement, signed by a rotated key of this gateway, is accepted.
  const rotated = await makeLeaf(w.ca, { cn: w.gatewayId, serial: "3003" });
  const r = ended(await v.accept(w.topic, await end(w, s.sessionIdHex, 3n, rotated)));
  assert.equal(r.missing, undefined);
});

void test("a session closed by its final checkpoint refuses a statement; an unknown session is refused", async () => {
  const { w, s, v } = await setup(2, 2);
  assert.ok((await v.accept(w.topic, await s.checkpoint(true))).ok);
  const r = await v.accept(w.topic, await end(w, s.sessionIdHex, 2n));
  assert.ok(!r.ok && r.reason === "SESSION_CLOSED", show(r));
  const u = await v.accept(w.topic, await end(w, "00".repeat(16), 2n));
  assert.ok(!u.ok && u.reason === "UNKNOWN_SESSION", show(u));
});

void test("a statement verifies with acceptSync and after a receiver restart (no session keys needed)", async () => {
  const { w, s, state } = await setup(2, 2);
  const fresh = w.verifier({}, state);
  const r = fresh.acceptSync(w.topic, await end(w, s.sessionIdHex, 2n));
  assert.ok(r.ok && r.kind === "session-end", show(r));
});
