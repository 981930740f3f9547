import Database from "better-sqlite3";
import type { Clock } from "../../kernel/clock.js";
import { RuntimeError } from "../../kernel/errors.js";

/** One record waiting for a certificate that is valid now, in arrival order. */
export interface HeldRecord {
  id: number;
  stream: string;
  schemaId: string;
  sourceTsNs: bigint;
  plaintext: Buffer;
}

export interface HeldReadingsOptions {
  /** Most payload bytes held; past it, new records are refused (the caller counts and audits the drop). */
  maxBytes: number;
  /** `full` fsyncs every commit (as the queue's durability option). */
  durability: "normal" | "full";
  clock: Clock;
}

/**
 * Records that could not be sealed because the gateway's certificate is not valid now (expired, or
 * not yet valid), kept on disk in arrival order until a valid certificate opens sessions for them
 * (docs/queue.md "Held readings"). They are held unsealed, because a session can only be opened
 * under a valid certificate; the file lives in the state directory (mode 0600) beside the queue.
 */
export class HeldReadings {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement<[string, string, string, number, Buffer]>;
  private readonly take: Database.Statement<[number, number]>;
  private readonly remove: Database.Statement<[number]>;
  private count = 0;
  private bytes = 0;
  private oldestMs: number | null = null;

  private constructor(readonly file: string, private readonly o: HeldReadingsOptions) {
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${o.durability === "full" ? "FULL" : "NORMAL"}`);
      this.db.exec(`CREATE TABLE IF NOT EXISTS held (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        schema_id TEXT NOT NULL,
        source_ts_ns TEXT NOT NULL,
        held_ms INTEGER NOT NULL,
        plaintext BLOB NOT NULL
      )`);
    } catch (err) {
      throw new RuntimeError("HELD_STORE", `cannot open the held-readings file ${file} (${(err as Error).message}): check the state directory's permissions and free space`);
    }
    this.insert = this.db.prepare("INSERT INTO held (stream, schema_id, source_ts_ns, held_ms, plaintext) VALUES (?, ?, ?, ?, ?)");
    this.take = this.db.prepare("SELECT id, stream, schema_id, source_ts_ns, plaintext FROM held WHERE id > ? ORDER BY id LIMIT ?");
    this.remove = this.db.prepare("DELETE FROM held WHERE id <= ?");
    this.refresh();
  }

  static open(file: string, o: HeldReadingsOptions): HeldReadings {
    return new HeldReadings(file, o);
  }

  /** Records held now. */
  get size(): number {
    return this.count;
  }

  /** Their payload bytes. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** When the oldest record held was stored (epoch ms), or null. */
  get oldest(): number | null {
    return this.oldestMs;
  }

  /** Stores one record durably; false (nothing stored) when it would pass maxBytes. */
  add(stream: string, schemaId: string, sourceTsNs: bigint, plaintext: Buffer): boolean {
    if (this.bytes + plaintext.length > this.o.maxBytes) return false;
    const now = this.o.clock.nowMs();
    this.insert.run(stream, schemaId, sourceTsNs.toString(), now, plaintext);
    this.count++;
    this.bytes += plaintext.length;
    this.oldestMs ??= now;
    return true;
  }

  /** Up to `limit` records after id `after`, oldest first (they stay held until release()). */
  next(after: number, limit: number): HeldRecord[] {
    const rows = this.take.all(after, limit) as Array<{ id: number; stream: string; schema_id: string; source_ts_ns: string; plaintext: Buffer }>;
    return rows.map((r) => ({ id: r.id, stream: r.stream, schemaId: r.schema_id, sourceTsNs: BigInt(r.source_ts_ns), plaintext: r.plaintext }));
  }

  /** Forgets every record up to id `upTo` (they are now sealed and in the queue). */
  release(upTo: number): void {
    this.remove.run(upTo);
    this.refresh();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private refresh(): void {
    const r = this.db.prepare("SELECT count(*) AS n, coalesce(sum(length(plaintext)), 0) AS b, min(held_ms) AS t FROM held").get() as { n: number; b: number; t: number | null };
    this.count = r.n;
    this.bytes = r.b;
    this.oldestMs = r.t;
  }
}

/** Counts what a held-readings file holds without opening it for writing (`otgw check`). */
export function heldSummary(file: string): { count: number; bytes: number; oldestMs: number | null } | null {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    return null;
  }
  try {
    const r = db.prepare("SELECT count(*) AS n, coalesce(sum(length(plaintext)), 0) AS b, min(held_ms) AS t FROM held").get() as { n: number; b: number; t: number | null };
    return { count: r.n, bytes: r.b, oldestMs: r.t };
  } catch {
    return null;
  } finally {
    db.close();
  }
}
