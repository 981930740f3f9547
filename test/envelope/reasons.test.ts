/** One test per reason code: each fails if the check producing that code is removed. */
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { SessionSealer } from "../../envelope/sealer.js";
import { MemoryVerifierState, Reason, type VerifyResult } from "../../envelope/verify/verifier.js";
import { makeCa, makeLeaf, makeWorld, show } from "./helpers.js";

const PT = Buffer.from('{"point":"p","value":1}');
const SCHEMA = "otgw.reading/1";

function reason(r: VerifyResult): string {
  return r.ok ? `ok:${r.kind}` : r.reason;
}

function flip(b: Buffer, i: number): Buffer {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ 0x01;
  return c;
}

void test("MALFORMED: bad magic, truncation with a precise detail, bad topic", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), "ok:session-open");
  const f = s.seal(PT, SCHEMA, 1n);
  const r = await v.accept(w.topic, f.subarray(0, f.length - 5));
  assert.ok(!r.ok && r.reason === Reason.MALFORMED && /data frame: ctLen \d+ exceeds remaining \d+ bytes/.test(r.detail), show(r));
  const m = Buffer.from(f);
  m[0] = 0x58;
  assert.equal(reason(await v.accept(w.topic, m)), Reason.MALFORMED);
  assert.equal(reason(await v.accept("otgw/v2/gw-test-01/line1", f)), Reason.MALFORMED);
  assert.equal(reason(await v.accept(w.topic, Buffer.concat([f, Buffer.from([0])]))), Reason.MALFORMED);
  assert.equal(reason(await v.accept(w.topic, f)), "ok:data");
});

void test("UNSUPPORTED_VERSION", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const m = Buffer.from(s.openFrame);
  m[4] = 2;
  assert.equal(reason(await w.verifier().accept(w.topic, m)), Reason.UNSUPPORTED_VERSION);
  // The version byte decides the layout, so a short frame of another version is not judged by v1's
  // 8-byte header (issue #13 item 22); a short v1 frame is MALFORMED.
  assert.equal(reason(await w.verifier().accept(w.topic, Buffer.from("OTGW\x02", "latin1"))), Reason.UNSUPPORTED_VERSION);
  assert.equal(reason(await w.verifier().accept(w.topic, Buffer.from("OTGW\x02\x02\x00", "latin1"))), Reason.UNSUPPORTED_VERSION);
  assert.equal(reason(await w.verifier().accept(w.topic, Buffer.from("OTGW\x01\x02\x00", "latin1"))), Reason.MALFORMED);
  assert.equal(reason(await w.verifier().accept(w.topic, Buffer.from("OTG", "latin1"))), Reason.MALFORMED);
});

void test("BAD_SIGNATURE on session-open and on checkpoint", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  assert.equal(reason(await v.accept(w.topic, flip(s.openFrame, s.openFrame.length - 1))), Reason.BAD_SIGNATURE);
  // Same bytes signed by another key (cert unchanged): still a bad signature.
  const other = await SessionSealer.open({ gatewayId: w.gatewayId, stream: w.stream, signer: (await makeLeaf(w.ca, { cn: w.gatewayId })).signer, certDer: w.leaf.der, recipientPublicKey: w.receiverKey, clock: w.clock, checkpointEveryMessages: 1, checkpointEveryMs: 1 });
  assert.equal(reason(await v.accept(w.topic, other.openFrame)), Reason.BAD_SIGNATURE);
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), "ok:session-open");
  s.seal(PT, SCHEMA, 1n);
  const cp = await s.checkpoint();
  assert.equal(reason(await v.accept(w.topic, flip(cp, cp.length - 40))), Reason.BAD_SIGNATURE);
});

void test("UNKNOWN_GATEWAY: foreign CA, expired certificate, CA certificate as leaf", async () => {
  const w = await makeWorld();
  const foreign = await makeCa("another fleet CA");
  const cases = [
    await makeLeaf(foreign, { cn: w.gatewayId }),
    await makeLeaf(w.ca, { cn: w.gatewayId, notAfter: new Date("2021-01-01T00:00:00Z") }),
    await makeLeaf(w.ca, { cn: w.gatewayId, isCa: true }),
  ];
  for (const leaf of cases) {
    const s = await w.sealer({ signer: leaf.signer, certDer: leaf.der });
    const r = await w.verifier().accept(w.topic, s.openFrame);
    assert.equal(reason(r), Reason.UNKNOWN_GATEWAY, show(r));
  }
});

