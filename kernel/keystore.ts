import { createHash, type KeyObject } from "node:crypto";

/**
 * A signing key whose private half the caller never sees. The envelope (session-open, checkpoints) and
 * the audit log sign through this; they never know whether a TPM or a file holds the key.
 */
export interface Signer {
  /** Always "ES256": ECDSA over P-256 with SHA-256. */
  readonly algorithm: "ES256";
  /** Where the key lives: "software" (a file, development only) or "tpm". */
  readonly kind: "software" | "tpm";
  /** Public key of the pair (SPKI), for certificates and for verifiers. */
  publicKey(): KeyObject;
  /**
   * Signs SHA-256(data) and returns the signature as IEEE P1363 r||s (64 bytes), the form the
   * envelope carries. Asynchronous because a TPM takes tens of milliseconds per signature.
   */
  sign(data: Uint8Array): Promise<Buffer>;
}

/** Creates and opens named signing keys. Implementations: software (files) and TPM (tpm2-tss). */
export interface KeyStore {
  readonly kind: "software" | "tpm";
  /** Creates a new key under `name`; fails if one exists (keys are never silently replaced). */
  create(name: string): Promise<Signer>;
  /** Opens the existing key `name`; fails with an IdentityError that says how to create it. */
  open(name: string): Promise<Signer>;
  /** True if a key named `name` exists. */
  has(name: string): Promise<boolean>;
}

/** A public key's identity everywhere otgw names one (CA inventory, `otgw identity show`, audit): SHA-256 hex of its SPKI DER. */
export function keyId(pub: KeyObject): string {
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}
