import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { IngestError } from "../kernel/errors.js";

/** One verified data record, with the pristine envelope it came in. */
export interface VerifiedRow {
  gatewayId: string;
  stream: string;
  sessionId: string;
  seq: bigint;
  schemaId: string;
  sourceTsNs: bigint;
  gatewayTsNs: bigint;
  /** The decrypted record (UTF-8 JSON), stored as received. */
  plaintext: Buffer;
  /** Hash chain value after this message (hex). */
  chainHex: string;
  envelope: Buffer;
  topic: string;
}

/** A frame the receiver refused, kept pristine with its reason code. */
export interface QuarantineRow {
  topic: string;
  reason: string;
  detail: string;
  gatewayId?: string | undefined;
  stream?: string | undefined;
  sessionId?: string | undefined;
  envelope: Buffer;
}

/** Something the receiver noticed about a stream that is not a refused frame (gap, checkpoint result). */
export interface EventRow {
  kind: string;
  gatewayId: string;
  stream: string;
  sessionId: string;
  detail: string;
}

/**
 * The receiver's evidence store (SQLite, WAL): verified records with their envelopes, quarantined
 * frames with reasons, stream events, and the verifier's per-session state. Each incoming frame's
 * effects are written in one transaction before the broker gets its PUBACK, so a crash never acks
 * a frame that was not kept.
 */
export class IngestStore {
  readonly db: Database.Database;
  private readonly insVerified: Database.Statement;
  private readonly insQuarantine: Database.Statement;
  private readonly insEvent: Database.Statement;

  constructor(readonly file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new IngestError("INGEST_STORE", `cannot open receiver store ${file}: ${(err as Error).message}; move the damaged file aside and restart (the broker redelivers unacknowledged frames)`, { cause: err });
    }
    this.insVerified = this.db.prepare(
      `INSERT INTO verified (gateway_id, stream, session_id, seq, schema_id, source_ts_ns, gateway_ts_ns, record, chain, envelope, topic, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insQuarantine = this.db.prepare(
      `INSERT INTO quarantine (received_at, topic, reason, detail, gateway_id, stream, session_id, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
    this.insEvent = this.db.prepare(`INSERT INTO events (at, kind, gateway_id, stream, session_id, detail) VALUES (?, ?, ?, ?, ?, ?)`);
  }

  /**
   * Runs `fn` in one transaction. One transaction function for the store's life: better-sqlite3's
   * db.transaction() builds five wrapper functions per call, which cost ~9 % of the receiver's time
   * per frame (docs/queue.md "Receipt cost").
   */
  tx<T>(fn: () => T): T {
    return this.runTx(fn) as T;
  }
  private readonly runTx: (fn: () => unknown) => unknown;

  addVerified(r: VerifiedRow): void {
    this.insVerified.run(r.gatewayId, r.stream, r.sessionId, r.seq, r.schemaId, r.sourceTsNs.toString(), r.gatewayTsNs.toString(),
      r.plaintext.toString("utf8"), r.chainHex, r.envelope, r.topic, new Date().toISOString());
  }

  addQuarantine(r: QuarantineRow): void {
    this.insQuarantine.run(new Date().toISOString(), r.topic, r.reason, r.detail, r.gatewayId ?? null, r.stream ?? null, r.sessionId ?? null, r.envelope);
  }

  addEvent(e: EventRow): void {
    this.insEvent.run(new Date().toISOString(), e.kind, e.gatewayId, e.stream, e.sessionId, e.detail);
  }

  /**
   * Earlier sessions of (gateway, stream) that never received their final checkpoint nor a session-end
   * statement and were not reported yet: the gateway restarted or lost power, or the session's tail never arrived.
   */
  unclosedSessions(gatewayId: string, stream: string, exceptSessionId: string): Array<{ sessionId: string; lastSeq: bigint }> {
    const rows = this.db.prepare(
      `SELECT s.session_id AS id, s.state AS state FROM sessions s
       WHERE s.gateway_id = ? AND s.stream = ? AND s.session_id <> ?
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = 'SESSION_UNCLOSED' AND e.session_id = s.session_id)`,
    ).all(gatewayId, stream, exceptSessionId) as Array<{ id: string; state: string }>;
    const out: Array<{ sessionId: string; lastSeq: bigint }> = [];
    for (const r of rows) {
      const st = JSON.parse(r.state) as { closed: boolean; nextSeq: string; endSeq?: string };
      // Ended by the gateway's session-end statement: accounted for exactly (SESSION_ENDED), not "unclosed".
      if (!st.closed && st.endSeq === undefined) out.push({ sessionId: r.id, lastSeq: BigInt(st.nextSeq) - 1n });
    }
    return out;
  }

  /** Counts for summaries (`otgw ingest` prints them when it stops; `otgw demo`). */
  counts(): { verified: number; quarantined: number; byReason: Record<string, number>; events: Record<string, number> } {
    const verified = (this.db.prepare("SELECT count(*) AS n FROM verified").get() as { n: number }).n;
    const rows = this.db.prepare("SELECT reason, count(*) AS n FROM quarantine GROUP BY reason").all() as Array<{ reason: string; n: number }>;
    const ev = this.db.prepare("SELECT kind, count(*) AS n FROM events GROUP BY kind").all() as Array<{ kind: string; n: number }>;
    const byReason: Record<string, number> = {};
    let quarantined = 0;
    for (const r of rows) {
      byReason[r.reason] = r.n;
      quarantined += r.n;
    }
    const events: Record<string, number> = {};
    for (const e of ev) events[e.kind] = e.n;
    return { verified, quarantined, byReason, events };
  }

  /** Verified records in arrival order, for exports and tests. */
  *verifiedRecords(): Generator<{ gatewayId: string; stream: string; sessionId: string; seq: bigint; record: string }> {
    const stmt = this.db.prepare("SELECT gateway_id, stream, session_id, seq, record FROM verified ORDER BY id").safeIntegers(true);
    for (const row of stmt.iterate() as Iterable<{ gateway_id: string; stream: string; session_id: string; seq: bigint; record: string }>) {
      yield { gatewayId: row.gateway_id, stream: row.stream, sessionId: row.session_id, seq: row.seq, record: row.record };
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS verified (
  id INTEGER PRIMARY KEY,
  gateway_id TEXT NOT NULL, stream TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL,
  schema_id TEXT NOT NULL, source_ts_ns TEXT NOT NULL, gateway_ts_ns TEXT NOT NULL,
  record TEXT NOT NULL, chain TEXT NOT NULL, envelope BLOB NOT NULL, topic TEXT NOT NULL, received_at TEXT NOT NULL,
  UNIQUE (session_id, seq)
);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  gateway_id TEXT, stream TEXT, session_id TEXT, envelope BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, gateway_id TEXT NOT NULL, stream TEXT NOT NULL,
  session_id TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL, stream TEXT NOT NULL, state TEXT NOT NULL, open_frame BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_stream ON sessions (gateway_id, stream);
`;
