import { createHash, verify as verifySig } from "node:crypto";
import { fstatSync, ftruncateSync, readSync } from "node:fs";
import { AuditError } from "../../kernel/errors.js";
import { AUDIT_EVENTS } from "./events.js";
import { GENESIS_HASH, entryHash, isEntryShape, keyFingerprint, keyFromSpki, type AuditEntry, type CheckpointData } from "./chain.js";

/** Where an audit log resumes, as read from its end. */
export interface Tail {
  seq: number;
  hash: string;
  type: string | null;
  repaired: { droppedBytes: number; droppedSha256: string } | null;
  /** SPKI (base64) of the key whose checkpoint ends the log, when it is the previous key. */
  previousSigner: string | null;
}

/** Reads the end of the file (AuditLog.open): the last complete entry (verified, and signed by `key`) and any torn bytes after it. */
export function readTail(fd: number, file: string, key: string, previousKey: string | null): Tail {
  const size = fstatSync(fd).size;
  if (size === 0) return { seq: 0, hash: GENESIS_HASH, type: null, repaired: null, previousSigner: null };
  // Grow the window from the end until it holds two complete lines (or the whole file).
  let window = 64 * 1024;
  let text = "";
  for (;;) {
    const len = Math.min(size, window);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    text = buf.toString("utf8");
    if (len === size || text.slice(0, -1).split("\n").length >= 4) break;
    window *= 4;
  }
  let repaired: Tail["repaired"] = null;
  let tornBytes = 0; // cut off only once the rest is accepted: a refused log stays as it was found
  const cut = text.lastIndexOf("\n") + 1;
  if (cut < text.length) {
    const torn = Buffer.from(text.slice(cut), "utf8");
    tornBytes = torn.length;
    repaired = { droppedBytes: torn.length, droppedSha256: createHash("sha256").update(torn).digest("hex") };
    text = text.slice(0, cut);
  }
  const lines = text.split("\n").filter((l) => l !== "");
  const last = parse(lines.at(-1));
  if (!last) {
    if (lines.length === 0 && cut === 0) {
      if (tornBytes > 0) ftruncateSync(fd, size - tornBytes);
      return { seq: 0, hash: GENESIS_HASH, type: null, repaired, previousSigner: null };
    }
    throw tailError(file, "the last line is not an audit entry");
  }
  if (entryHash(last) !== last.hash) throw tailError(file, `entry ${last.seq} does not match its hash`);
  const before = lines.length >= 2 ? parse(lines.at(-2)) : null;
  if (before && (before.hash !== last.prev || before.seq + 1 !== last.seq)) throw tailError(file, `entry ${last.seq} does not chain to the entry before it`);
  const byPrevious = previousKey !== null && previousKey !== key && last.data.publicKey === previousKey;
  const unsigned = tailSignatureProblem(last, byPrevious ? previousKey : key);
  if (unsigned) {
    throw new AuditError(
      "AUDIT_TAIL_UNAUTHENTICATED",
      `audit log ${file}: ${unsigned}, so it was not written by this gateway and is not signed over. Keep the file as evidence, run \`otgw audit verify ${file}\` (with --upstream to compare with the receiver), then move it aside so a new log can start`,
    );
  }
  if (tornBytes > 0) ftruncateSync(fd, size - tornBytes);
  return { seq: last.seq, hash: last.hash, type: last.type, repaired, previousSigner: byPrevious ? previousKey : null };
}

/** Why the last entry does not authenticate the log up to itself (null when it does). */
function tailSignatureProblem(last: AuditEntry, key: string): string | null {
  if (last.type !== AUDIT_EVENTS.checkpoint) return `entry ${last.seq} (${last.type}) is not covered by a signed checkpoint`;
  const d = last.data as Partial<CheckpointData>;
  if (d.upTo !== last.seq - 1 || d.hash !== last.prev || typeof d.sig !== "string") return `the checkpoint at entry ${last.seq} does not sign the entry before it`;
  if (d.publicKey !== key) return `the checkpoint at entry ${last.seq} is signed by ${keyFingerprint(String(d.publicKey))}, not by this gateway's key ${keyFingerprint(key)}`;
  let ok = false;
  try {
    ok = verifySig("sha256", Buffer.from(d.hash, "hex"), { key: keyFromSpki(key), dsaEncoding: "ieee-p1363" }, Buffer.from(d.sig, "base64"));
  } catch {
    ok = false;
  }
  return ok ? null : `the checkpoint at entry ${last.seq} carries a signature that does not verify`;
}

function parse(line: string | undefined): AuditEntry | null {
  if (line === undefined) return null;
  try {
    const v: unknown = JSON.parse(line);
    return isEntryShape(v) ? v : null;
  } catch {
    return null;
  }
}

function tailError(file: string, what: string): AuditError {
  return new AuditError(
    "AUDIT_TAIL_INVALID",
    `audit log ${file}: ${what}. Keep the file as evidence, run \`otgw audit verify ${file}\`, then move it aside so a new log can start`,
  );
}
