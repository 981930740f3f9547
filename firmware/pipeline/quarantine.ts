import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { NormalizedRecord } from "../../kernel/record.js";
import { encodeRecord } from "./encode.js";

/** How many records of one stream were rejected for one reason (lifetime of the quarantine file). */
export interface QuarantineCount {
  stream: string;
  reason: string;
  count: number;
}

/** A quarantined record, for a technician inspecting the gateway locally. */
export interface QuarantinedRecord {
  id: number;
  stream: string;
  point: string;
  reason: string;
  quarantinedTsNs: string;
  record: NormalizedRecord;
}

/** Options for the quarantine store. */
export interface QuarantineOptions {
  /** Rows kept; older rows are pruned (counts are kept forever). Default 100 000. */
  maxRows?: number;
  logger?: Logger;
}

const PRUNE_EVERY = 1000;

/**
 * Rejected records, kept on the gateway and never forwarded: a SQLite database (WAL) with one row per
 * record (its JSON and the reason) and a separate counter table per (stream, reason), so counts survive
 * pruning and restarts. Values stay local to the device; only counts and reasons go to the audit log.
 */
export class Quarantine {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement<[string, string, string, string, string]>;
  private readonly bump: Database.Statement<[string, string]>;
  private readonly prune: Database.Statement<[number]>;
  private readonly addTx: (r: NormalizedRecord, reason: string, tsNs: string) => number;
  private readonly mirror = new Map<string, QuarantineCount>();
  private readonly maxRows: number;
  private readonly log: Logger;

  /** Opens (creating if needed) the quarantine database at `file`, e.g. <stateDir>/quarantine.db. */
  constructor(file: string, opts: QuarantineOptions = {}) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.maxRows = opts.maxRows ?? 100_000;
    this.log = child(opts.logger ?? silentLogger(), "pipeline.quarantine");
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a power cut may lose the last rejects but never corrupts the file; the
    // counts are also in the audit log, which syncs every entry.
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns TEXT NOT NULL, stream TEXT NOT NULL,
        point TEXT NOT NULL, reason TEXT NOT NULL, record TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS quarantine_counts (
        stream TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (stream, reason));`);
    this.insert = this.db.prepare("INSERT INTO quarantine (ts_ns, stream, point, reason, record) VALUES (?, ?, ?, ?, ?)");
    this.bump = this.db.prepare(
      "INSERT INTO quarantine_counts (stream, reason, count) VALUES (?, ?, 1) ON CONFLICT (stream, reason) DO UPDATE SET count = count + 1",
    );
    this.prune = this.db.prepare("DELETE FROM quarantine WHERE id <= ?");
    this.addTx = this.db.transaction((r: NormalizedRecord, reason: string, tsNs: string): number => {
      const id = Number(this.insert.run(tsNs, r.stream, r.point, reason, encodeRecord(r).toString("utf8")).lastInsertRowid);
      this.bump.run(r.stream, reason);
      return id;
    });
    const rows = this.db.prepare("SELECT stream, reason, count FROM quarantine_counts").all() as QuarantineCount[];
    for (const row of rows) this.mirror.set(countKey(row.stream, row.reason), { ...row });
  }

  /** Stores a rejected record with its reason; returns its row id. */
  add(record: NormalizedRecord, reason: string, tsNs: string = record.gatewayTsNs): number {
    const id = this.addTx(record, reason, tsNs);
    const k = countKey(record.stream, reason);
    const c = this.mirror.get(k);
    if (c) c.count++;
    else this.mirror.set(k, { stream: record.stream, reason, count: 1 });
    if (id % PRUNE_EVERY === 0 && id > this.maxRows) {
      const removed = this.prune.run(id - this.maxRows).changes;
      if (removed > 0) this.log.info({ removed, kept: this.maxRows }, "pruned oldest quarantined records (counts kept)");
    }
    return id;
  }

  /** Counts per (stream, reason), sorted by stream then reason. */
  counts(): QuarantineCount[] {
    return [...this.mirror.values()].map((c) => ({ ...c })).sort((a, b) => a.stream.localeCompare(b.stream) || a.reason.localeCompare(b.reason));
  }

  /** Total records ever quarantined in this file, optionally for one stream. */
  total(stream?: string): number {
    let n = 0;
    for (const c of this.mirror.values()) if (stream === undefined || c.stream === stream) n += c.count;
    return n;
  }

  /** The most recent quarantined records, newest first (local inspection only). */
  recent(limit = 100): QuarantinedRecord[] {
    const rows = this.db.prepare("SELECT id, ts_ns, stream, point, reason, record FROM quarantine ORDER BY id DESC LIMIT ?").all(limit) as {
      id: number; ts_ns: string; stream: string; point: string; reason: string; record: string;
    }[];
    return rows.map((r) => ({
      id: r.id, stream: r.stream, point: r.point, reason: r.reason, quarantinedTsNs: r.ts_ns,
      record: JSON.parse(r.record) as NormalizedRecord,
    }));
  }

  /** Closes the database (idempotent). */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

function countKey(stream: string, reason: string): string {
  return `${stream}\u0000${reason}`;
}
