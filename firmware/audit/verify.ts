import { readFileSync } from "node:fs";
import { verify as verifySig, type KeyObject } from "node:crypto";
import { AUDIT_EVENTS } from "./events.js";
import { GENESIS_HASH, entryHash, isEntryShape, keyFingerprint, keyFromSpki, spkiBase64, type AuditEntry } from "./chain.js";

/** A log that verified: counts, and which keys signed its checkpoints. */
export interface AuditVerifyOk {
  ok: true;
  entries: number;
  checkpoints: number;
  /** Fingerprints of the keys that signed checkpoints. */
  signers: string[];
  /** True when signatures were checked against a key the caller supplied (not only the embedded one). */
  keyPinned: boolean;
  /** Entries after the last checkpoint's `upTo` (normal after a crash; signed on next start). */
  unsignedTail: number;
}

/** The first problem found: 1-based line, the entry's seq if it could be read, and what is wrong. */
export interface AuditVerifyFail {
  ok: false;
  line: number;
  seq: number | null;
  problem: string;
}

/** Result of verifyAuditFile. */
export type AuditVerifyResult = AuditVerifyOk | AuditVerifyFail;

/**
 * Verifies a whole audit log: every line parses, seq increases by one, each prev is the previous hash,
 * each hash matches its content, and each checkpoint names a real entry's hash and carries a valid
 * signature (by `publicKey` when given). Returns the first bad line. A file cut off at a line boundary
 * verifies here; the checkpoints shipped upstream are what prove such a cut (docs/audit-log.md).
 */
export function verifyAuditFile(file: string, opts: { publicKey?: KeyObject } = {}): AuditVerifyResult {
  const text = readFileSync(file, "utf8");
  const pinned = opts.publicKey ? spkiBase64(opts.publicKey) : null;
  const lines = text.split("\n");
  const endsClean = text.length === 0 || text.endsWith("\n");
  if (endsClean) lines.pop();
  // Hashes since the last checkpoint's upTo: checkpoints only ever cover recent entries, so this
  // stays small however long the log is.
  const hashes = new Map<number, string>();
  const signers = new Set<string>();
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let checkpoints = 0;
  let coveredUpTo = 0;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? "";
    const fail = (seq: number | null, problem: string): AuditVerifyFail => ({ ok: false, line: lineNo, seq, problem });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      const torn = i === lines.length - 1 && !endsClean;
      return fail(seqHint(raw), torn ? "last line is incomplete (file truncated mid-entry)" : "not valid JSON (entry edited or damaged)");
    }
    if (!isEntryShape(parsed)) return fail(seqHint(raw), "not an audit entry (fields seq, ts, tsNs, type, data, prev, hash expected)");
    const e: AuditEntry = parsed;
    if (e.seq !== expectSeq) {
      const why = e.seq < expectSeq ? "repeats or goes backwards (entries reordered or duplicated)" : "skips ahead (entries removed or reordered)";
      return fail(e.seq, `seq ${e.seq} where ${expectSeq} was expected: ${why}`);
    }
    if (e.prev !== prev) return fail(e.seq, "prev does not match the previous entry's hash (an entry before it was removed, reordered or edited)");
    if (entryHash(e) !== e.hash) return fail(e.seq, "hash does not match the entry's content (entry edited)");

    if (e.type === AUDIT_EVENTS.checkpoint) {
      const problem = checkCheckpoint(e, hashes, pinned);
      if (problem) return fail(e.seq, problem);
      const upTo = e.data.upTo as number;
      for (const k of hashes.keys()) if (k < upTo) hashes.delete(k);
      coveredUpTo = upTo;
      signers.add(keyFingerprint(e.data.publicKey as string));
      checkpoints++;
    }
    hashes.set(e.seq, e.hash);
    prev = e.hash;
    expectSeq++;
  }
  const entries = expectSeq - 1;
  return { ok: true, entries, checkpoints, signers: [...signers], keyPinned: pinned !== null, unsignedTail: entries - coveredUpTo };
}

function checkCheckpoint(e: AuditEntry, hashes: Map<number, string>, pinned: string | null): string | null {
  const d = e.data;
  if (!Number.isSafeInteger(d.upTo) || typeof d.hash !== "string" || typeof d.sig !== "string" || typeof d.publicKey !== "string") {
    return "checkpoint data must hold upTo, hash, sig and publicKey";
  }
  const upTo = d.upTo as number;
  if (upTo >= e.seq || upTo < 1) return `checkpoint upTo ${upTo} is not an earlier entry`;
  const covered = hashes.get(upTo);
  if (covered === undefined) return `checkpoint upTo ${upTo} is older than the previous checkpoint`;
  if (covered !== d.hash) return `checkpoint hash does not match entry ${upTo}'s hash`;
  if (pinned !== null && d.publicKey !== pinned) return `checkpoint signed by ${keyFingerprint(d.publicKey)}, not by the given key ${keyFingerprint(pinned)}`;
  let ok = false;
  try {
    ok = verifySig("sha256", Buffer.from(d.hash, "hex"), { key: keyFromSpki(d.publicKey), dsaEncoding: "ieee-p1363" }, Buffer.from(d.sig, "base64"));
  } catch {
    ok = false;
  }
  return ok ? null : "checkpoint signature does not verify";
}

/** Best-effort seq of a damaged line, so the report can still name it. */
function seqHint(raw: string): number | null {
  const m = /"seq":\s*(\d+)/.exec(raw);
  return m ? Number(m[1]) : null;
}
