import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import Database from "better-sqlite3";
import { AuditError } from "../../kernel/errors.js";
import { AUDIT_STREAM } from "./events.js";
import { entryHash, isEntryShape, type AuditEntry } from "./chain.js";

/** Consecutive seqs, both ends included. */
export interface SeqRange {
  from: number;
  to: number;
}

/**
 * The audit stream of one gateway as the receiver verified it (docs/audit-log.md "Upstream copy"):
 * from the receiver's database (table `verified`, stream `audit`), or from an export of it, one entry
 * per line (JSONL) or a JSON array. `gatewayId` picks the gateway when the database holds several.
 * Throws AuditError (AUDIT_UPSTREAM_INVALID) naming the file and what to do.
 */
export function readUpstreamAudit(file: string, gatewayId?: string): AuditEntry[] {
  const records = isSqlite(file) ? fromReceiverDb(file, gatewayId) : fromExport(file);
  const entries: AuditEntry[] = [];
  for (const [i, r] of records.entries()) {
    let v: unknown;
    try {
      v = typeof r === "string" ? JSON.parse(r) : r;
    } catch {
      v = null;
    }
    if (!isEntryShape(v) || entryHash(v) !== v.hash) {
      throw invalid(file, `record ${i + 1} is not an audit entry whose hash matches its content`);
    }
    entries.push(v);
  }
  return entries;
}

/**
 * Which entries of `upstream` the local log (seq -> hash) lacks. An entry counts as present only with
 * the same seq and hash, so a log emptied and started again (seq 1 anew) still misses the old entries.
 */
export function missingLocally(local: ReadonlyMap<number, string>, upstream: readonly AuditEntry[]): { missing: SeqRange[]; missingCount: number; matched: number } {
  const absent = new Set<number>();
  const matched = new Set<number>();
  for (const e of upstream) {
    if (local.get(e.seq) === e.hash) matched.add(e.seq);
    else absent.add(e.seq);
  }
  const seqs = [...absent].sort((a, b) => a - b);
  const missing: SeqRange[] = [];
  for (const s of seqs) {
    const last = missing.at(-1);
    if (last && last.to + 1 === s) last.to = s;
    else missing.push({ from: s, to: s });
  }
  return { missing, missingCount: seqs.length, matched: matched.size };
}

function isSqlite(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(16);
    const n = readSync(fd, head, 0, 16, 0);
    return n === 16 && head.toString("latin1") === "SQLite format 3\0";
  } finally {
    closeSync(fd);
  }
}

function fromReceiverDb(file: string, gatewayId: string | undefined): string[] {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw invalid(file, `cannot open it read-only (${(err as Error).message})`);
  }
  try {
    let gw = gatewayId;
    if (gw === undefined) {
      const ids = (db.prepare("SELECT DISTINCT gateway_id AS id FROM verified WHERE stream = ?").all(AUDIT_STREAM) as Array<{ id: string }>).map((r) => r.id);
      if (ids.length > 1) throw invalid(file, `it holds the audit streams of ${ids.length} gateways (${ids.slice(0, 5).join(", ")}): pass --gateway ID`);
      gw = ids[0];
      if (gw === undefined) return [];
    }
    return (db.prepare("SELECT record FROM verified WHERE stream = ? AND gateway_id = ? ORDER BY id").all(AUDIT_STREAM, gw) as Array<{ record: string }>).map((r) => r.record);
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw invalid(file, `it is not a receiver database with a \`verified\` table (${(err as Error).message})`);
  } finally {
    db.close();
  }
}

function fromExport(file: string): unknown[] {
  const text = readFileSync(file, "utf8");
  if (text.trimStart().startsWith("[")) {
    try {
      const v: unknown = JSON.parse(text);
      if (Array.isArray(v)) return v;
    } catch { /* reported below */ }
    throw invalid(file, "it starts like a JSON array but is not one");
  }
  return text.split("\n").filter((l) => l.trim() !== "");
}

function invalid(file: string, what: string): AuditError {
  return new AuditError("AUDIT_UPSTREAM_INVALID", `upstream audit copy ${file}: ${what}. Give the receiver's database or an export of its audit stream (one entry per line)`);
}
