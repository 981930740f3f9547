import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { codeOf, errorText, AttestError, EstError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/log.js";
import { AttestationVerifier, type Attested } from "../attest/verifier.js";
import { loadBootPolicies } from "../attest/boot-policy.js";
import { QuoteVerifier, type BootVerdict } from "../attest/quote.js";
import type { QuoteSubmission } from "../../provisioning/attest/protocol.js";
import { createHash } from "node:crypto";
import { keyId } from "../ca/inventory.js";
import type { FleetCa } from "../ca/fleet-ca.js";
import { parseCsr } from "../../provisioning/est/csr.js";
import { certsToPkcs7Base64 } from "../../provisioning/est/pkcs7.js";

/**
 * The fleet's EST server (RFC 7030) over HTTPS, TLS 1.3:
 *   GET  /.well-known/est/cacerts         the fleet CA (certs-only PKCS#7, base64)
 *   POST /.well-known/est/simpleenroll    first certificate: CSR + TPM attestation (challengePassword)
 *   POST /.well-known/est/simplereenroll  renewal (same key) or rotation (new attested key), with the
 *                                         current certificate as TLS client certificate
 * and two otgw extensions under the same prefix (docs/identity.md):
 *   POST /.well-known/est/attest          EK certificate + key (+ AK) public areas -> credential challenge(s) + quote nonce
 *   POST /.well-known/est/quote-nonce     (renewal, client certificate) -> a fresh quote nonce and the PCRs to quote
 *   POST /.well-known/est/quote           TPM quote of the boot state -> verdict (kept for the enrollment that follows)
 *   GET  /.well-known/est/crl             the current CRL, PEM
 * Refusals are text/plain "<CODE>: <what to do>" so the technician's CLI can show them as they are.
 */
export interface EstServerOptions {
  ca: FleetCa;
  logger: Logger;
  host?: string;
  port?: number;
}

export interface RunningEst {
  url: string;
  port: number;
  close(): Promise<void>;
}

const PREFIX = "/.well-known/est/";
const MAX_BODY = 64 * 1024;

const STATUS: Record<string, number> = { CSR_INVALID: 400, EST_BAD_REQUEST: 400, CLIENT_CERT_REQUIRED: 401 };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on("data", (d: Buffer) => {
      n += d.length;
      if (n > MAX_BODY) { reject(new EstError("EST_BAD_REQUEST", "request body too large")); req.destroy(); } else parts.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

export async function startEstServer(o: EstServerOptions): Promise<RunningEst> {
  const { ca } = o;
  const log = o.logger.child({ module: "est" });
  const verifier = new AttestationVerifier(() => ca.ekRoots(), ca.inventory);
  const caCert = new X509Certificate(ca.certPem);
  const quoteMode = ca.policy.quotes ?? "report";
  // Policies are re-read for every nonce and quote: releasing an image is dropping a file in the directory.
  const quotes = new QuoteVerifier({ policies: () => loadBootPolicies(ca.bootPolicyDir) });
  /** Verdicts of renewal quotes (no attest challenge to hang them on), per gateway, used up by simplereenroll. */
  const renewalBoot = new Map<string, { verdict: BootVerdict; expires: number }>();
  const audit = (gatewayId: string, kind: string, v: BootVerdict): void => {
    log.info({ event: "identity.boot-state", gatewayId, kind, status: v.status, policy: v.policy, differ: v.differ, eventLog: v.eventLog, mode: quoteMode }, v.summary);
  };

  /** The client's current gateway certificate, if it presented a valid, unrevoked one. */
  const currentIdentity = (req: IncomingMessage): { gatewayId: string; cert: X509Certificate } | undefined => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    if (!peer) return undefined;
    const now = Date.now();
    if (!peer.checkIssued(caCert) || !peer.verify(caCert.publicKey) || now > Date.parse(peer.validTo) || now < Date.parse(peer.validFrom)) {
      throw new EstError("CLIENT_CERT_INVALID", "the client certificate is not a valid certificate of this fleet CA: enroll again with `otgw provision`");
    }
    const hit = ca.inventory.bySerial(peer.serialNumber);
    if (!hit || hit.cert.revokedAt) throw new EstError("CERT_REVOKED", "the client certificate is revoked or unknown to this CA: the gateway must be re-provisioned by an operator");
    return { gatewayId: hit.gateway.gatewayId, cert: peer };
  };

  const issue = async (att: Attested | { gatewayId: string; keyPublic: import("node:crypto").KeyObject; boot?: BootVerdict }, kind: string): Promise<string> => {
    const g = ca.inventory.get(att.gatewayId);
    const full: Attested = "tpmName" in att ? att : {
      ...att, keySha256: keyId(att.keyPublic), tpmName: g?.keys.find((k) => k.keySha256 === keyId(att.keyPublic))?.tpmName ?? "",
      ekCertSha256: g?.ekCertSha256 ?? "", ekPublicSha256: g?.ekPublicSha256 ?? "", ekIssuer: g?.ekIssuer ?? "",
    };
    // Decided before anything is signed: a required quote that did not come refuses here (QUOTE_REQUIRED).
    const boot = att.boot ?? quotes.verify(full.gatewayId, undefined, undefined, quoteMode);
    const issued = await ca.issue(full.gatewayId, full.keyPublic);
    audit(full.gatewayId, kind, boot);
    const akPublic = "akPublic" in full ? full.akPublic : undefined;
    ca.inventory.record({
      ...full, cert: { serial: issued.serial, keySha256: issued.keySha256, issuedAt: new Date().toISOString(), notAfter: issued.notAfter },
      ...(akPublic ? { ak: { akSha256: createHash("sha256").update(akPublic).digest("hex"), akPublic: akPublic.toString("base64") } } : {}),
      boot: { status: boot.status, pcrs: boot.pcrs, eventLog: boot.eventLog, ...(boot.policy ? { policy: { image: boot.policy.image, version: boot.policy.version } } : {}), ...(boot.differ ? { differ: boot.differ } : {}) },
    });
    log.info({ event: `identity.${kind}`, gatewayId: full.gatewayId, serial: issued.serial, notAfter: issued.notAfter }, `certificate ${kind}`);
    return certsToPkcs7Base64([issued.certPem]);
  };

  const route = async (req: IncomingMessage): Promise<{ type: string; body: string }> => {
    const op = (req.url ?? "").split("?")[0]?.slice(PREFIX.length) ?? "";
    if (req.method === "GET" && op === "cacerts") return { type: "application/pkcs7-mime", body: certsToPkcs7Base64([ca.certPem]) };
    if (req.method === "GET" && op === "crl") return { type: "application/pkix-crl", body: await ca.writeCrlIfStale() };
    if (req.method !== "POST") throw new EstError("EST_BAD_REQUEST", `unknown EST operation ${req.method ?? ""} ${op}`);
    const body = await readBody(req);
    if (op === "attest") {
      const j = JSON.parse(body.toString("utf8")) as Record<string, string>;
      const current = currentIdentity(req);
      const gatewayId = j.gatewayId ?? "";
      if (current && current.gatewayId !== gatewayId) throw new AttestError("ID_MISMATCH", `this client is "${current.gatewayId}", not "${gatewayId}"`);
      const ch = verifier.begin({
        gatewayId, ekCert: Buffer.from(j.ekCert ?? "", "base64"), ekPublic: Buffer.from(j.ekPublic ?? "", "base64"), keyPublic: Buffer.from(j.keyPublic ?? "", "base64"),
        ...(j.akPublic ? { akPublic: Buffer.from(j.akPublic, "base64") } : {}),
      }, { renewal: current !== undefined });
      const q = quotes.issue(gatewayId);
      return {
        type: "application/json",
        body: JSON.stringify({
          challengeId: ch.challengeId, credentialBlob: ch.credentialBlob.toString("base64"), secret: ch.secret.toString("base64"),
          ...(ch.ak ? { akCredentialBlob: ch.ak.credentialBlob.toString("base64"), akSecret: ch.ak.secret.toString("base64") } : {}),
          quoteNonce: q.nonce.toString("base64"), quotePcrs: q.pcrs, quoteMode,
        }),
      };
    }
    if (op === "quote-nonce") {
      const current = currentIdentity(req);
      if (!current) throw new EstError("CLIENT_CERT_REQUIRED", "a renewal quote needs the current gateway certificate as TLS client certificate: run `otgw identity renew` on the gateway");
      const q = quotes.issue(current.gatewayId);
      return { type: "application/json", body: JSON.stringify({ quoteNonce: q.nonce.toString("base64"), quotePcrs: q.pcrs, quoteMode }) };
    }
    if (op === "quote") {
      const s = JSON.parse(body.toString("utf8")) as QuoteSubmission;
      const gatewayId = String(s.gatewayId ?? "");
      let verdict: BootVerdict;
      try {
        if (s.challengeId) {
          const ak = verifier.boundAk(s.challengeId, gatewayId, String(s.akSecret ?? ""));
          verdict = quotes.verify(gatewayId, s.evidence, ak, quoteMode);
          verifier.setBoot(s.challengeId, verdict);
        } else {
          const current = currentIdentity(req);
          if (!current || current.gatewayId !== gatewayId) throw new EstError("CLIENT_CERT_REQUIRED", `a renewal quote for "${gatewayId}" needs that gateway's current certificate as TLS client certificate`);
          const bound = ca.inventory.get(gatewayId)?.ak;
          verdict = quotes.verify(gatewayId, s.evidence, bound ? Buffer.from(bound.akPublic, "base64") : undefined, quoteMode);
          renewalBoot.set(gatewayId, { verdict, expires: Date.now() + 5 * 60_000 });
        }
      } catch (err) {
        log.warn({ event: "identity.boot-state", gatewayId, status: "refused", code: codeOf(err), mode: quoteMode }, errorText(err));
        throw err;
      }
      return { type: "application/json", body: JSON.stringify(verdict) };
    }
    const csr = await parseCsr(Buffer.from(body.toString("ascii").replace(/\s+/g, ""), "base64"));
    if (op === "simpleenroll") {
      if (!csr.challengePassword) throw new AttestError("ATTESTATION_REQUIRED", "enrollment needs TPM attestation: use `otgw provision` (it attests first)");
      const att = verifier.finish(csr.challengePassword, csr.publicKey, csr.commonName);
      ca.inventory.checkEnrollment(att.gatewayId, att.ekPublicSha256, att.keySha256, { renewal: false });
      return { type: "application/pkcs7-mime; smime-type=certs-only", body: await issue(att, "issued") };
    }
    if (op === "simplereenroll") {
      const current = currentIdentity(req);
      if (!current) throw new EstError("CLIENT_CERT_REQUIRED", "re-enrollment needs the current gateway certificate as TLS client certificate: run `otgw identity renew` on the gateway");
      if (csr.commonName !== current.gatewayId) throw new AttestError("ID_MISMATCH", `the CSR names "${csr.commonName}" but the client is "${current.gatewayId}"`);
      if (csr.publicKey.equals(current.cert.publicKey)) {
        const rb = renewalBoot.get(current.gatewayId);
        renewalBoot.delete(current.gatewayId);
        const boot = rb && rb.expires >= Date.now() ? rb.verdict : undefined;
        return { type: "application/pkcs7-mime; smime-type=certs-only", body: await issue({ gatewayId: current.gatewayId, keyPublic: csr.publicKey, ...(boot ? { boot } : {}) }, "renewed") };
      }
      if (!csr.challengePassword) throw new AttestError("ATTESTATION_REQUIRED", "a new key needs TPM attestation: use `otgw identity rotate`");
      return { type: "application/pkcs7-mime; smime-type=certs-only", body: await issue(verifier.finish(csr.challengePassword, csr.publicKey, csr.commonName), "rotated") };
    }
    throw new EstError("EST_BAD_REQUEST", `unknown EST operation ${op}`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (!(req.url ?? "").startsWith(PREFIX)) { res.writeHead(404).end(); return; }
    route(req).then(({ type, body }) => {
      res.writeHead(200, { "content-type": type, ...(type.startsWith("application/pkcs7") ? { "content-transfer-encoding": "base64" } : {}) }).end(body);
    }, (err: unknown) => {
      const code = codeOf(err) ?? (err instanceof SyntaxError ? "EST_BAD_REQUEST" : "EST_INTERNAL");
      const status = STATUS[code] ?? (code === "EST_INTERNAL" ? 500 : 403);
      log.warn({ event: "identity.refused", code, url: req.url }, errorText(err));
      res.writeHead(status, { "content-type": "text/plain" }).end(`${code}: ${code === "EST_INTERNAL" ? "internal error (see the EST server log)" : errorText(err)}`);
    });
  };

  const tls = ca.estTls;
  const server: Server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.3" }, handle);
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve()); });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `https://${o.host ?? "127.0.0.1"}:${port}`,
    port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
