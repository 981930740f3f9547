import { X509Certificate as NodeX509 } from "node:crypto";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { EstError } from "../../kernel/errors.js";

/** RFC 7030 carries certificates as base64 "certs-only" PKCS#7 (CMS SignedData without signers). */
export function certsToPkcs7Base64(pems: string[]): string {
  return new x509.X509Certificates(pems.map((p) => new x509.X509Certificate(p))).export("base64");
}

/** The certificates of a base64 certs-only PKCS#7, as PEM. */
export function pkcs7Base64ToPems(b64: string): string[] {
  try {
    const certs = new x509.X509Certificates(Buffer.from(b64.replace(/\s+/g, ""), "base64"));
    return Array.from(certs, (c) => new NodeX509(Buffer.from(c.rawData)).toString());
  } catch (err) {
    throw new EstError("EST_RESPONSE", `the EST server sent no valid PKCS#7 certificates: ${(err as Error).message}`);
  }
}
