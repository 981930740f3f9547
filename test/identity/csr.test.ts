/**
 * The PKCS#10 encoder against OpenSSL: OpenSSL verifies what we build, writes the same request info
 * for the same key and names, and reads the same signature integers we meant; plus fixed vectors from
 * the hand-written DER writer this encoder replaced, so the bytes a CA receives did not change.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildCsr, parseCsr } from "../../provisioning/est/csr.js";
import { asn1parse, elementBytes, genconf, openssl } from "../support/openssl-asn1.js";

const pattern = (n: number, f: (i: number) => number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => f(i) & 0xff));

// A P-256 public key (no private half anywhere) and P1363 signatures chosen for the DER INTEGER
// edge cases: r with leading zero bytes then a high bit, s with the high bit set; r with the top bit
// clear, s starting with 0x00 0x01.
const SPKI = "3059301306072a8648ce3d020106082a8648ce3d03010703420004966fe5ac483cb41e53069733d2568dab8a517d93aa260e7e0cf5e7b62a530e9319844ca72caedd340900d18e25f68f752135b9bfe15e1dda83eb080784e9211b";
const SIG_A = Buffer.concat([Buffer.from([0, 0, 0x80]), pattern(29, (i) => i * 7 + 1), Buffer.from([0xff]), pattern(31, (i) => i * 3)]);
const SIG_B = Buffer.concat([Buffer.from([0x7f]), pattern(31, (i) => i + 9), Buffer.from([0, 1]), pattern(30, (i) => 200 - i)]);
// Written by the previous, hand-written encoder for the inputs below.
const CSR_A = "3081f93081a102010030173115301306035504030c0c67772d676f6c64656e2d30313059301306072a8648ce3d020106082a8648ce3d03010703420004966fe5ac483cb41e53069733d2568dab8a517d93aa260e7e0cf5e7b62a530e9319844ca72caedd340900d18e25f68f752135b9bfe15e1dda83eb080784e9211ba028302606092a864886f70d01090731190c176330666665652e30313233343536373839616263646566300a06082a8648ce3d0403020347003044021f008001080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5022100ff000306090c0f1215181b1e2124272a2d303336393c3f4245484b4e5154575a";
const CSR_B = "3081c73071020100300f310d300b06035504030c0467772d323059301306072a8648ce3d020106082a8648ce3d03010703420004966fe5ac483cb41e53069733d2568dab8a517d93aa260e7e0cf5e7b62a530e9319844ca72caedd340900d18e25f68f752135b9bfe15e1dda83eb080784e9211ba000300a06082a8648ce3d040302034600304302207f090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627021f01c8c7c6c5c4c3c2c1c0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0afaeadacab";

/** The signature BIT STRING's content (after the unused-bits byte): the DER ECDSA-Sig-Value. */
function signatureValue(csr: Buffer): Buffer {
  const top = asn1parse(csr).filter((n) => n.depth === 1);
  const bits = top[2];
  assert.equal(bits?.type, "BIT STRING");
  return csr.subarray(bits.offset + bits.headerLength + 1, bits.offset + bits.headerLength + bits.length);
}

void describe("PKCS#10 CSR encoding", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "otgw-csr-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it("writes the same bytes as the hand-written encoder it replaced", async () => {
    const publicKey = createPublicKey({ key: Buffer.from(SPKI, "hex"), format: "der", type: "spki" });
    const a = await buildCsr({ commonName: "gw-golden-01", publicKey, challengePassword: "c0ffee.0123456789abcdef", sign: () => Promise.resolve(SIG_A) });
    assert.equal(a.toString("hex"), CSR_A);
    const b = await buildCsr({ commonName: "gw-2", publicKey, sign: () => Promise.resolve(SIG_B) });
    assert.equal(b.toString("hex"), CSR_B);
  });

  void it("encodes the signature integers minimally, as OpenSSL does (leading zeros dropped, a sign byte added)", async () => {
    const publicKey = createPublicKey({ key: Buffer.from(SPKI, "hex"), format: "der", type: "spki" });
    for (const sig of [SIG_A, SIG_B]) {
      const csr = await buildCsr({ commonName: "gw-1", publicKey, sign: () => Promise.resolve(sig) });
      const expected = genconf(`asn1 = SEQUENCE:sig\n[sig]\nr = INTEGER:0x${sig.subarray(0, 32).toString("hex")}\ns = INTEGER:0x${sig.subarray(32).toString("hex")}\n`);
      assert.equal(signatureValue(csr).toString("hex"), expected.toString("hex"));
    }
  });

  for (const challengePassword of [undefined, "c0ffee.0123456789abcdef"]) {
    void it(`OpenSSL verifies it and writes the same request info for the same key (${challengePassword ? "with" : "without"} a challengePassword)`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const keyFile = join(dir, "k.pem");
      writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
      let tbs: Buffer | undefined;
      const ours = await buildCsr({
        commonName: "gw-csr-01", publicKey, challengePassword,
        sign: (t) => { tbs = t; return Promise.resolve(cryptoSign("sha256", t, { key: privateKey, dsaEncoding: "ieee-p1363" })); },
      });
      const verified = openssl(["req", "-inform", "DER", "-noout", "-verify"], ours);
      assert.equal(verified.status, 0, verified.stderr);
      assert.match(`${verified.stdout.toString()}${verified.stderr}`, /verify OK/);

      const cnf = join(dir, "req.cnf");
      writeFileSync(cnf, [
        "[ req ]", "prompt = no", "distinguished_name = dn", "string_mask = utf8only", "utf8 = yes",
        ...(challengePassword ? ["attributes = attrs"] : []),
        "[ dn ]", "CN = gw-csr-01",
        ...(challengePassword ? ["[ attrs ]", `challengePassword = ${challengePassword}`] : []),
        "",
      ].join("\n"));
      const theirs = openssl(["req", "-new", "-key", keyFile, "-config", cnf, "-outform", "DER"]);
      assert.equal(theirs.status, 0, theirs.stderr);
      const theirDer = theirs.stdout;
      const [info, alg] = asn1parse(theirDer).filter((n) => n.depth === 1);
      const [ourInfo, ourAlg] = asn1parse(ours).filter((n) => n.depth === 1);
      assert.ok(info && alg && ourInfo && ourAlg && tbs);
      assert.equal(tbs.toString("hex"), elementBytes(theirDer, info).toString("hex"), "the signed request info is what OpenSSL writes");
      assert.equal(elementBytes(ours, ourInfo).toString("hex"), tbs.toString("hex"), "the request carries exactly what was signed");
      assert.equal(elementBytes(ours, ourAlg).toString("hex"), elementBytes(theirDer, alg).toString("hex"), "ecdsa-with-SHA256, no parameters");

      const parsed = await parseCsr(ours);
      assert.equal(parsed.commonName, "gw-csr-01");
      assert.equal(parsed.challengePassword, challengePassword);
      assert.ok(parsed.publicKey.equals(publicKey));
    });
  }
});

