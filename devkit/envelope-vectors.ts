import { createHash, createSecretKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { ManualClock } from "../kernel/clock.js";
import { chainStart } from "../envelope/chain.js";
import { encodeCheckpointToBeSigned, prefixLength } from "../envelope/format.js";
import { deriveRaw, nonceInto } from "../envelope/keys.js";
import { SessionSealer, signSessionEnd } from "../envelope/sealer.js";
import { RECEIPT_TOPIC_ROOT, encodeReceipt } from "../envelope/receipt.js";
import { toLowS } from "../envelope/signature.js";
import { SoftwareSigner } from "../provisioning/software-keystore.js";
import { makeCa, makeLeaf } from "./test-pki.js";

/**
 * DEVELOPMENT AND TESTS ONLY: builds the envelope v1 test vectors (docs/envelope-vectors.json). The
 * generator script writes its output; test/envelope/vectors.test.ts checks the committed file AND a
 * fresh run of this function, so the file cannot drift from the code that produced it.
 */

/** The long-lived material of the vectors: kept across runs so data frames stay byte-for-byte stable. */
export interface VectorKeys {
  gatewayKey: KeyObject;
  receiverKey: KeyObject;
  caDer: Buffer;
  leafDer: Buffer;
  /**
   * The already-signed session-open frames of sessions A and B to reuse (from the committed file): then
   * h0 and every chain value stay the same across runs too.
   */
  openFrames?: { a?: Buffer; b?: Buffer; c?: Buffer };
}

/** What a receiver must return for one step of a sequence (integers above 2^53 as decimal strings, bytes hex). */
export type VectorExpect =
  | { ok: true; kind: "session-open" }
  | { ok: true; kind: "data"; seq: string; plaintext: string; chain: string; gap?: { from: string; to: string }; filled?: true }
  | { ok: true; kind: "checkpoint"; index: number; lastSeq: string; final: boolean; mismatch: boolean }
  | { ok: true; kind: "session-end"; lastSeq: string; receivedUpTo: string; missing?: { from: string; to: string } }
  | { ok: false; reason: string };

/** One frame given to the receiver, in order, with the outcome it must produce. */
export interface VectorStep {
  label: string;
  topic: string;
  frame: string;
  expect: VectorExpect;
}

/** Frames fed to one fresh receiver (empty state) in order. */
export interface VectorSequence {
  name: string;
  description: string;
  /** Certificate serials (uppercase hex, as X509Certificate prints them) the receiver's revocation hook reports revoked. */
  revokedSerials: string[];
  steps: VectorStep[];
}

const GW = "gw-vector-01";
const STREAM = "line1";
const TOPIC = `otgw/v1/${GW}/${STREAM}`;
const START_MS = 1_800_000_000_000;
const SCHEMA = "otgw.reading/1";
/** The receiver's clock for every sequence: one hour after session A's createdNs. */
const RECEIVER_NOW_MS = START_MS + 3_600_000;
const MAX_BACKLOG_AGE_MS = 7 * 86_400_000;
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const hex = (b: Buffer): string => b.toString("hex");

/** Fresh vector keys: a CA, the gateway key and leaf (serial 0a01, valid 2020..2099), a receiver key. */
export async function freshVectorKeys(): Promise<VectorKeys> {
  const ca = await makeCa("otgw envelope vectors CA");
  const gatewayKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const leaf = await makeLeaf(ca, { cn: GW, key: gatewayKey, serial: "0a01" });
  return { gatewayKey, receiverKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, caDer: ca.certDer, leafDer: leaf.der };
}

/** A copy of `b` with byte `i` XOR `x`. */
function flip(b: Buffer, i: number, x = 0x01): Buffer {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ x;
  return c;
}

/** Builds every vector (session A as before, the gap sequence, the refusal sequences). */
export async function generateVectors(k: VectorKeys): Promise<Record<string, unknown>> {
  const signer = new SoftwareSigner(k.gatewayKey);
  const signCheckpoint = async (sessionId: Buffer, index: number, lastSeq: bigint, chain: Buffer, createdNs: bigint, final = false): Promise<Buffer> => {
    const tbs = encodeCheckpointToBeSigned({ sessionId, gatewayId: GW, stream: STREAM, final, index, lastSeq, createdNs, chain });
    return Buffer.concat([tbs, toLowS(await signer.sign(tbs))]);
  };
  const openAt = async (ms: number, over: { recipient?: KeyObject; signer?: SoftwareSigner; certDer?: Buffer } = {}): Promise<SessionSealer> =>
    SessionSealer.open({
      gatewayId: GW, stream: STREAM, signer: over.signer ?? signer, certDer: over.certDer ?? k.leafDer, recipientPublicKey: over.recipient ?? k.receiverKey,
      clock: new ManualClock(ms), checkpointEveryMessages: 1000, checkpointEveryMs: 60_000,
    });

  // Session A: the original vectors, generated exactly as before so its data frames do not change.
  const dataKey = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
  const sessionId = Buffer.from("5e55104d000000000000000000000001", "hex");
  const clock = new ManualClock(START_MS);
  const opts = {
    gatewayId: GW, stream: STREAM, signer, certDer: k.leafDer, recipientPublicKey: k.receiverKey,
    clock, checkpointEveryMessages: 1000, checkpointEveryMs: 60_000, firstSeq: 1n,
  };
  const sealer = await SessionSealer.open(opts, { dataKey, sessionId, ...(k.openFrames?.a ? { openFrame: k.openFrames.a } : {}) });
  const { aeadKey, baseNonce, receiptKey } = deriveRaw(dataKey, sessionId);
  const plaintexts = ['{"point":"pump1.temp","value":21.5}', '{"point":"pump1.temp","value":21.625}', '{"point":"pump1.running","value":true}'];
  const data = plaintexts.map((p, i) => {
    clock.advanceMs(1000);
    const sourceTsNs = BigInt(START_MS + 1000 * i + 500) * 1_000_000n;
    const seq = sealer.nextSeq;
    const nonce = Buffer.alloc(12);
    nonceInto(nonce, baseNonce, seq);
    const gatewayTsNs = clock.nowNs();
    const frame = sealer.seal(Buffer.from(p, "utf8"), SCHEMA, sourceTsNs);
    return { seq: String(seq), sourceTsNs: String(sourceTsNs), gatewayTsNs: String(gatewayTsNs), schemaId: SCHEMA, plaintextUtf8: p, plaintext: Buffer.from(p).toString("hex"), nonce: hex(nonce), frame: hex(frame), chain: hex(sealer.chainValue) };
  });
  clock.advanceMs(1000);
  const cpCreatedNs = clock.nowNs();
  const cp = await sealer.checkpoint(true);
  // A session-end statement for the same session, as a restarted gateway would send it had the session
  // not been closed: "committed up to seq 3".
  clock.advanceMs(1000);
  const endCreatedNs = clock.nowNs();
  const end = await signSessionEnd({ gatewayId: GW, stream: STREAM, sessionIdHex: hex(sessionId), lastSeq: 3n, signer, certDer: k.leafDer, clock });
  // HPKE aad = prefix + firstSeq, createdNs, two u32 intervals, three u16 suite ids.
  const aadEnd = prefixLength(GW, STREAM) + 8 + 8 + 4 + 4 + 6;
  // A receipt of a receiver that committed seq 1 and 3 (seq 2 missing) and no checkpoint: deterministic (HMAC).
  const receipt = { sessionId, gatewayId: GW, stream: STREAM, flags: 0, contiguousNext: 2n, checkpointIndex: 0, held: [{ from: 3n, to: 3n }] };
  const receiptFrame = encodeReceipt(receipt, createSecretKey(receiptKey));
  const d = (i: number): Buffer => Buffer.from(data[i]?.frame ?? "", "hex");
  const openA = sealer.openFrame;

  // Session B: a gap and non-final checkpoints. Seq 3 is sealed but withheld until after the final checkpoint.
  const dataKeyB = Buffer.from("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", "hex");
  const sessionIdB = Buffer.from("5e55104d000000000000000000000002", "hex");
  const clockB = new ManualClock(START_MS + 600_000);
  const sealerB = await SessionSealer.open({ ...opts, clock: clockB }, { dataKey: dataKeyB, sessionId: sessionIdB, ...(k.openFrames?.b ? { openFrame: k.openFrames.b } : {}) });
  const b: Buffer[] = [];
  const chainB: Buffer[] = [chainStart(sealerB.openFrame)];
  const ptB = (seq: number): Buffer => Buffer.from(`{"point":"pump2.flow","value":${seq}}`, "utf8");
  const sealB = (): void => {
    clockB.advanceMs(1000);
    const seq = Number(sealerB.nextSeq);
    b[seq] = sealerB.seal(ptB(seq), SCHEMA, clockB.nowNs());
    chainB[seq] = sealerB.chainValue;
  };
  sealB();
  sealB();
  const cpB1 = await sealerB.checkpoint();
  sealB();
  sealB();
  const cpB2 = await sealerB.checkpoint();
  sealB();
  const cpB3 = await sealerB.checkpoint(true);
  const cpB4 = await signCheckpoint(sessionIdB, 4, 5n, chainB[5] ?? Buffer.alloc(32), clockB.nowNs());
  // The receiver never sees seq 3: its chain goes h2 -> h(h2 ‖ frame 4) until checkpoint 2 re-syncs it.
  const rxChain4 = createHash("sha256").update(Buffer.concat([chainB[2] ?? Buffer.alloc(0), b[4] ?? Buffer.alloc(0)])).digest();
  const dataStep = (label: string, seq: number, chain: Buffer, gap?: { from: string; to: string }): VectorStep => ({
    label, topic: TOPIC, frame: hex(b[seq] ?? Buffer.alloc(0)),
    expect: { ok: true, kind: "data", seq: String(seq), plaintext: hex(ptB(seq)), chain: hex(chain), ...(gap ? { gap } : {}) },
  });
  const gapSequence: VectorSequence = {
    name: "gap-and-checkpoints",
    description: "Session B: data 1, 2, a non-final checkpoint at 2, data 4 with seq 3 withheld (accepted with a gap), a non-final checkpoint at 4 that reports the chain mismatch and re-syncs the receiver, data 5 (verified on the re-synced chain), a final checkpoint at 5 that matches; then seq 3 arrives late (it fills the gap, once), again (a replay), and a checkpoint after the final one.",
    revokedSerials: [],
    steps: [
      { label: "session-open B", topic: TOPIC, frame: hex(sealerB.openFrame), expect: { ok: true, kind: "session-open" } },
      dataStep("data seq 1", 1, chainB[1] ?? Buffer.alloc(0)),
      dataStep("data seq 2", 2, chainB[2] ?? Buffer.alloc(0)),
      { label: "checkpoint 1 (non-final) at seq 2", topic: TOPIC, frame: hex(cpB1), expect: { ok: true, kind: "checkpoint", index: 1, lastSeq: "2", final: false, mismatch: false } },
      dataStep("data seq 4: seq 3 missing, accepted with a gap", 4, rxChain4, { from: "3", to: "3" }),
      { label: "checkpoint 2 (non-final) at seq 4: its chain covers seq 3, the receiver's does not", topic: TOPIC, frame: hex(cpB2), expect: { ok: true, kind: "checkpoint", index: 2, lastSeq: "4", final: false, mismatch: true } },
      dataStep("data seq 5, on the chain re-synced by checkpoint 2", 5, chainB[5] ?? Buffer.alloc(0)),
      { label: "checkpoint 3 (final) at seq 5", topic: TOPIC, frame: hex(cpB3), expect: { ok: true, kind: "checkpoint", index: 3, lastSeq: "5", final: true, mismatch: false } },
      {
        label: "data seq 3, late (a resend after a receipt named the gap): fills the gap once, the chain is not advanced", topic: TOPIC, frame: hex(b[3] ?? Buffer.alloc(0)),
        expect: { ok: true, kind: "data", seq: "3", plaintext: hex(ptB(3)), chain: hex(chainB[5] ?? Buffer.alloc(0)), filled: true },
      },
      { label: "data seq 3 again", topic: TOPIC, frame: hex(b[3] ?? Buffer.alloc(0)), expect: { ok: false, reason: "REPLAY" } },
      { label: "checkpoint 4 after the final checkpoint", topic: TOPIC, frame: hex(cpB4), expect: { ok: false, reason: "SESSION_CLOSED" } },
    ],
  };

  // Session C: firstSeq 5. A data frame of the same session and key with seq 1 (sealed by a sealer that
  // started at 1) is below the session's firstSeq: OUT_OF_ORDER.
  const dataKeyC = Buffer.from("404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f", "hex");
  const sessionIdC = Buffer.from("5e55104d000000000000000000000003", "hex");
  const clockC = new ManualClock(START_MS + 1_200_000);
  const sealerC = await SessionSealer.open({ ...opts, clock: clockC, firstSeq: 5n }, { dataKey: dataKeyC, sessionId: sessionIdC, ...(k.openFrames?.c ? { openFrame: k.openFrames.c } : {}) });
  const sealerC1 = await SessionSealer.open({ ...opts, clock: clockC, firstSeq: 1n }, { dataKey: dataKeyC, sessionId: sessionIdC });
  clockC.advanceMs(1000);
  const belowFirst = sealerC1.seal(Buffer.from('{"point":"pump3.level","value":1}', "utf8"), SCHEMA, clockC.nowNs());
  const order: VectorSequence = {
    name: "order",
    description: "Session C opens at firstSeq 5; a data frame of the session with seq 1 is below its firstSeq.",
    revokedSerials: [],
    steps: [
      { label: "session-open C (firstSeq 5)", topic: TOPIC, frame: hex(sealerC.openFrame), expect: { ok: true, kind: "session-open" } },
      { label: "data seq 1 of session C, below its firstSeq", topic: TOPIC, frame: hex(belowFirst), expect: { ok: false, reason: "OUT_OF_ORDER" } },
    ],
  };

  // Refusals on session A. A refused frame never changes the receiver's state, so they share one receiver.
  const foreignCa = await makeCa("otgw foreign CA");
  const foreignLeaf = await makeLeaf(foreignCa, { cn: GW, serial: "0b01" });
  const foreignReceiver = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const created = (ms: number): bigint => BigInt(ms) * 1_000_000n;
  const cpIndex0 = await signCheckpoint(sessionId, 0, 1n, Buffer.from(data[0]?.chain ?? "", "hex"), created(START_MS + 2000));
  const cpHugeSeq = await signCheckpoint(sessionId, 1, 1n << 63n, Buffer.alloc(32), created(START_MS + 2000));
  const badSig = (await openAt(START_MS + 60_000)).openFrame;
  const refuse = (label: string, frame: Buffer, reason: string, topic = TOPIC): VectorStep => ({ label, topic, frame: hex(frame), expect: { ok: false, reason } });
  const accept = (label: string, i: number): VectorStep => ({
    label, topic: TOPIC, frame: hex(d(i)), expect: { ok: true, kind: "data", seq: String(i + 1), plaintext: data[i]?.plaintext ?? "", chain: data[i]?.chain ?? "" },
  });
  const refusals: VectorSequence = {
    name: "refusals",
    description: "Session A with one refused frame of each kind between its accepted frames; each refusal names its reason code. The receiver's clock is receiver.nowNs, so backdated, too old and future session-opens are refused CREATED_OUT_OF_RANGE.",
    revokedSerials: [],
    steps: [
      refuse("data seq 1 before its session-open", d(0), "UNKNOWN_SESSION"),
      { label: "session-open A", topic: TOPIC, frame: hex(openA), expect: { ok: true, kind: "session-open" } },
      refuse("bad magic", flip(d(0), 0, 0x17), "MALFORMED"),
      refuse("three bytes", Buffer.from("OTG", "latin1"), "MALFORMED"),
      refuse("magic and version 1 only: shorter than the 8-byte header", Buffer.from("4f54475701", "hex"), "MALFORMED"),
      refuse("version 2", flip(d(0), 4, 0x03), "UNSUPPORTED_VERSION"),
      refuse("magic and version 2 only, 5 bytes: the version decides, not v1's header length", Buffer.from("4f54475702", "hex"), "UNSUPPORTED_VERSION"),
      refuse("unknown type 5", flip(d(0), 5, 0x07), "MALFORMED"),
      refuse("data frame truncated by 5 bytes", d(0).subarray(0, d(0).length - 5), "MALFORMED"),
      refuse("data frame with a trailing byte", Buffer.concat([d(0), Buffer.from([0])]), "MALFORMED"),
      refuse("topic is not an envelope topic", d(0), "MALFORMED", `otgw/v2/${GW}/${STREAM}`),
      refuse("topic names another gateway", d(0), "GATEWAY_MISMATCH", `otgw/v1/gw-vector-02/${STREAM}`),
      refuse("topic names another stream", d(0), "GATEWAY_MISMATCH", `otgw/v1/${GW}/line2`),
      refuse("data seq 1 with its last tag byte altered", flip(d(0), d(0).length - 1), "AEAD_FAILURE"),
      refuse("data seq 1 with its sourceTsNs (authenticated header) altered", flip(d(0), prefixLength(GW, STREAM) + 15), "AEAD_FAILURE"),
      accept("data seq 1", 0),
      refuse("data seq 1 again", d(0), "REPLAY"),
      refuse("session-open A again", openA, "REPLAY"),
      refuse("checkpoint index 0 (signed)", cpIndex0, "MALFORMED"),
      refuse("checkpoint lastSeq 2^63 (signed)", cpHugeSeq, "MALFORMED"),
      refuse("final checkpoint A with a signature byte altered", flip(cp, cp.length - 40), "BAD_SIGNATURE"),
      refuse("a new session-open with its signature's last byte altered", flip(badSig, badSig.length - 1), "BAD_SIGNATURE"),
      refuse("a new session-open sealed to another receiver's key", (await openAt(START_MS + 60_000, { recipient: foreignReceiver })).openFrame, "KEY_UNWRAP_FAILURE"),
      refuse("a new session-open whose certificate is from another CA", (await openAt(START_MS + 60_000, { signer: foreignLeaf.signer, certDer: foreignLeaf.der })).openFrame, "UNKNOWN_GATEWAY"),
      refuse("a new session-open created 1 s before session A (backdated)", (await openAt(START_MS - 1000)).openFrame, "CREATED_OUT_OF_RANGE"),
      refuse("a new session-open created 8 days before the receiver's now (beyond the backlog age)", (await openAt(RECEIVER_NOW_MS - 8 * 86_400_000)).openFrame, "CREATED_OUT_OF_RANGE"),
      refuse("a new session-open created 1 h after the receiver's now (beyond the clock skew)", (await openAt(RECEIVER_NOW_MS + 3_600_000)).openFrame, "CREATED_OUT_OF_RANGE"),
      accept("data seq 2", 1),
      accept("data seq 3", 2),
      { label: "final checkpoint A at seq 3", topic: TOPIC, frame: hex(cp), expect: { ok: true, kind: "checkpoint", index: 1, lastSeq: "3", final: true, mismatch: false } },
      refuse("session-end A after its final checkpoint", end, "SESSION_CLOSED"),
      refuse("final checkpoint A again", cp, "REPLAY"),
    ],
  };
  const revoked: VectorSequence = {
    name: "revoked",
    description: "The receiver's revocation hook reports the vector leaf (serial 0A01) revoked.",
    revokedSerials: ["0A01"],
    steps: [refuse("session-open A from a revoked certificate", openA, "REVOKED")],
  };

  return {
    description: "Envelope v1 test vectors (docs/envelope.md). Integers that may exceed 2^53 are decimal strings; bytes are hex.",
    gatewayId: GW, stream: STREAM, topic: sealer.topic,
    gatewayKeyJwk: k.gatewayKey.export({ format: "jwk" }),
    receiverKeyJwk: k.receiverKey.export({ format: "jwk" }),
    caCertDer: hex(k.caDer), leafCertDer: hex(k.leafDer),
    dataKey: hex(dataKey), sessionId: hex(sessionId),
    firstSeq: "1", createdNs: String(created(START_MS)), checkpointEveryMessages: 1000, checkpointEveryMs: 60_000,
    aeadKey: hex(aeadKey), baseNonce: hex(baseNonce),
    sessionOpen: { frame: hex(openA), hpkeAad: hex(openA.subarray(0, aadEnd)), h0: hex(chainStart(openA)) },
    data,
    checkpoint: { index: 1, lastSeq: "3", createdNs: String(cpCreatedNs), final: true, frame: hex(cp) },
    sessionEnd: { lastSeq: "3", createdNs: String(endCreatedNs), frame: hex(end) },
    receiver: { nowNs: String(created(RECEIVER_NOW_MS)), maxBacklogAgeMs: MAX_BACKLOG_AGE_MS, maxClockSkewMs: MAX_CLOCK_SKEW_MS },
    gapSession: { sessionId: hex(sessionIdB), dataKey: hex(dataKeyB), openFrame: hex(sealerB.openFrame) },
    sequences: [gapSequence, refusals, revoked, order],
    orderSession: { sessionId: hex(sessionIdC), dataKey: hex(dataKeyC), openFrame: hex(sealerC.openFrame) },
    receiptKey: hex(receiptKey),
    receipt: { topic: `${RECEIPT_TOPIC_ROOT}/${GW}`, flags: 0, contiguousNext: "2", checkpointIndex: 0, held: [{ from: "3", to: "3" }], frame: hex(receiptFrame) },
  };
}
