import { createHash, X509Certificate } from "node:crypto";
import { request } from "node:https";
import { EstError, errorFromWire, type GatewayError } from "../../kernel/errors.js";
import type { AttestChallenge, BootVerdict, QuoteChallenge, QuoteSubmission } from "../attest/protocol.js";
import { pkcs7Base64ToPems } from "./pkcs7.js";

/** How a gateway reaches the EST server. `caPem` pins the fleet CA that signed the server certificate. */
export interface EstClientOptions {
  url: string;
  caPem: string;
  /** Current identity for simplereenroll (TLS client auth); `key` may be a TSS2 key file (provider). */
  clientTls?: { cert: string; key: string };
}

interface Reply { status: number; body: string }

function send(url: URL, method: string, opts: { ca?: string; insecure?: boolean; clientTls?: { cert: string; key: string } }, body?: { type: string; data: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, minVersion: "TLSv1.3", agent: false,
      ...(opts.insecure ? { rejectUnauthorized: false } : { ca: opts.ca, rejectUnauthorized: true }),
      ...(opts.clientTls ? { cert: opts.clientTls.cert, key: opts.clientTls.key } : {}),
      headers: body ? { "content-type": body.type, "content-length": Buffer.byteLength(body.data) } : {},
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", (err) => reject(new EstError("EST_UNREACHABLE", `cannot reach the EST server ${url.origin} (${err.message}): check the URL, the network and that the server certificate is from the fleet CA`)));
    req.setTimeout(60_000, () => req.destroy(new EstError("EST_UNREACHABLE", `the EST server ${url.origin} did not answer within 60 s`)));
    req.end(body?.data);
  });
}

function refusal(r: Reply): GatewayError {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(r.body.trim());
  const message = `EST server refused (HTTP ${r.status}): ${m?.[2] ?? r.body.trim()}`;
  return errorFromWire(m?.[1], message) ?? new EstError("EST_REFUSED", message);
}

/**
 * Bootstrap of trust (RFC 7030 4.1.1): fetch /cacerts without verifying the server, accept the CA only
 * if its SHA-256 fingerprint is the one the technician was given, then pin it for everything else.
 */
export async function fetchCaByFingerprint(url: string, sha256Hex: string): Promise<string> {
  const r = await send(new URL("/.well-known/est/cacerts", url), "GET", { insecure: true });
  if (r.status !== 200) throw refusal(r);
  const want = sha256Hex.replace(/[^0-9a-f]/gi, "").toLowerCase();
  for (const pem of pkcs7Base64ToPems(r.body)) {
    const got = createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
    if (got === want) return pem;
  }
  throw new EstError("EST_CA_FINGERPRINT", `the EST server's CA does not have fingerprint ${want}: wrong server, or someone in between; check the URL and the fingerprint from the fleet operator`);
}

/** An EST client (RFC 7030) plus the otgw attestation extension. */
export class EstClient {
  constructor(private readonly o: EstClientOptions) {}

  private async call(method: string, op: string, body?: { type: string; data: string }): Promise<string> {
    const r = await send(new URL(`/.well-known/est/${op}`, this.o.url), method, { ca: this.o.caPem, ...(this.o.clientTls ? { clientTls: this.o.clientTls } : {}) }, body);
    if (r.status !== 200) throw refusal(r);
    return r.body;
  }

  async cacerts(): Promise<string[]> {
    return pkcs7Base64ToPems(await this.call("GET", "cacerts"));
  }

  crl(): Promise<string> {
    return this.call("GET", "crl");
  }

  async attest(req: { gatewayId: string; ekCert: Buffer; ekPublic: Buffer; keyPublic: Buffer; akPublic?: Buffer }): Promise<AttestChallenge> {
    const body = JSON.stringify({
      gatewayId: req.gatewayId, ekCert: req.ekCert.toString("base64"), ekPublic: req.ekPublic.toString("base64"), keyPublic: req.keyPublic.toString("base64"),
      ...(req.akPublic ? { akPublic: req.akPublic.toString("base64") } : {}),
    });
    const j = JSON.parse(await this.call("POST", "attest", { type: "application/json", data: body })) as Record<string, string | undefined> & { quotePcrs?: number[] };
    const quote = quoteChallengeOf(j);
    return {
      challengeId: j.challengeId ?? "", credentialBlob: Buffer.from(j.credentialBlob ?? "", "base64"), secret: Buffer.from(j.secret ?? "", "base64"),
      ...(j.akCredentialBlob && j.akSecret ? { ak: { credentialBlob: Buffer.from(j.akCredentialBlob, "base64"), secret: Buffer.from(j.akSecret, "base64") } } : {}),
      ...(quote ? { quote } : {}),
    };
  }

  /** otgw extension: a fresh nonce for a renewal's quote (authenticated by the current certificate). */
  async quoteNonce(): Promise<QuoteChallenge> {
    const j = JSON.parse(await this.call("POST", "quote-nonce", { type: "application/json", data: "{}" })) as Record<string, string | undefined> & { quotePcrs?: number[] };
    const q = quoteChallengeOf(j);
    if (!q) throw new EstError("EST_RESPONSE", "the EST server's quote-nonce answer has no nonce: it is older than this gateway; ask the fleet operator to update it");
    return q;
  }

  /** otgw extension: sends the boot-state quote; returns the fleet's verdict (a refusal throws its code). */
  async quote(s: QuoteSubmission): Promise<BootVerdict> {
    return JSON.parse(await this.call("POST", "quote", { type: "application/json", data: JSON.stringify(s) })) as BootVerdict;
  }

  /** simpleenroll (first certificate) or simplereenroll (renew/rotate); returns the certificate PEM. */
  async enroll(csrDer: Buffer, op: "simpleenroll" | "simplereenroll"): Promise<string> {
    const pems = pkcs7Base64ToPems(await this.call("POST", op, { type: "application/pkcs10", data: csrDer.toString("base64") }));
    const leaf = pems[0];
    if (!leaf) throw new EstError("EST_RESPONSE", "the EST server returned no certificate");
    return leaf;
  }
}

function quoteChallengeOf(j: Record<string, unknown>): QuoteChallenge | undefined {
  const nonce = typeof j.quoteNonce === "string" ? Buffer.from(j.quoteNonce, "base64") : undefined;
  const pcrs = Array.isArray(j.quotePcrs) ? j.quotePcrs.filter((p): p is number => Number.isInteger(p)) : [];
  return nonce?.length ? { nonce, pcrs } : undefined;
}
