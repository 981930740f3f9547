import { readFileSync } from "node:fs";
import { verify as verifySig, type KeyObject } from "node:crypto";
import { AUDIT_EVENTS } from "./events.js";
import { GENESIS_HASH, entryHash, isEntryShape, keyFingerprint, keyFromSpki, spkiBase64, type AuditEntry } from "./chain.js";
import { KeyChain } from "./key-chain.js";
import { missingLocally, type SeqRange } from "./upstream.js";

/** A log that verified: counts, and which keys signed its checkpoints. */
export interface AuditVerifyOk {
  ok: true;
  entries: number;
  checkpoints: number;
  /** Fingerprints of the keys that signed checkpoints, in the order the log handed over from one to the next. */
  signers: string[];
  /** True when the first key was the one the caller supplied (not only the one the log starts with). */
  keyPinned: boolean;
  /** Entries of the upstream copy (when one was given) that are also in the file; null without one. */
  upstreamMatched: number | null;
  /** Entries in the file the upstream copy does not hold (not delivered yet, or cut from the export). */
  notUpstream: number;
}

/** The first problem found: 1-based line, the entry's seq if it could be read, and what is wrong. */
export interface AuditVerifyFail {
  ok: false;
  /** 1-based line of the file; 0 for the file as a whole (empty, or entries missing from it). */
  line: number;
  seq: number | null;
  problem: string;
  /** Entries the upstream copy holds and the file does not, as seq ranges (with `upstream` only). */
  missing?: SeqRange[];
}

/** Result of verifyAuditFile. */
export type AuditVerifyResult = AuditVerifyOk | AuditVerifyFail;

/** What verifyAuditFile checks against besides the file itself. */
export interface AuditVerifyOptions {
  /** The gateway key the log starts with; later keys must be handed over to from it (identity.rotated). */
  publicKey?: KeyObject;
  /** Further keys the auditor vouches for (e.g. one rotated while the gateway was stopped: no handover entry). */
  alsoKeys?: readonly KeyObject[];
  /** The device never wrote an entry: an empty file verifies (it fails otherwise). */
  fresh?: boolean;
  /** The audit stream as the receiver verified it (readUpstreamAudit): entries it holds must be in the file. */
  upstream?: readonly AuditEntry[];
}

/**
 * Verifies a whole audit log: every line parses, seq increases by one, each prev is the previous hash,
 * each hash matches its content, each checkpoint names a real entry's hash and carries a valid
 * signature by the key in force (the pinned one, then each key the previous one handed over to), and
 * every entry is covered by a checkpoint (the gateway writes none without one). An empty file fails
 * unless `fresh`. With `upstream`, every entry the receiver holds must be in the file with the same
 * hash (a truncated, emptied or replaced log is reported with the missing seqs). Returns the first problem.
 */
export function verifyAuditFile(file: string, opts: AuditVerifyOptions = {}): AuditVerifyResult {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const endsClean = text.length === 0 || text.endsWith("\n");
  if (endsClean) lines.pop();
  // Hashes since the last checkpoint's upTo: checkpoints only ever cover recent entries, so this
  // stays small however long the log is. `all` only with an upstream copy to compare with.
  const hashes = new Map<number, string>();
  const all = opts.upstream ? new Map<number, string>() : null;
  const keys = new KeyChain(opts.publicKey ? [opts.publicKey, ...(opts.alsoKeys ?? [])].map(spkiBase64) : []);
  let prev = GENESIS_HASH;
  let expectSeq = 1;
  let checkpoints = 0;
  let coveredUpTo = 0;
  let lastCheckpoint = 0;

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
      const problem = checkCheckpoint(e, hashes) ?? keys.checkpoint(e.data.publicKey as string, e.data.upTo as number);
      if (problem) return fail(e.seq, problem);
      const upTo = e.data.upTo as number;
      for (const k of hashes.keys()) if (k < upTo) hashes.delete(k);
      coveredUpTo = upTo;
      lastCheckpoint = e.seq;
      checkpoints++;
    } else if (e.type === AUDIT_EVENTS.identityRotated) {
      keys.rotation(e.seq, e.data);
    }
    hashes.set(e.seq, e.hash);
    all?.set(e.seq, e.hash);
    prev = e.hash;
    expectSeq++;
  }
  const entries = expectSeq - 1;
  // Every entry must be under a checkpoint, but the last checkpoint itself (it authenticates itself).
  let first = coveredUpTo + 1;
  if (first === lastCheckpoint) first++;
  if (first <= entries) {
    return {
      ok: false, line: first, seq: first,
      problem: `entry ${first} and the ${entries - first} after it are not covered by a signed checkpoint: the gateway writes every entry with one, so they were appended by someone without its key (or the log predates this rule: see docs/audit-log.md)`,
    };
  }
  let upstreamMatched: number | null = null;
  let notUpstream = 0;
  if (opts.upstream && all) {
    const cmp = missingLocally(all, opts.upstream);
    if (cmp.missing.length > 0) {
      const where = cmp.missing.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(", ");
      return {
        ok: false, line: 0, seq: null, missing: cmp.missing,
        problem: `${cmp.missingCount} entr(ies) the receiver verified are not in this file (seq ${where}): the log was truncated, emptied or replaced`,
      };
    }
    upstreamMatched = cmp.matched;
    notUpstream = entries - cmp.matched;
  }
  if (entries === 0 && !opts.fresh) {
    return { ok: false, line: 0, seq: null, problem: "empty log: no entries at all (a provisioned gateway has at least identity.provisioned); pass --fresh only for a device that never wrote one" };
  }
  return { ok: true, entries, checkpoints, signers: keys.signers.map(keyFingerprint), keyPinned: opts.publicKey !== undefined, upstreamMatched, notUpstream };
}

function checkCheckpoint(e: AuditEntry, hashes: Map<number, string>): string | null {
  const d = e.data;
  if (!Number.isSafeInteger(d.upTo) || typeof d.hash !== "string" || typeof d.sig !== "string" || typeof d.publicKey !== "string") {
    return "checkpoint data must hold upTo, hash, sig and publicKey";
  }
  const upTo = d.upTo as number;
  if (upTo >= e.seq || upTo < 1) return `checkpoint upTo ${upTo} is not an earlier entry`;
  const covered = hashes.get(upTo);
  if (covered === undefined) return `checkpoint upTo ${upTo} is older than the previous checkpoint`;
  if (covered !== d.hash) return `checkpoint hash does not match entry ${upTo}'s hash`;
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
