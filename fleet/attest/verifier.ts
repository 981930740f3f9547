import { createHash, randomBytes, timingSafeEqual, X509Certificate, type KeyObject } from "node:crypto";
import { AttestError } from "../../kernel/errors.js";
import { keyId, type Inventory } from "../ca/inventory.js";
import { AK_ATTRIBUTES, ATTR, nameOf, parseEccPublic, publicKeyOf, rsaPublicKeyOf } from "../../provisioning/tpm/wire.js";
import type { BootVerdict } from "../../provisioning/attest/protocol.js";
import { makeCredential } from "./credential.js";
import type { AttestChallenge, AttestRequest } from "../../provisioning/attest/protocol.js";

export type { AttestChallenge, AttestRequest };

/**
 * Server side of TPM attestation before issuance:
 *  1. the EK certificate chains to a trusted TPM manufacturer root (ek-roots/),
 *  2. the EK public area the client sent is the certified one,
 *  3. the identity key's public area says fixedTPM + fixedParent + sensitiveDataOrigin (born in a TPM,
 *     can never leave it) — a claim only the TPM can back, which step 4 checks,
 *  4. MakeCredential binds a one-time secret to the EK *and* the key's name: only the TPM holding both
 *     recovers it (ActivateCredential), and the CSR must carry it as its challengePassword.
 */

/** An attestation that passed, bound to the key and TPM it proved. */
export interface Attested {
  gatewayId: string;
  keyPublic: KeyObject;
  keySha256: string;
  tpmName: string;
  ekCertSha256: string;
  ekPublicSha256: string;
  ekIssuer: string;
  /** The attestation key (TPM2B_PUBLIC) bound to the same EK, when the gateway sent one. */
  akPublic?: Buffer;
  /** The boot-state verdict of the quote sent with this attestation (`POST quote`). */
  boot?: BootVerdict;
}

interface Pending extends Attested { secretSha256: Buffer; akSecretSha256?: Buffer; expires: number }

const sha256 = (b: Uint8Array): Buffer => createHash("sha256").update(b).digest();

/** Verifies that `ekCert` chains to one of `roots` (intermediates may be among them). */
export function verifyEkChain(ekCert: X509Certificate, roots: X509Certificate[], now = Date.now()): X509Certificate[] {
  const chain = [ekCert];
  let cur = ekCert;
  for (let depth = 0; depth < 6; depth++) {
    if (!(now >= Date.parse(cur.validFrom) && now <= Date.parse(cur.validTo))) {
      throw new AttestError("EK_CHAIN_UNTRUSTED", `EK chain certificate "${cur.subject.replace(/\n/g, ", ")}" is not valid now`);
    }
    const issuer = roots.find((r) => cur.checkIssued(r) && cur.verify(r.publicKey));
    if (!issuer) break;
    chain.push(issuer);
    if (issuer.checkIssued(issuer) && issuer.verify(issuer.publicKey)) return chain;
    cur = issuer;
  }
  throw new AttestError("EK_CHAIN_UNTRUSTED", `the EK certificate (issuer "${cur.issuer.replace(/\n/g, ", ")}") does not chain to a trusted TPM manufacturer root: add the vendor's root and intermediates to the CA's ek-roots/ if this TPM is genuine`);
}

