/**
 * Session key material: HPKE (RFC 9180, @hpke/core) wraps a fresh 32-byte data key to the receiver;
 * HKDF-SHA256 (node:crypto) derives the AES-256-GCM key, the base nonce and the receipt MAC key from it. Nothing is hand-rolled.
 */
import { createPublicKey, createSecretKey, hkdfSync, type JsonWebKey, type KeyObject, type webcrypto } from "node:crypto";
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";

/** HPKE info string of the session-open key wrap. */
export const HPKE_INFO = Buffer.from("otgw/v1 session-open", "ascii");
const AEAD_KEY_INFO = Buffer.from("otgw/v1 aead key", "ascii");
const BASE_NONCE_INFO = Buffer.from("otgw/v1 base nonce", "ascii");
const RECEIPT_KEY_INFO = Buffer.from("otgw/v1 receipt key", "ascii");
/** Data key length in bytes. */
export const DATA_KEY_LEN = 32;
/** AES-GCM nonce length in bytes. */
export const NONCE_LEN = 12;

const suite = new CipherSuite({ kem: new DhkemP256HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

/** Keys of one session, derived from its data key. */
export interface SessionKeys {
  /** AES-256 key as a KeyObject (node:crypto skips re-importing raw bytes per message). */
  aeadKey: KeyObject;
  /** 12-byte base nonce; per message nonce = baseNonce XOR (0^4 || u64be(seq)). */
  baseNonce: Buffer;
  /**
   * HMAC-SHA256 key of the session's receipts (docs/envelope.md "Receipt"): only the gateway that
   * sealed the session and the receiver that unwrapped its data key can compute it.
   */
  receiptKey: KeyObject;
}

/** HKDF-SHA256 schedule: returns the raw aeadKey (32 B) and baseNonce (12 B). Exported for test vectors. */
export function deriveRaw(dataKey: Uint8Array, sessionId: Uint8Array): { aeadKey: Buffer; baseNonce: Buffer; receiptKey: Buffer } {
  return {
    aeadKey: Buffer.from(hkdfSync("sha256", dataKey, sessionId, AEAD_KEY_INFO, 32)),
    baseNonce: Buffer.from(hkdfSync("sha256", dataKey, sessionId, BASE_NONCE_INFO, NONCE_LEN)),
    receiptKey: Buffer.from(hkdfSync("sha256", dataKey, sessionId, RECEIPT_KEY_INFO, 32)),
  };
}

/** Derives the session keys from a data key and session id. */
export function deriveSessionKeys(dataKey: Uint8Array, sessionId: Uint8Array): SessionKeys {
  const raw = deriveRaw(dataKey, sessionId);
  const keys = { aeadKey: createSecretKey(raw.aeadKey), baseNonce: raw.baseNonce, receiptKey: createSecretKey(raw.receiptKey) };
  raw.aeadKey.fill(0);
  raw.receiptKey.fill(0);
  return keys;
}

/**
 * Same as {@link nonceInto}, reading u64be(seq) from `src` at `seqOffset` (the data frame already
 * holds it), which keeps BigInt arithmetic off the per-message path.
 */
export function nonceFromFrame(out: Buffer, baseNonce: Buffer, src: Buffer, seqOffset: number): void {
  out[0] = baseNonce[0] ?? 0;
  out[1] = baseNonce[1] ?? 0;
  out[2] = baseNonce[2] ?? 0;
  out[3] = baseNonce[3] ?? 0;
  for (let i = 0; i < 8; i++) out[4 + i] = (baseNonce[4 + i] ?? 0) ^ (src[seqOffset + i] ?? 0);
}

/** Writes the nonce for `seq` into `out` (12 bytes): baseNonce XOR (4 zero bytes || u64be(seq)). */
export function nonceInto(out: Buffer, baseNonce: Buffer, seq: bigint): void {
  baseNonce.copy(out, 0, 0, NONCE_LEN);
  const hi = Number(seq >> 32n);
  const lo = Number(seq & 0xffffffffn);
  out.writeUInt32BE((out.readUInt32BE(4) ^ hi) >>> 0, 4);
  out.writeUInt32BE((out.readUInt32BE(8) ^ lo) >>> 0, 8);
}

function p256Jwk(key: KeyObject): JsonWebKey {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new TypeError("the receiver key must be an EC P-256 key");
  }
  return key.export({ format: "jwk" });
}

/** HPKE base-mode single-shot seal of `dataKey` to the receiver's P-256 public key. */
export async function wrapDataKey(recipientPublicKey: KeyObject, dataKey: Uint8Array, aad: Uint8Array): Promise<{ enc: Buffer; wrappedKey: Buffer }> {
  // Accepts a private key too (its public half), which keeps tests and tooling simple.
  const pub = recipientPublicKey.type === "public" ? recipientPublicKey : createPublicKey(recipientPublicKey);
  const jwk = p256Jwk(pub);
  const rkey = (await suite.kem.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, true)) as unknown as webcrypto.CryptoKey;
  const res = await suite.seal({ recipientPublicKey: rkey, info: HPKE_INFO }, dataKey, aad);
  return { enc: Buffer.from(res.enc), wrappedKey: Buffer.from(res.ct) };
}

/** Imported receiver private key (a WebCrypto key), reusable across unwraps. */
export type HpkePrivateKey = webcrypto.CryptoKey;

/** Imports the receiver's P-256 private key for {@link unwrapDataKey}. */
export async function importRecipientKey(privateKey: KeyObject): Promise<HpkePrivateKey> {
  const jwk = p256Jwk(privateKey);
  // @hpke/core types its keys with the DOM CryptoKey, which this Node-only build does not declare.
  const key: unknown = await suite.kem.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d }, false);
  return key as HpkePrivateKey;
}

/** HPKE single-shot open of the wrapped data key; throws (an @hpke error) if it does not authenticate. */
export async function unwrapDataKey(recipientKey: HpkePrivateKey, enc: Uint8Array, wrappedKey: Uint8Array, aad: Uint8Array): Promise<Buffer> {
  const pt = await suite.open({ recipientKey, enc, info: HPKE_INFO }, wrappedKey, aad);
  return Buffer.from(pt);
}