void test("REVOKED at open and for an open session's later frames", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  let revoked = true;
  const v = w.verifier({ isRevoked: (serial) => revoked && serial === "1001" });
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), Reason.REVOKED);
  revoked = false;
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), "ok:session-open");
  revoked = true;
  assert.equal(reason(await v.accept(w.topic, s.seal(PT, SCHEMA, 1n))), Reason.REVOKED);
});

void test("GATEWAY_MISMATCH: topic gateway, topic stream, certificate CN, certificate SAN", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  assert.equal(reason(await v.accept("otgw/v1/gw-other/line1", s.openFrame)), Reason.GATEWAY_MISMATCH);
  assert.equal(reason(await v.accept("otgw/v1/gw-test-01/line2", s.openFrame)), Reason.GATEWAY_MISMATCH);
  const wrongCn = await makeLeaf(w.ca, { cn: "gw-other", sanUri: null });
  const s2 = await w.sealer({ signer: wrongCn.signer, certDer: wrongCn.der });
  assert.equal(reason(await v.accept(w.topic, s2.openFrame)), Reason.GATEWAY_MISMATCH);
  const wrongSan = await makeLeaf(w.ca, { cn: w.gatewayId, sanUri: "urn:otgw:gateway:gw-other" });
  const s3 = await w.sealer({ signer: wrongSan.signer, certDer: wrongSan.der });
  assert.equal(reason(await v.accept(w.topic, s3.openFrame)), Reason.GATEWAY_MISMATCH);
  const noSan = await makeLeaf(w.ca, { cn: w.gatewayId, sanUri: null });
  assert.equal(reason(await v.accept(w.topic, (await w.sealer({ signer: noSan.signer, certDer: noSan.der })).openFrame)), "ok:session-open");
});

void test("KEY_UNWRAP_FAILURE: sealed to another receiver", async () => {
  const w = await makeWorld();
  const s = await w.sealer({ recipientPublicKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey });
  assert.equal(reason(await w.verifier().accept(w.topic, s.openFrame)), Reason.KEY_UNWRAP_FAILURE);
});

void test("UNKNOWN_SESSION: data and checkpoint before the session-open", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  assert.equal(reason(await v.accept(w.topic, s.seal(PT, SCHEMA, 1n))), Reason.UNKNOWN_SESSION);
  assert.equal(reason(await v.accept(w.topic, await s.checkpoint())), Reason.UNKNOWN_SESSION);
});

void test("SESSION_CLOSED: data and checkpoint after the final checkpoint", async () => {
  const w = await makeWorld();
  const dataKey = Buffer.alloc(32, 7);
  const sessionId = Buffer.alloc(16, 9);
  const a = await w.sealer();
  const inj = { dataKey, sessionId };
  const s = await SessionSealer.open({ gatewayId: w.gatewayId, stream: w.stream, signer: w.leaf.signer, certDer: w.leaf.der, recipientPublicKey: w.receiverKey, clock: w.clock, checkpointEveryMessages: 10, checkpointEveryMs: 0 }, inj);
  // A twin sealer with the same keys can produce authentic frames past the final checkpoint.
  const twin = await SessionSealer.open({ gatewayId: w.gatewayId, stream: w.stream, signer: w.leaf.signer, certDer: w.leaf.der, recipientPublicKey: w.receiverKey, clock: w.clock, checkpointEveryMessages: 10, checkpointEveryMs: 0 }, { ...inj, openFrame: s.openFrame });
  void a;
  const v = w.verifier();
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), "ok:session-open");
  assert.equal(reason(await v.accept(w.topic, s.seal(PT, SCHEMA, 1n))), "ok:data");
  const fin = await v.accept(w.topic, await s.checkpoint(true));
  assert.ok(fin.ok && fin.kind === "checkpoint" && fin.final && !fin.mismatch, show(fin));
  assert.throws(() => s.seal(PT, SCHEMA, 1n), /closed/);
  twin.seal(PT, SCHEMA, 1n);
  assert.equal(reason(await v.accept(w.topic, twin.seal(PT, SCHEMA, 1n))), Reason.SESSION_CLOSED);
  await twin.checkpoint();
  assert.equal(reason(await v.accept(w.topic, await twin.checkpoint())), Reason.SESSION_CLOSED);
});

