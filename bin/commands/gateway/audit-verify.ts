import { createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { errorText } from "../../../kernel/errors.js";
import { verifyAuditFile } from "../../../firmware/audit/verify.js";
import { readUpstreamAudit } from "../../../firmware/audit/upstream.js";
import type { AuditEntry } from "../../../firmware/audit/chain.js";
import { stdio, type Io } from "../../output.js";

/** Options of `otgw audit verify`. */
export interface AuditVerifyCommandOptions {
  /**
   * SPKI PEM or X.509 certificate of the key the log starts with; more than one: further keys vouched
   * for (a rotation made while the gateway was stopped has no handover entry).
   */
  publicKey?: string | readonly string[];
  /** The receiver's database or an export of the audit stream it verified. */
  upstream?: string;
  /** Which gateway's audit stream, when the receiver database holds several. */
  gateway?: string;
  /** An empty log is expected (a device that never wrote an entry). */
  fresh?: boolean;
}

/**
 * `otgw audit verify FILE [--public-key PEM]... [--upstream DB|JSONL [--gateway ID]] [--fresh]`. Exit
 * codes: 0 the log verifies, 1 it does not (the first bad line, or the entries missing from it, is
 * printed), 2 the log, key or upstream copy could not be read. The key file may hold an SPKI public
 * key or the gateway's X.509 certificate.
 */
export function auditVerifyCommand(file: string, o: AuditVerifyCommandOptions = {}, io: Io = stdio): number {
  const keys: KeyObject[] = [];
  for (const keyFile of o.publicKey === undefined ? [] : typeof o.publicKey === "string" ? [o.publicKey] : o.publicKey) {
    try {
      const pem = readFileSync(keyFile, "utf8");
      keys.push(pem.includes("BEGIN CERTIFICATE") ? new X509Certificate(pem).publicKey : createPublicKey(pem));
    } catch (err) {
      io.err(`cannot read public key ${keyFile}: ${errorText(err)}`);
      return 2;
    }
  }
  let upstream: AuditEntry[] | undefined;
  if (o.upstream !== undefined) {
    try {
      upstream = readUpstreamAudit(o.upstream, o.gateway);
    } catch (err) {
      io.err(`cannot read upstream audit copy ${o.upstream}: ${errorText(err)}`);
      return 2;
    }
  }
  let res;
  try {
    res = verifyAuditFile(file, { publicKey: keys[0], alsoKeys: keys.slice(1), upstream, fresh: o.fresh });
  } catch (err) {
    io.err(`cannot read audit log ${file}: ${errorText(err)}`);
    return 2;
  }
  if (!res.ok) {
    io.err(res.line === 0 ? `FAIL ${file}: ${res.problem}` : `FAIL ${file} line ${res.line} (seq ${res.seq ?? "?"}): ${res.problem}`);
    return 1;
  }
  const signers = res.signers.length > 0 ? res.signers.join(" -> ") : "none";
  const trust = res.keyPinned ? "from the given key" : "self-consistent only: pass --public-key to pin the first signer";
  const up = res.upstreamMatched === null ? "not compared with the receiver (--upstream)" : `${res.upstreamMatched} match the receiver's copy, ${res.notUpstream} not upstream yet`;
  io.out(`OK ${file}: ${res.entries} entries, ${res.checkpoints} signed checkpoint(s) by ${signers} (${trust}); ${up}`);
  return 0;
}
