import { createPublicKey, type KeyObject } from "node:crypto";
import "reflect-metadata";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Attribute, AttributeTypeAndValue, AttributeValue, DirectoryString, Name, RelativeDistinguishedName, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { Attributes, CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { ecdsaWithSHA256 } from "@peculiar/asn1-ecc";
import * as x509 from "@peculiar/x509";
import { EstError } from "../../kernel/errors.js";

/**
 * PKCS#10 (RFC 2986) assembled from @peculiar/asn1-csr structures and signed through a callback, so
 * that any Signer (a TPM key included) can sign it: the key is never handed to a library. Parsing and
 * verification on the CA side use @peculiar/x509.
 */

const OID_CN = "2.5.4.3";
const OID_CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7";

const P256 = { name: "ECDSA", namedCurve: "P-256" };

/** IEEE P1363 r||s (what Signers return) -> DER ECDSA-Sig-Value (what X.509 carries). */
function p1363ToDer(sig: Buffer): ArrayBuffer {
  const der = new x509.AsnEcSignatureFormatter().toAsnSignature(P256, sig);
  if (!der) throw new EstError("CSR_INVALID", "the signature could not be converted to DER");
  return der;
}

/** A CSR with CN = `commonName`, signed through `sign` (ES256, P1363), optionally with a challengePassword. */
export async function buildCsr(o: { commonName: string; publicKey: KeyObject; challengePassword?: string; sign: (tbs: Buffer) => Promise<Buffer> }): Promise<Buffer> {
  // Both strings are UTF8String, as OpenSSL writes them under its default string_mask (utf8only).
  const cn = new AttributeTypeAndValue({ type: OID_CN, value: new AttributeValue({ utf8String: o.commonName }) });
  const attributes = new Attributes(o.challengePassword
    ? [new Attribute({ type: OID_CHALLENGE_PASSWORD, values: [AsnConvert.serialize(new DirectoryString({ utf8String: o.challengePassword }))] })]
    : []);
  const info = new CertificationRequestInfo({
    version: 0,
    subject: new Name([new RelativeDistinguishedName([cn])]),
    subjectPKInfo: AsnConvert.parse(o.publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo),
    attributes,
  });
  const sig = await o.sign(Buffer.from(AsnConvert.serialize(info)));
  const csr = new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: ecdsaWithSHA256, signature: p1363ToDer(sig) });
  return Buffer.from(AsnConvert.serialize(csr));
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
