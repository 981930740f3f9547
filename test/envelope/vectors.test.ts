/**
 * The committed vectors (docs/envelope-vectors.json) against this implementation: key schedule and
 * data frames byte for byte, session-open, checkpoint and session-end by verification (ECDSA and
 * HPKE are randomized), and the sequences (gap, non-final checkpoints, one refusal per reason code)
 * step by step. The generator (devkit/envelope-vectors.ts) is run here too, and its fresh output must
 * pass the same checks and reproduce the committed deterministic values. A second implementation
 * should pass the same checks.
 */
import { createDecipheriv, createHash, createPrivateKey, X509Certificate, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../kernel/clock.js";
import { chainNext, chainStart } from "../../envelope/chain.js";
import { deriveRaw, importRecipientKey, nonceInto, unwrapDataKey } from "../../envelope/keys.js";
import { parseFrame } from "../../envelope/parse.js";
import { SessionSealer } from "../../envelope/sealer.js";
import { verifyEs256 } from "../../envelope/signature.js";
import { MemoryVerifierState, Reason, Verifier, type VerifyResult } from "../../envelope/verify/verifier.js";
import { generateVectors, type VectorSequence } from "../../devkit/envelope-vectors.js";
import { SoftwareSigner } from "../../provisioning/software-keystore.js";
import { show } from "./helpers.js";
import { join } from "node:path";
import { repoRoot } from "../../kernel/paths.js";

interface DataVector { seq: string; sourceTsNs: string; gatewayTsNs: string; schemaId: string; plaintext: string; nonce: string; frame: string; chain: string }
interface Vectors {
  gatewayId: string; stream: string; topic: string; gatewayKeyJwk: JsonWebKey; receiverKeyJwk: JsonWebKey;
  caCertDer: string; leafCertDer: string; dataKey: string; sessionId: string; createdNs: string;
  checkpointEveryMessages: number; checkpointEveryMs: number; aeadKey: string; baseNonce: string;
  sessionOpen: { frame: string; hpkeAad: string; h0: string }; data: DataVector[];
  checkpoint: { index: number; lastSeq: string; final: boolean; frame: string };
  sessionEnd: { lastSeq: string; createdNs: string; frame: string };
  receiver: { nowNs: string; maxBacklogAgeMs: number; maxClockSkewMs: number };
  gapSession: { sessionId: string; dataKey: string; openFrame: string };
  orderSession: { sessionId: string; dataKey: string; openFrame: string };
  sequences: VectorSequence[];
}

const v = JSON.parse(readFileSync(join(repoRoot(), "docs", "envelope-vectors.json"), "utf8")) as Vectors;
const hex = (s: string): Buffer => Buffer.from(s, "hex");
const open = hex(v.sessionOpen.frame);

/** A fresh receiver as the vectors specify it: their CA, their receiver key, their clock and bounds. */
function receiverFor(x: Vectors, revokedSerials: string[] = []): Verifier {
  return new Verifier({
    trust: { caCertsDer: [hex(x.caCertDer)], isRevoked: (serial) => revokedSerials.includes(serial) },
    recipientPrivateKey: createPrivateKey({ key: x.receiverKeyJwk, format: "jwk" }),
    state: new MemoryVerifierState(), clock: new ManualClock(Number(BigInt(x.receiver.nowNs) / 1_000_000n)),
    maxBacklogAgeMs: x.receiver.maxBacklogAgeMs, maxClockSkewMs: x.receiver.maxClockSkewMs,
  });
}

/** Feeds every sequence to a fresh receiver and checks each step's outcome; returns the refusal reasons seen. */
async function runSequences(x: Vectors): Promise<Set<string>> {
  const reasons = new Set<string>();
  for (const sq of x.sequences) {
    const rx = receiverFor(x, sq.revokedSerials);
    for (const st of sq.steps) {
      const r: VerifyResult = await rx.accept(st.topic, hex(st.frame));
      const where = `${sq.name} / ${st.label}: ${show(r)}`;
      const e = st.expect;
      if (!e.ok) {
        assert.ok(!r.ok, where);
        assert.equal(r.reason, e.reason, where);
        reasons.add(r.reason);
        continue;
      }
      assert.ok(r.ok && r.kind === e.kind, where);
      if (e.kind === "data") {
        assert.ok(r.kind === "data");
        assert.equal(r.seq, BigInt(e.seq), where);
        assert.equal(r.plaintext.toString("hex"), e.plaintext, where);
        assert.equal(r.chain.toString("hex"), e.chain, where);
        assert.deepEqual(r.gap, e.gap ? { from: BigInt(e.gap.from), to: BigInt(e.gap.to) } : undefined, where);
        assert.equal(r.filled, e.filled, where);
      } else if (e.kind === "checkpoint") {
        assert.ok(r.kind === "checkpoint");
        assert.equal(r.index, e.index, where);
        assert.equal(r.lastSeq, BigInt(e.lastSeq), where);
        assert.equal(r.final, e.final, where);
        assert.equal(r.mismatch !== undefined, e.mismatch, where);
      } else if (e.kind === "session-end") {
        assert.ok(r.kind === "session-end");
        assert.equal(r.lastSeq, BigInt(e.lastSeq), where);
        assert.equal(r.receivedUpTo, BigInt(e.receivedUpTo), where);
      }
    }
  }
  return reasons;
}

/** Every reason code that refuses a frame (the others are events or API-only). */
const REFUSALS = Object.values(Reason).filter((r) => r !== Reason.SEQUENCE_GAP && r !== Reason.CHECKPOINT_MISMATCH && r !== Reason.NEEDS_ASYNC);

void test("key schedule: HKDF aeadKey and baseNonce", () => {
  const r = deriveRaw(hex(v.dataKey), hex(v.sessionId));
  assert.equal(r.aeadKey.toString("hex"), v.aeadKey);
  assert.equal(r.baseNonce.toString("hex"), v.baseNonce);
  for (const d of v.data) {
    const n = Buffer.alloc(12);
    nonceInto(n, hex(v.baseNonce), BigInt(d.seq));
    assert.equal(n.toString("hex"), d.nonce);
  }
});

void test("session-open vector: fields, signature, HPKE unwrap yields the data key", async () => {
  const p = parseFrame(open);
  assert.ok(p.ok && p.frame.type === 1);
  const f = p.frame;
  assert.equal(f.sessionId.toString("hex"), v.sessionId);
  assert.equal(f.createdNs, BigInt(v.createdNs));
  assert.equal(open.subarray(0, f.hpkeAadEnd).toString("hex"), v.sessionOpen.hpkeAad);
  const leaf = new X509Certificate(hex(v.leafCertDer));
  assert.ok(verifyEs256(leaf.publicKey, open.subarray(0, f.signedEnd), f.signature));
  const rk = await importRecipientKey(createPrivateKey({ key: v.receiverKeyJwk, format: "jwk" }));
  const dk = await unwrapDataKey(rk, f.enc, f.wrappedKey, open.subarray(0, f.hpkeAadEnd));
  assert.equal(dk.toString("hex"), v.dataKey);
  assert.equal(chainStart(open).toString("hex"), v.sessionOpen.h0);
});

void test("data vectors: independent AES-256-GCM decrypt and chain", () => {
  let h = hex(v.sessionOpen.h0);
  for (const d of v.data) {
    const frame = hex(d.frame);
    const aadEnd = frame.length - (d.plaintext.length / 2 + 16);
    const dec = createDecipheriv("aes-256-gcm", hex(v.aeadKey), hex(d.nonce));
    dec.setAAD(frame.subarray(0, aadEnd));
    dec.setAuthTag(frame.subarray(frame.length - 16));
    const pt = Buffer.concat([dec.update(frame.subarray(aadEnd, frame.length - 16)), dec.final()]);
    assert.equal(pt.toString("hex"), d.plaintext);
    h = chainNext(h, frame);
    assert.equal(h.toString("hex"), d.chain);
  }
});

void test("data vectors: the sealer reproduces every frame byte for byte", async () => {
  const clock = new ManualClock(Number(BigInt(v.createdNs) / 1_000_000n));
  const sealer = await SessionSealer.open({
    gatewayId: v.gatewayId, stream: v.stream, signer: new SoftwareSigner(createPrivateKey({ key: v.gatewayKeyJwk, format: "jwk" })),
    certDer: hex(v.leafCertDer), recipientPublicKey: createPrivateKey({ key: v.receiverKeyJwk, format: "jwk" }), clock,
    checkpointEveryMessages: v.checkpointEveryMessages, checkpointEveryMs: v.checkpointEveryMs,
  }, { dataKey: hex(v.dataKey), sessionId: hex(v.sessionId), openFrame: open });
  for (const d of v.data) {
    clock.advanceMs(1000);
    const frame = sealer.seal(hex(d.plaintext), d.schemaId, BigInt(d.sourceTsNs));
    assert.equal(frame.toString("hex"), d.frame, `data frame seq ${d.seq}`);
    assert.equal(sealer.chainValue.toString("hex"), d.chain);
  }
});

void test("checkpoint vector and full session verify with the vector CA", async () => {
  const p = parseFrame(hex(v.checkpoint.frame));
  assert.ok(p.ok && p.frame.type === 3);
  assert.equal(p.frame.index, v.checkpoint.index);
  assert.equal(p.frame.lastSeq, BigInt(v.checkpoint.lastSeq));
  assert.equal(p.frame.final, true);
  assert.equal(p.frame.chain.toString("hex"), v.data[2]?.chain);
  const verifier = receiverFor(v);
  const r0 = await verifier.accept(v.topic, open);
  assert.ok(r0.ok, show(r0));
  for (const d of v.data) {
    const r = await verifier.accept(v.topic, hex(d.frame));
    assert.ok(r.ok && r.kind === "data" && !r.gap);
    assert.equal(r.plaintext.toString("hex"), d.plaintext);
  }
  const rc = await verifier.accept(v.topic, hex(v.checkpoint.frame));
  assert.ok(rc.ok && rc.kind === "checkpoint" && rc.final && rc.mismatch === undefined, show(rc));
});

void test("session-end vector: fields and signature; a receiver that got seq 1..2 reports seq 3 missing, one that got 1..3 nothing", async () => {
  const frame = hex(v.sessionEnd.frame);
  const p = parseFrame(frame);
  assert.ok(p.ok && p.frame.type === 4);
  const f = p.frame;
  assert.equal(f.sessionId.toString("hex"), v.sessionId);
  assert.equal(f.lastSeq, BigInt(v.sessionEnd.lastSeq));
  assert.equal(f.createdNs, BigInt(v.sessionEnd.createdNs));
  assert.equal(f.certSha256.toString("hex"), createHash("sha256").update(hex(v.leafCertDer)).digest("hex"));
  assert.ok(verifyEs256(new X509Certificate(hex(v.leafCertDer)).publicKey, frame.subarray(0, f.signedEnd), f.signature));
  for (const received of [2, 3]) {
    const verifier = receiverFor(v);
    assert.ok((await verifier.accept(v.topic, open)).ok);
    for (const d of v.data.slice(0, received)) assert.ok((await verifier.accept(v.topic, hex(d.frame))).ok);
    const r = await verifier.accept(v.topic, frame);
    assert.ok(r.ok && r.kind === "session-end", show(r));
    assert.equal(r.receivedUpTo, BigInt(received));
    assert.deepEqual(r.missing, received === 2 ? { from: 3n, to: 3n } : undefined);
  }
});

void test("sequences: the gap, the non-final checkpoints and one refusal per reason code give their expected outcomes", async () => {
  assert.deepEqual(v.sequences.map((q) => q.name), ["gap-and-checkpoints", "refusals", "revoked", "order"]);
  const seen = await runSequences(v);
  assert.deepEqual([...seen].sort(), [...REFUSALS].sort(), "every refusal reason has a vector");
  const gap = v.sequences[0]?.steps ?? [];
  assert.ok(gap.some((st) => st.expect.ok && st.expect.kind === "data" && st.expect.gap !== undefined), "a gap vector");
  assert.ok(gap.some((st) => st.expect.ok && st.expect.kind === "checkpoint" && !st.expect.final), "a non-final checkpoint vector");
});

void test("the generator: a fresh run with the committed keys reproduces the deterministic values and passes the same checks", async () => {
  const fresh = (await generateVectors({
    gatewayKey: createPrivateKey({ key: v.gatewayKeyJwk, format: "jwk" }), receiverKey: createPrivateKey({ key: v.receiverKeyJwk, format: "jwk" }),
    caDer: hex(v.caCertDer), leafDer: hex(v.leafCertDer), openFrames: { a: open, b: hex(v.gapSession.openFrame), c: hex(v.orderSession.openFrame) },
  })) as unknown as Vectors;
  for (const k of ["dataKey", "sessionId", "createdNs", "aeadKey", "baseNonce", "receiver", "gapSession", "orderSession", "sessionOpen"] as const) assert.deepEqual(fresh[k], v[k], k);
  assert.deepEqual(fresh.data, v.data, "data frames and chains are byte-for-byte stable");
  // The same steps in the same order with the same expected reasons (frames after a session-open differ: randomized).
  const outline = (x: Vectors): unknown => x.sequences.map((q) => [q.name, q.revokedSerials, q.steps.map((st) => [st.label, st.topic, st.expect.ok ? st.expect.kind : st.expect.reason])]);
  assert.deepEqual(outline(fresh), outline(v));
  const seen = await runSequences(fresh);
  assert.deepEqual([...seen].sort(), [...REFUSALS].sort());
});
