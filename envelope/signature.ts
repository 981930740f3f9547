/**
 * ES256 signatures in IEEE-P1363 form, normalized to low-s. ECDSA admits two valid signatures per
 * (key, message) — (r, s) and (r, n - s) — so a relay could re-sign nothing yet still produce "new"
 * bytes; with low-s required, every signed frame has exactly one valid encoding and byte equality
 * means frame equality (replay detection, fuzzing). node:crypto does the ECDSA; this only compares.
 */
import { verify, type KeyObject } from "node:crypto";
import { SIG_LEN } from "./format.js";

/** Order of the P-256 group. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = N >> 1n;

function sOf(sig: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(sig.buffer, sig.byteOffset + 32, 32).toString("hex")}`);
}

/** Returns `sig` with s replaced by n - s when s > n/2 (same validity, canonical bytes). */
export function toLowS(sig: Buffer): Buffer {
  if (sig.length !== SIG_LEN) throw new RangeError(`signature is ${sig.length} bytes, ES256 P1363 is ${SIG_LEN}`);
  const s = sOf(sig);
  if (s <= HALF_N) return sig;
  const out = Buffer.from(sig);
  Buffer.from((N - s).toString(16).padStart(64, "0"), "hex").copy(out, 32);
  return out;
}

/** Verifies a low-s ES256 P1363 signature over SHA-256(data); false for high-s or any error. */
export function verifyEs256(publicKey: KeyObject, data: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== SIG_LEN || sOf(sig) > HALF_N) return false;
  try {
    return verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig);
  } catch {
    return false;
  }
}
