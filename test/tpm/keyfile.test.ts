/**
 * The TSS2 PRIVATE KEY encoder against OpenSSL's own DER writer (`asn1parse -genconf`): same bytes for
 * the same blobs, and files OpenSSL writes read back, including ones this gateway must refuse. That
 * the tpm2 provider loads our files for TLS is tested in mtls.test.ts with a real (software) TPM.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TpmError } from "../../kernel/errors.js";
import { decodeKeyFile, encodeKeyFile } from "../../provisioning/tpm/keyfile.js";
import { asn1parse, genconf } from "../support/openssl-asn1.js";

const pattern = (n: number, f: (i: number) => number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => f(i) & 0xff));

/** A TPMKey as OpenSSL encodes it; `fields` go between emptyAuth and parent, `sections` at the end. */
function opensslKey(o: { pub: Buffer; priv: Buffer; parent: string; type?: string; fields?: string[]; sections?: string[] }): Buffer {
  return genconf([
    "asn1 = SEQUENCE:tpmkey", "[tpmkey]",
    `type = OID:${o.type ?? "2.23.133.10.1.3"}`,
    "emptyAuth = EXPLICIT:0,BOOLEAN:TRUE",
    ...(o.fields ?? []),
    `parent = INTEGER:${o.parent}`,
    `pubkey = FORMAT:HEX,OCTETSTRING:${o.pub.toString("hex")}`,
    `privkey = FORMAT:HEX,OCTETSTRING:${o.priv.toString("hex")}`,
    ...(o.sections ?? []),
    "",
  ].join("\n"));
}

// The armour is assembled so that no line of this file looks like committed key material (the blobs are made at run time).
const DASHES = "-".repeat(5);
const pem = (der: Buffer): string => `${DASHES}BEGIN TSS2 PRIVATE KEY${DASHES}\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}${DASHES}END TSS2 PRIVATE KEY${DASHES}\n`;
const derOf = (text: string): Buffer => Buffer.from(text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const refused = (e: unknown): boolean => e instanceof TpmError && e.code === "TPM_KEYFILE" && /otgw provision/.test(e.message);

void describe("TSS2 PRIVATE KEY file encoding", () => {
  // Short and long blobs: one- and two-byte DER lengths inside and outside.
  const blobs = [
    { pub: pattern(90, (i) => i * 5 + 3), priv: pattern(126, (i) => 255 - i) },
    { pub: pattern(300, (i) => i * 11), priv: pattern(140, (i) => i ^ 0x5a) },
  ];

  void it("writes what OpenSSL writes for the same TPMKey (owner hierarchy parent, emptyAuth)", () => {
    for (const blob of blobs) {
      const text = encodeKeyFile(blob);
      assert.equal(derOf(text).toString("hex"), opensslKey({ ...blob, parent: "0x40000001" }).toString("hex"));
      assert.ok(text.split("\n").every((l) => l.length <= 64), "PEM lines of at most 64 characters");
      const nodes = asn1parse(derOf(text));
      assert.deepEqual(nodes.map((n) => n.type), ["SEQUENCE", "OBJECT", "cont [ 0 ]", "BOOLEAN", "INTEGER", "OCTET STRING", "OCTET STRING"]);
      assert.equal(nodes[1]?.value, "2.23.133.10.1.3");
      assert.equal(nodes[4]?.value, "40000001");
    }
  });

  void it("reads back its own files and OpenSSL's, a persistent (top-bit) parent handle included", () => {
    for (const blob of blobs) {
      const back = decodeKeyFile(encodeKeyFile(blob));
      assert.equal(back.parent, 0x40000001);
      assert.ok(back.pub.equals(blob.pub) && back.priv.equals(blob.priv));
      assert.equal(encodeKeyFile(back), encodeKeyFile(blob));
    }
    const persistent = decodeKeyFile(pem(opensslKey({ pub: Buffer.from("0102", "hex"), priv: Buffer.from("0304", "hex"), parent: "0x81000001" })));
    assert.equal(persistent.parent, 0x81000001);
    assert.equal(persistent.pub.toString("hex"), "0102");
    assert.equal(persistent.priv.toString("hex"), "0304");
  });

  void it("refuses other key types, keys that need a policy, and non-DER, saying what to do", () => {
    const one = { pub: Buffer.from("01", "hex"), priv: Buffer.from("02", "hex"), parent: "0x40000001" };
    // 2.23.133.10.1.4 is an importable key: not wrapped by this TPM yet.
    assert.throws(() => decodeKeyFile(pem(opensslKey({ ...one, type: "2.23.133.10.1.4" }))), refused);
    assert.throws(() => decodeKeyFile(pem(opensslKey({ ...one, fields: ["policy = EXPLICIT:1,SEQUENCE:policies"], sections: ["[policies]", "p = SEQUENCE:policy", "[policy]", "cc = EXPLICIT:0,INTEGER:0x16b", "body = EXPLICIT:1,OCTETSTRING:x"] }))), refused);
    assert.throws(() => decodeKeyFile(pem(Buffer.from("3003020101", "hex"))), refused);
    assert.throws(() => decodeKeyFile(pem(Buffer.from("30ff", "hex"))), refused);
    assert.throws(() => decodeKeyFile("no PEM here"), refused);
  });
});