void test("AEAD_FAILURE: altered ciphertext, tag or authenticated header", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  await v.accept(w.topic, s.openFrame);
  const f = s.seal(PT, SCHEMA, 1n);
  for (const i of [f.length - 1, f.length - 20, 45, 50]) assert.equal(reason(await v.accept(w.topic, flip(f, i))), Reason.AEAD_FAILURE, `byte ${i}`);
  assert.equal(reason(await v.accept(w.topic, f)), "ok:data");
});

void test("REPLAY: data, session-open and checkpoint seen before", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  await v.accept(w.topic, s.openFrame);
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), Reason.REPLAY);
  const f = s.seal(PT, SCHEMA, 1n);
  await v.accept(w.topic, f);
  assert.equal(reason(await v.accept(w.topic, f)), Reason.REPLAY);
  const cp = await s.checkpoint();
  assert.equal(reason(await v.accept(w.topic, cp)), "ok:checkpoint");
  assert.equal(reason(await v.accept(w.topic, cp)), Reason.REPLAY);
});

void test("SEQUENCE_GAP, then a late message fills the gap once (a resend), a second copy is a REPLAY", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const v = w.verifier();
  await v.accept(w.topic, s.openFrame);
  const [f1, f2, f3] = [1, 2, 3].map(() => s.seal(PT, SCHEMA, 1n));
  assert.ok(f1 && f2 && f3);
  await v.accept(w.topic, f1);
  const r3 = await v.accept(w.topic, f3);
  assert.ok(r3.ok && r3.kind === "data" && r3.gap?.from === 2n && r3.gap.to === 2n, show(r3));
  assert.equal(Reason.SEQUENCE_GAP, "SEQUENCE_GAP");
  const late = await v.accept(w.topic, f2);
  assert.ok(late.ok && late.kind === "data" && late.seq === 2n && late.filled === true, show(late));
  assert.equal(reason(await v.accept(w.topic, f2)), Reason.REPLAY);
  assert.equal(reason(await v.accept(w.topic, f3)), Reason.REPLAY);
});

void test("OUT_OF_ORDER: a data seq below the session's firstSeq", async () => {
  const w = await makeWorld();
  const dataKey = Buffer.alloc(32, 7);
  const sessionId = Buffer.alloc(16, 9);
  const opts = { gatewayId: w.gatewayId, stream: w.stream, signer: w.leaf.signer, certDer: w.leaf.der, recipientPublicKey: w.receiverKey, clock: w.clock, checkpointEveryMessages: 100, checkpointEveryMs: 10_000 };
  const s = await SessionSealer.open({ ...opts, firstSeq: 5n }, { dataKey: Buffer.from(dataKey), sessionId });
  // Same keys and session, sealing below the session's firstSeq (only a broken or hostile sealer does).
  const below = await SessionSealer.open({ ...opts, firstSeq: 2n }, { dataKey: Buffer.from(dataKey), sessionId, openFrame: s.openFrame });
  const v = w.verifier();
  assert.equal(reason(await v.accept(w.topic, s.openFrame)), "ok:session-open");
  assert.equal(reason(await v.accept(w.topic, s.seal(PT, SCHEMA, 1n))), "ok:data");
  const r = await v.accept(w.topic, below.seal(PT, SCHEMA, 1n));
  assert.ok(!r.ok && r.reason === Reason.OUT_OF_ORDER && /below the session's firstSeq 5/.test(r.detail), show(r));
});

void test("NEEDS_ASYNC: acceptSync on session-open and after a restart; accept() restores from state", async () => {
  const w = await makeWorld();
  const s = await w.sealer();
  const state = new MemoryVerifierState();
  const v1 = w.verifier({}, state);
  assert.equal(reason(v1.acceptSync(w.topic, s.openFrame)), Reason.NEEDS_ASYNC);
  await v1.accept(w.topic, s.openFrame);
  assert.equal(reason(v1.acceptSync(w.topic, s.seal(PT, SCHEMA, 1n))), "ok:data");
  const v2 = w.verifier({}, state);
  const f2 = s.seal(PT, SCHEMA, 1n);
  assert.equal(reason(v2.acceptSync(w.topic, f2)), Reason.NEEDS_ASYNC);
  assert.equal(reason(await v2.accept(w.topic, f2)), "ok:data");
  assert.equal(reason(v2.acceptSync(w.topic, s.seal(PT, SCHEMA, 1n))), "ok:data");
  const cp = await v2.accept(w.topic, await s.checkpoint());
  assert.ok(cp.ok && cp.kind === "checkpoint" && !cp.mismatch, show(cp));
});