/** Issues and checks attestation challenges (single use, short-lived, in memory). */
export class AttestationVerifier {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly roots: () => X509Certificate[], private readonly inventory: Inventory, private readonly ttlMs = 5 * 60_000) {}

  /** Step 1: checks the EK chain and key attributes, returns a credential only that TPM can open. */
  begin(req: AttestRequest, opts: { renewal?: boolean } = {}): AttestChallenge {
    let ekCert: X509Certificate;
    try {
      ekCert = new X509Certificate(req.ekCert);
    } catch {
      throw new AttestError("EK_CHAIN_UNTRUSTED", "the EK certificate does not parse");
    }
    verifyEkChain(ekCert, this.roots());
    const ekKey = rsaPublicKeyOf(req.ekPublic);
    if (!ekKey.equals(ekCert.publicKey)) throw new AttestError("EK_MISMATCH", "the EK public area is not the key in the EK certificate");
    const area = parseEccPublic(req.keyPublic);
    const need = ATTR.fixedTPM | ATTR.fixedParent | ATTR.sensitiveDataOrigin | ATTR.sign;
    if ((area.attributes & need) !== need || area.attributes & ATTR.restricted) {
      throw new AttestError("KEY_EXPORTABLE", "the identity key is not a fixedTPM/fixedParent signing key generated in the TPM; create it with `otgw provision`");
    }
    const keyPublic = publicKeyOf(area);
    const att: Attested = {
      gatewayId: req.gatewayId, keyPublic, keySha256: keyId(keyPublic), tpmName: nameOf(area).toString("hex"),
      ekCertSha256: sha256(req.ekCert).toString("hex"), ekPublicSha256: keyId(ekKey), ekIssuer: ekCert.issuer.replace(/\n/g, ", "),
    };
    this.inventory.checkEnrollment(req.gatewayId, att.ekPublicSha256, att.keySha256, { renewal: opts.renewal ?? false });
    const secret = randomBytes(32);
    const made = makeCredential(ekKey, nameOf(area), secret);
    const challengeId = randomBytes(16).toString("hex");
    // The AK gets its own credential under the same EK: only that TPM, holding the AK, recovers it.
    let ak: { credentialBlob: Buffer; secret: Buffer } | undefined;
    let akSecretSha256: Buffer | undefined;
    if (req.akPublic?.length) {
      const akArea = parseEccPublic(req.akPublic);
      if ((akArea.attributes & AK_ATTRIBUTES) !== AK_ATTRIBUTES) {
        throw new AttestError("QUOTE_AK_UNBOUND", "the attestation key is not a restricted fixedTPM/fixedParent signing key made in the TPM: update otgw on the gateway (it creates one)");
      }
      const akSecret = randomBytes(32);
      ak = makeCredential(ekKey, nameOf(akArea), akSecret);
      akSecretSha256 = sha256(akSecret);
      att.akPublic = Buffer.from(req.akPublic);
    }
    this.gc();
    this.pending.set(challengeId, { ...att, secretSha256: sha256(secret), ...(akSecretSha256 ? { akSecretSha256 } : {}), expires: Date.now() + this.ttlMs });
    return { challengeId, credentialBlob: made.credentialBlob, secret: made.secret, ...(ak ? { ak } : {}) };
  }

  /**
   * The AK of open challenge `challengeId`, once the gateway shows the AK credential's secret
   * (`akSecretHex`): proof that the AK lives in the TPM whose EK was attested. Does not use the challenge up.
   */
  boundAk(challengeId: string, gatewayId: string, akSecretHex: string): Buffer {
    const p = this.pending.get(challengeId);
    if (!p || p.expires < Date.now()) throw new AttestError("ATTESTATION_REQUIRED", "no open attestation for this quote (missing, used or expired): attest again, then quote and enroll within 5 minutes");
    if (p.gatewayId !== gatewayId) throw new AttestError("ID_MISMATCH", `the quote names "${gatewayId}" but attestation was for "${p.gatewayId}"`);
    if (!p.akPublic || !p.akSecretSha256 || !timingSafeEqual(sha256(Buffer.from(akSecretHex, "hex")), p.akSecretSha256)) {
      throw new AttestError("QUOTE_AK_UNBOUND", "credential activation of the attestation key failed: the AK is not held by the TPM whose EK was presented");
    }
    return p.akPublic;
  }

  /** Attaches the boot-state verdict to open challenge `challengeId` (read back by finish()). */
  setBoot(challengeId: string, boot: BootVerdict): void {
    const p = this.pending.get(challengeId);
    if (p) p.boot = boot;
  }

  /**
   * Step 2: `challengePassword` is "<challengeId>.<secret hex>" from the CSR; the CSR key must be the
   * attested key. Single use: a challenge is gone after the first try, right or wrong.
   */
  finish(challengePassword: string, csrKey: KeyObject, gatewayId: string): Attested {
    const [id, hex] = challengePassword.split(".");
    const p = id ? this.pending.get(id) : undefined;
    if (id) this.pending.delete(id);
    if (!p || p.expires < Date.now()) throw new AttestError("ATTESTATION_REQUIRED", "no open attestation for this request (missing, used or expired): attest again, then enroll within 5 minutes");
    const got = sha256(Buffer.from(hex ?? "", "hex"));
    if (!timingSafeEqual(got, p.secretSha256)) {
      throw new AttestError("KEY_NOT_IN_TPM", "credential activation failed: the key is not held by the TPM whose EK was presented");
    }
    if (p.gatewayId !== gatewayId) throw new AttestError("ID_MISMATCH", `the CSR names "${gatewayId}" but attestation was for "${p.gatewayId}"`);
    if (keyId(csrKey) !== p.keySha256) throw new AttestError("KEY_MISMATCH", "the CSR key is not the attested TPM key");
    const { secretSha256: _s, akSecretSha256: _a, expires: _e, ...attested } = p;
    return attested;
  }

  private gc(): void {
    const now = Date.now();
    for (const [k, v] of this.pending) if (v.expires < now) this.pending.delete(k);
  }
}
