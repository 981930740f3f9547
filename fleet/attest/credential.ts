import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { tpm2b } from "../../provisioning/tpm/wire.js";

/**
 * TPM2_MakeCredential done by the verifier in software (TPM 2.0 Part 1, 24 "Credential Protection"),
 * for an RSA endorsement key with SHA-256 and AES-128-CFB (the EK template L-1). The result can be
 * opened only by TPM2_ActivateCredential in the TPM that holds that EK *and* has the object named
 * `name` loaded, which is how enrollment proves the identity key lives in the attested TPM.
 */

/** KDFa (Part 1, 11.4.10.2) with HMAC-SHA-256. */
export function kdfa(key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const l = Buffer.concat([Buffer.from(label, "ascii"), Buffer.alloc(1)]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(bits);
  for (let i = 1, have = 0; have < bits / 8; i++, have += 32) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    out.push(createHmac("sha256", key).update(Buffer.concat([c, l, contextU, contextV, b])).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

/** What the TPM needs to recover `credential`: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET, wire bytes. */
export interface MadeCredential {
  credentialBlob: Buffer;
  secret: Buffer;
}

/** Binds `credential` (≤ 32 bytes) to the object `name` under the RSA endorsement key `ekPublic`. */
export function makeCredential(ekPublic: KeyObject, name: Buffer, credential: Buffer): MadeCredential {
  const seed = randomBytes(32);
  const encSeed = publicEncrypt({ key: ekPublic, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: Buffer.from("IDENTITY\0", "ascii") }, seed);
  const symKey = kdfa(seed, "STORAGE", name, Buffer.alloc(0), 128);
  const c = createCipheriv("aes-128-cfb", symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([c.update(tpm2b(credential)), c.final()]);
  const hmacKey = kdfa(seed, "INTEGRITY", Buffer.alloc(0), Buffer.alloc(0), 256);
  const integrity = createHmac("sha256", hmacKey).update(Buffer.concat([encIdentity, name])).digest();
  return { credentialBlob: tpm2b(Buffer.concat([tpm2b(integrity), encIdentity])), secret: tpm2b(encSeed) };
}
