import { X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { GatewayConfig } from "../config/schema.js";

/**
 * The key of the identity this gateway had before its current one, if `otgw identity rotate` kept its
 * certificate (`<certFile>.prev`) and that certificate was issued by the fleet CA to this same gateway
 * (same subject as the current one). The audit log accepts a tail signed by it (a rotation made while
 * the gateway was stopped, docs/audit-log.md); a certificate anyone could make is never enough.
 */
export function previousIdentityKey(config: GatewayConfig, current: X509Certificate): KeyObject | undefined {
  const prevFile = `${config.identity.certFile}.prev`;
  if (!existsSync(prevFile)) return undefined;
  try {
    const prev = new X509Certificate(readFileSync(prevFile));
    const ca = new X509Certificate(readFileSync(config.identity.caFile));
    const issued = prev.checkIssued(ca) && prev.verify(ca.publicKey);
    if (!issued || prev.subject !== current.subject || prev.publicKey.equals(current.publicKey)) return undefined;
    return prev.publicKey;
  } catch {
    return undefined; // unreadable: no previous key is trusted, and a tail by it is refused
  }
}
