/**
 * Gateway certificate checks for the receiver, with node:crypto X509Certificate: chains to a trusted
 * fleet CA, validity, gateway profile (not a CA, P-256 key), revocation, and identity (CN = gatewayId,
 * SAN URI urn:otgw:gateway:<id> when present). Chain results are cached by certificate hash because a
 * fleet reuses one certificate across many sessions.
 */
import { X509Certificate, type KeyObject } from "node:crypto";
import { Reason, type ReasonCode } from "../reasons.js";

/** Trust configuration of a {@link Verifier}. */
export interface TrustOptions {
  /** Fleet CA certificates (DER). A gateway leaf must be issued directly by one of them. */
  caCertsDer: Buffer[];
  /** Revocation hook: true if the certificate (serial, uppercase hex as X509Certificate prints it) is revoked. */
  isRevoked?: (serialHex: string, gatewayId: string) => boolean;
  /** Validity instant: the session's createdNs (default; backlogs stay verifiable) or the receiver's now. */
  checkValidityAt?: "created" | "now";
}

/** A gateway certificate that passed the checks. */
export interface TrustedGateway {
  publicKey: KeyObject;
  serialHex: string;
}

/** Outcome of a certificate check. */
export type TrustResult = ({ ok: true } & TrustedGateway) | { ok: false; reason: ReasonCode; detail: string };

interface Parsed {
  cert: X509Certificate;
  error?: string;
  notBefore: number;
  notAfter: number;
}

const CACHE_MAX = 1024;

function cnOf(subject: string): string[] {
  return subject.split("\n").filter((l) => l.startsWith("CN=")).map((l) => l.slice(3));
}

/** Checks gateway certificates against the fleet CAs. */
export class GatewayTrust {
  private readonly cas: X509Certificate[];
  private readonly cache = new Map<string, Parsed>();

  constructor(private readonly opts: TrustOptions) {
    this.cas = opts.caCertsDer.map((d) => new X509Certificate(d));
  }

  /** True if revocation says the gateway's certificate is revoked (re-checked on every frame). */
  revoked(serialHex: string, gatewayId: string): boolean {
    try {
      return this.opts.isRevoked?.(serialHex, gatewayId) ?? false;
    } catch {
      // A failing revocation source must fail closed: treat as revoked.
      return true;
    }
  }

  /** Which instant validity is checked at. */
  get validityAt(): "created" | "now" {
    return this.opts.checkValidityAt ?? "created";
  }

  private parse(der: Buffer, hashHex: string): Parsed | string {
    const hit = this.cache.get(hashHex);
    if (hit) return hit;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (err) {
      return `certificate does not parse: ${err instanceof Error ? err.message : String(err)}`;
    }
    const issuer = this.cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    const p: Parsed = { cert, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
    if (!issuer) p.error = `certificate ${cert.serialNumber} (${cert.subject.replace(/\n/g, ", ")}) is not issued by a trusted fleet CA`;
    else if (cert.ca) p.error = `certificate ${cert.serialNumber} is a CA certificate, not a gateway certificate`;
    else {
      const k = cert.publicKey;
      if (k.asymmetricKeyType !== "ec" || k.asymmetricKeyDetails?.namedCurve !== "prime256v1") p.error = `certificate ${cert.serialNumber} key is not EC P-256`;
    }
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hashHex, p);
    return p;
  }

  /** Full check of a leaf for `gatewayId` at `atMs` (ms since epoch). */
  check(der: Buffer, hashHex: string, gatewayId: string, atMs: number): TrustResult {
    const p = this.parse(der, hashHex);
    if (typeof p === "string") return { ok: false, reason: Reason.UNKNOWN_GATEWAY, detail: p };
    if (p.error) return { ok: false, reason: Reason.UNKNOWN_GATEWAY, detail: p.error };
    const c = p.cert;
    if (!(atMs >= p.notBefore && atMs <= p.notAfter)) {
      return { ok: false, reason: Reason.UNKNOWN_GATEWAY, detail: `certificate ${c.serialNumber} not valid at ${new Date(atMs).toISOString()} (${c.validFrom} .. ${c.validTo})` };
    }
    if (this.revoked(c.serialNumber, gatewayId)) return { ok: false, reason: Reason.REVOKED, detail: `certificate ${c.serialNumber} of ${gatewayId} is revoked` };
    const cns = cnOf(c.subject);
    if (cns.length !== 1 || cns[0] !== gatewayId) {
      return { ok: false, reason: Reason.GATEWAY_MISMATCH, detail: `certificate CN ${JSON.stringify(cns)} is not the frame gatewayId "${gatewayId}"` };
    }
    const uris = (c.subjectAltName ?? "").split(", ").filter((s) => s.startsWith("URI:")).map((s) => s.slice(4));
    if (uris.some((u) => u !== `urn:otgw:gateway:${gatewayId}`)) {
      return { ok: false, reason: Reason.GATEWAY_MISMATCH, detail: `certificate SAN URI ${JSON.stringify(uris)} is not urn:otgw:gateway:${gatewayId}` };
    }
    return { ok: true, publicKey: c.publicKey, serialHex: c.serialNumber };
  }
}
