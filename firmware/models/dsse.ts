import { createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { dsse } from "@sigstore/core";
import { MODEL_ERRORS, ModelError } from "./errors.js";

/**
 * DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1.0) over node:crypto ECDSA P-256.
 * The pre-authentication encoding comes from @sigstore/core (maintained by Sigstore); the signature
 * is ECDSA P-256 / SHA-256 over PAE(payloadType, payload), DER-encoded as Sigstore and cosign expect.
 */
export interface DsseSignature {
  /** Hint only (unauthenticated): SHA-256 hex of the signer's SPKI DER public key. */
  keyid: string;
  /** Base64 (standard alphabet) of the DER ECDSA signature. */
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** Base64 (standard alphabet) of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

/** A public key the verifier accepts, with the name it is configured under. */
export interface TrustedKey {
  name: string;
  keyid: string;
  key: KeyObject;
}

/** SHA-256 hex of the SPKI DER encoding of a P-256 public key: the keyid carried in envelopes. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}

/** A trusted key from its SPKI PEM text. */
export function trustedKey(name: string, pem: string): TrustedKey {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new ModelError(MODEL_ERRORS.malformed, `trusted model signer "${name}" is not an ECDSA P-256 public key`);
  }
  return { name, keyid: keyIdOf(key), key };
}

/** Signs `payload` into a one-signature envelope with an ECDSA P-256 private key. */
export function signEnvelope(payloadType: string, payload: Buffer, privateKey: KeyObject): DsseEnvelope {
  const sig = sign("sha256", dsse.preAuthEncoding(payloadType, payload), { key: privateKey, dsaEncoding: "der" });
  return { payloadType, payload: payload.toString("base64"), signatures: [{ keyid: keyIdOf(privateKey), sig: sig.toString("base64") }] };
}

/**
 * Verifies an envelope against the trusted keys and returns the payload with the key that signed it.
 * One valid signature by a trusted key is enough. Refusals, most specific first: no signature at all
 * (MODEL_UNSIGNED); a signature by a trusted keyid that fails to verify (MODEL_SIGNATURE_INVALID);
 * otherwise no trusted keyid (MODEL_UNTRUSTED_SIGNER).
 */
export function verifyEnvelope(env: DsseEnvelope, trusted: readonly TrustedKey[]): { payload: Buffer; signer: TrustedKey } {
  if (env.signatures.length === 0) throw new ModelError(MODEL_ERRORS.unsigned, "model bundle is not signed: sign it with `otgw model sign` before installing");
  const payload = Buffer.from(env.payload, "base64");
  const pae = dsse.preAuthEncoding(env.payloadType, payload);
  let triedTrusted = false;
  for (const s of env.signatures) {
    for (const t of trusted) {
      if (t.keyid !== s.keyid) continue;
      triedTrusted = true;
      if (verify("sha256", pae, { key: t.key, dsaEncoding: "der" }, Buffer.from(s.sig, "base64"))) return { payload, signer: t };
    }
  }
  if (triedTrusted) throw new ModelError(MODEL_ERRORS.badSignature, "model bundle signature does not verify: the signed statement was altered or forged; get the bundle again from the registry");
  const ids = env.signatures.map((s) => s.keyid.slice(0, 16)).join(", ");
  throw new ModelError(MODEL_ERRORS.untrustedSigner, `model bundle is signed by key(s) ${ids}… that this gateway does not trust: add the signer to models.trustedSigners if it is legitimate`);
}
