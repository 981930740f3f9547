import { createPublicKey, type KeyObject } from "node:crypto";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { EstError } from "../../kernel/errors.js";

/**
 * PKCS#10 (RFC 2986) built by hand so that any Signer (a TPM key included) can sign it: the key is
 * never handed to a library. Parsing and verification on the CA side use @peculiar/x509.
 */

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, "hex"));
const OID_CN = "550403";
const OID_CHALLENGE = "2a864886f70d010907";
const OID_ECDSA_SHA256 = "2a8648ce3d040302";

function derInt(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), v]) : v);
}

/** IEEE P1363 r||s -> DER ECDSA-Sig-Value. */
export function p1363ToDer(sig: Buffer): Buffer {
  return tlv(0x30, Buffer.concat([derInt(sig.subarray(0, 32)), derInt(sig.subarray(32))]));
}

/** A CSR with CN = `commonName`, signed through `sign` (ES256, P1363), optionally with a challengePassword. */
export async function buildCsr(o: { commonName: string; publicKey: KeyObject; challengePassword?: string; sign: (tbs: Buffer) => Promise<Buffer> }): Promise<Buffer> {
  const name = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.concat([oid(OID_CN), tlv(0x0c, Buffer.from(o.commonName, "utf8"))]))));
  const spki = o.publicKey.export({ type: "spki", format: "der" });
  const attrs = o.challengePassword
    ? tlv(0x30, Buffer.concat([oid(OID_CHALLENGE), tlv(0x31, tlv(0x0c, Buffer.from(o.challengePassword, "utf8")))]))
    : Buffer.alloc(0);
  const info = tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([0])), name, spki, tlv(0xa0, attrs)]));
  const sig = await o.sign(info);
  return tlv(0x30, Buffer.concat([info, tlv(0x30, oid(OID_ECDSA_SHA256)), tlv(0x03, Buffer.concat([Buffer.alloc(1), p1363ToDer(sig)]))]));
}

/** A verified CSR: its proof of possession checked. */
export interface ParsedCsr {
  commonName: string;
  publicKey: KeyObject;
  challengePassword?: string;
}

/** Parses and verifies a CSR (DER); refuses a bad signature or a CN that is not a plain id. */
export async function parseCsr(der: Buffer): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (err) {
    throw new EstError("CSR_INVALID", `the CSR does not parse: ${(err as Error).message}`);
  }
  if (!(await csr.verify())) throw new EstError("CSR_INVALID", "the CSR signature does not verify (no proof of possession of the key)");
  const cns = csr.subjectName.getField("CN");
  const commonName = cns[0] ?? "";
  if (cns.length !== 1 || !/^[A-Za-z0-9._-]{1,64}$/.test(commonName)) throw new EstError("CSR_INVALID", "the CSR subject must be exactly one CN = the gateway id");
  const publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
  if (publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new EstError("CSR_INVALID", "gateway keys must be P-256");
  const cp = csr.getAttribute("1.2.840.113549.1.9.7");
  const out: ParsedCsr = { commonName, publicKey };
  if (cp instanceof x509.ChallengePasswordAttribute) out.challengePassword = cp.password;
  else if (cp) out.challengePassword = new x509.ChallengePasswordAttribute(cp.rawData).password;
  return out;
}
