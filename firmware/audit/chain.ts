import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { canonicalJson } from "../pipeline/canonical.js";

/** The `prev` of the first entry: 32 zero bytes, hex. */
export const GENESIS_HASH = "0".repeat(64);

/** JSON data an audit entry may carry (canonical JSON: no undefined inside arrays, finite numbers). */
export type AuditData = { [key: string]: unknown };

/** One line of the audit log (docs/audit-log.md). */
export interface AuditEntry {
  /** 1 for the first entry, +1 per entry, never reused. */
  seq: number;
  /** Wall-clock time, ISO 8601 UTC with milliseconds (for people). */
  ts: string;
  /** Same instant, ns since epoch, decimal string (for ordering and joins with records). */
  tsNs: string;
  type: string;
  data: AuditData;
  /** Hash of the previous entry (GENESIS_HASH for seq 1). */
  prev: string;
  /** SHA-256 hex of prevBytes ‖ UTF-8(canonical JSON of this entry without `hash`). */
  hash: string;
}

/** The data of a `checkpoint` entry. */
export interface CheckpointData {
  /** seq of the entry whose hash is signed; every entry up to it is covered. */
  upTo: number;
  /** That entry's hash (hex). */
  hash: string;
  /** ES256 signature (IEEE P1363 r||s, base64) over the 32 hash bytes. */
  sig: string;
  /** Signer's public key, SPKI DER, base64. */
  publicKey: string;
}

/** Computes an entry's hash from everything but its `hash` field. */
export function entryHash(e: Omit<AuditEntry, "hash">): string {
  const body = canonicalJson({ seq: e.seq, ts: e.ts, tsNs: e.tsNs, type: e.type, data: e.data, prev: e.prev });
  return createHash("sha256").update(Buffer.from(e.prev, "hex")).update(body, "utf8").digest("hex");
}

/** The line written for an entry: canonical JSON plus a newline. */
export function entryLine(e: AuditEntry): string {
  return canonicalJson(e) + "\n";
}

/** SPKI DER of a public key, base64 (the form checkpoints carry). */
export function spkiBase64(key: KeyObject): string {
  return key.export({ type: "spki", format: "der" }).toString("base64");
}

/** Short, stable key fingerprint for people: "sha256:" + first 16 hex of SHA-256(SPKI DER). */
export function keyFingerprint(spkiB64: string): string {
  return "sha256:" + createHash("sha256").update(Buffer.from(spkiB64, "base64")).digest("hex").slice(0, 16);
}

/** Public key from SPKI base64; throws on garbage. */
export function keyFromSpki(spkiB64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiB64, "base64"), format: "der", type: "spki" });
}

/** Type guard for a parsed line: exactly the seven fields with the right types. */
export function isEntryShape(v: unknown): v is AuditEntry {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(",");
  return (
    keys === "data,hash,prev,seq,ts,tsNs,type" &&
    Number.isSafeInteger(o.seq) && typeof o.ts === "string" && typeof o.tsNs === "string" && typeof o.type === "string" &&
    o.data !== null && typeof o.data === "object" && !Array.isArray(o.data) &&
    typeof o.prev === "string" && /^[0-9a-f]{64}$/.test(o.prev) && typeof o.hash === "string" && /^[0-9a-f]{64}$/.test(o.hash)
  );
}
