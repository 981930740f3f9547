/**
 * Writes docs/envelope-vectors.json: fixed keys (JWK), a test CA and gateway certificate (DER hex),
 * a fixed data key and session id, and the frames they produce. Keys and certificates are reused from
 * the existing file so data frames stay byte-for-byte stable; pass --fresh to draw new ones.
 * ECDSA signatures and the HPKE ephemeral key are randomized, so the session-open, checkpoint and
 * session-end frames change on every run: they are checked by verification, not by bytes.
 *
 *   node --import tsx scripts/gen-envelope-vectors.ts [--fresh]
 */
import "reflect-metadata";
import { createPrivateKey, createSecretKey, generateKeyPairSync, type JsonWebKey } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ManualClock } from "../kernel/clock.js";
import { chainStart } from "../envelope/chain.js";
import { prefixLength } from "../envelope/format.js";
import { deriveRaw, nonceInto } from "../envelope/keys.js";
import { SessionSealer, signSessionEnd } from "../envelope/sealer.js";
import { encodeReceipt } from "../envelope/receipt.js";
import { SoftwareSigner } from "../provisioning/software-keystore.js";
import { makeCa, makeLeaf } from "../devkit/test-pki.js";

const OUT = new URL("../docs/envelope-vectors.json", import.meta.url);
const fresh = process.argv.includes("--fresh") || !existsSync(OUT);
const GW = "gw-vector-01";
const STREAM = "line1";
const START_MS = 1_800_000_000_000;

interface Old { gatewayKeyJwk: JsonWebKey; receiverKeyJwk: JsonWebKey; caCertDer: string; leafCertDer: string }
const old = fresh ? undefined : (JSON.parse(readFileSync(OUT, "utf8")) as Old);

let gatewayKey, receiverKey, caDer: Buffer, leafDer: Buffer;
if (old) {
  gatewayKey = createPrivateKey({ key: old.gatewayKeyJwk, format: "jwk" });
  receiverKey = createPrivateKey({ key: old.receiverKeyJwk, format: "jwk" });
  caDer = Buffer.from(old.caCertDer, "hex");
  leafDer = Buffer.from(old.leafCertDer, "hex");
} else {
  const ca = await makeCa("otgw envelope vectors CA");
  gatewayKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const leaf = await makeLeaf(ca, { cn: GW, key: gatewayKey, serial: "0a01" });
  receiverKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  caDer = ca.certDer;
  leafDer = leaf.der;
}

const dataKey = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
const sessionId = Buffer.from("5e55104d000000000000000000000001", "hex");
const clock = new ManualClock(START_MS);
const opts = {
  gatewayId: GW, stream: STREAM, signer: new SoftwareSigner(gatewayKey), certDer: leafDer, recipientPublicKey: receiverKey,
  clock, checkpointEveryMessages: 1000, checkpointEveryMs: 60_000, firstSeq: 1n,
};
const sealer = await SessionSealer.open(opts, { dataKey, sessionId });
const { aeadKey, baseNonce, receiptKey } = deriveRaw(dataKey, sessionId);
const plaintexts = [
  '{"point":"pump1.temp","value":21.5}',
  '{"point":"pump1.temp","value":21.625}',
  '{"point":"pump1.running","value":true}',
];
const data = plaintexts.map((p, i) => {
  clock.advanceMs(1000);
  const sourceTsNs = BigInt(START_MS + 1000 * i + 500) * 1_000_000n;
  const seq = sealer.nextSeq;
  const nonce = Buffer.alloc(12);
  nonceInto(nonce, baseNonce, seq);
  const gatewayTsNs = clock.nowNs();
  const frame = sealer.seal(Buffer.from(p, "utf8"), "otgw.reading/1", sourceTsNs);
  return { seq: String(seq), sourceTsNs: String(sourceTsNs), gatewayTsNs: String(gatewayTsNs), schemaId: "otgw.reading/1", plaintextUtf8: p, plaintext: Buffer.from(p).toString("hex"), nonce: nonce.toString("hex"), frame: frame.toString("hex"), chain: sealer.chainValue.toString("hex") };
});
clock.advanceMs(1000);
const cpCreatedNs = clock.nowNs();
const cp = await sealer.checkpoint(true);
// A session-end statement for the same session, as a restarted gateway would send it had the session
// not been closed: "committed up to seq 3".
clock.advanceMs(1000);
const endCreatedNs = clock.nowNs();
const end = await signSessionEnd({ gatewayId: GW, stream: STREAM, sessionIdHex: sessionId.toString("hex"), lastSeq: 3n, signer: opts.signer, certDer: leafDer, clock });
// HPKE aad = prefix + firstSeq, createdNs, two u32 intervals, three u16 suite ids.
const aadEnd = prefixLength(GW, STREAM) + 8 + 8 + 4 + 4 + 6;

// A receipt of a receiver that committed seq 1 and 3 (seq 2 missing) and no checkpoint: deterministic (HMAC).
const receipt = { sessionId, gatewayId: GW, stream: STREAM, flags: 0, contiguousNext: 2n, checkpointIndex: 0, held: [{ from: 3n, to: 3n }] };
const receiptFrame = encodeReceipt(receipt, createSecretKey(receiptKey));

const out = {
  description: "Envelope v1 test vectors (docs/envelope.md). Integers that may exceed 2^53 are decimal strings; bytes are hex.",
  gatewayId: GW, stream: STREAM, topic: sealer.topic,
  gatewayKeyJwk: gatewayKey.export({ format: "jwk" }),
  receiverKeyJwk: receiverKey.export({ format: "jwk" }),
  caCertDer: caDer.toString("hex"), leafCertDer: leafDer.toString("hex"),
  dataKey: dataKey.toString("hex"), sessionId: sessionId.toString("hex"),
  firstSeq: "1", createdNs: String(BigInt(START_MS) * 1_000_000n), checkpointEveryMessages: 1000, checkpointEveryMs: 60_000,
  aeadKey: aeadKey.toString("hex"), baseNonce: baseNonce.toString("hex"),
  sessionOpen: { frame: sealer.openFrame.toString("hex"), hpkeAad: sealer.openFrame.subarray(0, aadEnd).toString("hex"), h0: chainStart(sealer.openFrame).toString("hex") },
  data,
  checkpoint: { index: 1, lastSeq: "3", createdNs: String(cpCreatedNs), final: true, frame: cp.toString("hex") },
  sessionEnd: { lastSeq: "3", createdNs: String(endCreatedNs), frame: end.toString("hex") },
  receiptKey: receiptKey.toString("hex"),
  receipt: { topic: `otgw/r1/${GW}`, flags: 0, contiguousNext: "2", checkpointIndex: 0, held: [{ from: "3", to: "3" }], frame: receiptFrame.toString("hex") },
};
writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${OUT.pathname} (${fresh ? "fresh keys" : "kept keys"})`);
