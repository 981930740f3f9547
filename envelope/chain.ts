/**
 * Per-session hash chain: h0 = SHA-256("otgw/v1 chain" || session-open frame), h_i = SHA-256(h_{i-1} ||
 * data frame i). Checkpoints sign h at their lastSeq, so deleting, reordering or truncating frames
 * between two checkpoints changes the value the receiver computes.
 */
import { createHash } from "node:crypto";

const CHAIN_LABEL = Buffer.from("otgw/v1 chain", "ascii");

/** h0 of a session from its full session-open frame bytes. */
export function chainStart(openFrame: Uint8Array): Buffer {
  return createHash("sha256").update(CHAIN_LABEL).update(openFrame).digest();
}

/** The next chain value after appending one full data frame. */
export function chainNext(prev: Uint8Array, dataFrame: Uint8Array): Buffer {
  return createHash("sha256").update(prev).update(dataFrame).digest();
}
