import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { errorText } from "../../../kernel/errors.js";
import { verifyAuditFile } from "../../../firmware/audit/verify.js";
import { stdio, type Io } from "../../output.js";

/**
 * `otgw audit verify FILE [--public-key PEM]`. Exit codes: 0 the log verifies, 1 it does not (the first
 * bad line is printed), 2 the log or key could not be read. The key file may hold an SPKI public key or
 * the gateway's X.509 certificate.
 */
export function auditVerifyCommand(file: string, publicKeyFile?: string, io: Io = stdio): number {
  let publicKey: KeyObject | undefined;
  if (publicKeyFile !== undefined) {
    try {
      const pem = readFileSync(publicKeyFile, "utf8");
      publicKey = pem.includes("BEGIN CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(pem);
    } catch (err) {
      io.err(`cannot read public key ${publicKeyFile}: ${errorText(err)}`);
      return 2;
    }
  }
  let res;
  try {
    res = verifyAuditFile(file, { publicKey });
  } catch (err) {
    io.err(`cannot read audit log ${file}: ${errorText(err)}`);
    return 2;
  }
  if (!res.ok) {
    io.err(`FAIL ${file} line ${res.line} (seq ${res.seq ?? "?"}): ${res.problem}`);
    return 1;
  }
  const keys = res.signers.length > 0 ? res.signers.join(", ") : "none";
  const trust = res.keyPinned ? "against the given key" : "self-consistent only: pass --public-key to pin the signer";
  io.out(`OK ${file}: ${res.entries} entries, ${res.checkpoints} signed checkpoint(s) by ${keys} (${trust}); ${res.unsignedTail} entr(ies) after the last checkpoint`);
  return 0;
}
