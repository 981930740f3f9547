import Database from "better-sqlite3";
import { closeSync, copyFileSync, existsSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync } from "node:fs";
import { errorText } from "../../kernel/errors.js";
import { ROW_COLUMNS, type Row } from "./sqlite-schema.js";

/** What start-up found and did when the queue file was damaged (logged and audited by the caller). */
export interface RecoveryReport {
  /** The queue file that failed its check. */
  file: string;
  /** Where the damaged file was moved, kept for analysis. */
  movedTo: string;
  /** What the check said, in SQLite's words. */
  problem: string;
  /** Items read back from the damaged file into the new queue. */
  salvaged: number;
  salvagedBytes: number;
  /**
   * Ids up to the highest id known to have been assigned (the file's AUTOINCREMENT counter, its
   * max(id), or else the highest id read back) that could not be read: lost, the receiver sees them as
   * gaps. Never counts ids past that point, which may never have existed.
   */
  unreadable: number;
  /**
   * The end of the queue could not be read (neither the counter nor max(id) answered, and reading
   * failed past the last readable row): items after `unreadable`'s range may be lost too, in a number
   * the damaged file no longer records. The receiver's gap reports say how many.
   */
  tailLost: boolean;
}

/**
 * Opens `file` and runs SQLite's quick_check. Returns the problem in words, or null if the file is
 * sound (or absent). A file that is not SQLite at all is a problem too, never "an empty queue".
 */
export function integrityProblem(file: string): string | null {
  if (!existsSync(file)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    const rows = db.pragma("quick_check(20)") as Array<{ quick_check: string }>;
    const bad = rows.map((r) => r.quick_check).filter((m) => m !== "ok");
    return bad.length === 0 ? null : bad.join("; ");
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" || (typeof code === "string" && code.startsWith("SQLITE_CORRUPT"))) return errorText(err);
    throw err; // permission, I/O: not damage, let the caller report it as such
  } finally {
    db?.close();
  }
}

/** Moves the damaged file (and its WAL, which belongs to it) aside; removes the stale shared-memory index. */
export function moveAside(file: string, stamp: number): string {
  const to = `${file}.damaged-${stamp}`;
  renameSync(file, to);
  if (existsSync(`${file}-wal`)) renameSync(`${file}-wal`, `${to}-wal`);
  rmSync(`${file}-shm`, { force: true });
  return to;
}

const CHUNK = 256;
/** When the highest id is unknown, stop after this many unreadable ids in a row. */
const GIVE_UP_AFTER = 65_536;

/** What salvageRows found besides the rows: see RecoveryReport. */
export interface SalvageOutcome {
  unreadable: number;
  tailLost: boolean;
  /** An id at or above every id the damaged file may have assigned (the new file's counter starts past it). */
  maxId: number;
}

/**
 * Reads every row it can from a damaged queue file, in id order. Whole chunks first; a chunk that
 * hits a bad page is retried id by id, so one bad page costs only the rows on it.
 */
export function salvageRows(damaged: string, take: (rows: Row[]) => void): SalvageOutcome {
  // Work on a copy (the damaged file stays as it was, for analysis). A truncated file is padded back
  // to the size its header states: SQLite refuses every query on a file shorter than its schema says,
  // while zero pages only cost the rows that were on them.
  const work = `${damaged}.salvage`;
  let db: Database.Database;
  try {
    copyFileSync(damaged, work);
    if (existsSync(`${damaged}-wal`)) copyFileSync(`${damaged}-wal`, `${work}-wal`);
    padToHeaderSize(work);
    db = new Database(work, { fileMustExist: true });
  } catch {
    removeWork(work);
    return { unreadable: 0, tailLost: true, maxId: 0 };
  }
  try {
    const tryGet = <T>(f: () => T): T | undefined => { try { return f(); } catch { return undefined; } };
    const seqRow = tryGet(() => db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'queue'").get());
    const maxRow = tryGet(() => db.prepare<[], { m: number | null }>("SELECT max(id) AS m FROM queue").get());
    const hi = Math.max(seqRow?.seq ?? 0, maxRow?.m ?? 0);
    const chunk = tryGet(() => db.prepare<[number, number], Row>(`SELECT ${ROW_COLUMNS} FROM queue WHERE id > ? ORDER BY id LIMIT ?`));
    const one = tryGet(() => db.prepare<[number], Row>(`SELECT ${ROW_COLUMNS} FROM queue WHERE id = ?`));
    if (!chunk || !one) return { unreadable: 0, tailLost: true, maxId: hi }; // not one row readable, so no count either
    let last = 0;
    /** Highest id actually read back. */
    let seen = 0;
    /** Ids whose read failed, in ascending order; only those at or below the known end count as lost. */
    const misses: number[] = [];
    let missesInARow = 0;
    for (;;) {
      const rows = tryGet(() => chunk.all(last, CHUNK));
      if (rows) {
        if (rows.length === 0) break;
        take(rows);
        last = rows[rows.length - 1]!.id;
        seen = Math.max(seen, last);
        missesInARow = 0;
        continue;
      }
      // A bad page somewhere after `last`: walk the next ids one by one.
      const got: Row[] = [];
      for (let id = last + 1; id <= last + CHUNK; id++) {
        try {
          const r = one.get(id);
          if (r) got.push(r);
        } catch {
          misses.push(id);
          missesInARow++;
        }
      }
      if (got.length > 0) {
        take(got);
        seen = Math.max(seen, got[got.length - 1]!.id);
        missesInARow = 0;
      }
      last += CHUNK;
      if ((hi > 0 && last >= hi) || (hi === 0 && missesInARow >= GIVE_UP_AFTER)) break;
    }
    // The walk goes by whole chunks, so it tries ids past the end; an id past the highest one known to
    // exist is not a lost item. With the end unknown, the misses after the last readable row may be
    // lost items or ids never assigned: they are not counted, and the report says the tail is unknown.
    const end = hi > 0 ? hi : seen;
    let unreadable = 0;
    for (const id of misses) if (id <= end) unreadable++;
    return { unreadable, tailLost: hi === 0 && misses.some((id) => id > seen), maxId: Math.max(hi, last) };
  } finally {
    db.close();
    removeWork(work);
  }
}

function removeWork(work: string): void {
  for (const f of [work, `${work}-wal`, `${work}-shm`]) rmSync(f, { force: true });
}

function padToHeaderSize(file: string): void {
  const head = Buffer.alloc(100);
  const fd = openSync(file, "r");
  try {
    if (readSync(fd, head, 0, 100, 0) < 100 || head.toString("latin1", 0, 15) !== "SQLite format 3") return;
  } finally {
    closeSync(fd);
  }
  const ps = head.readUInt16BE(16);
  const pageSize = ps === 1 ? 65_536 : ps;
  const want = head.readUInt32BE(28) * pageSize;
  if (want > statSync(file).size && want < 2 ** 40) truncateSync(file, want);
}

/**
 * Copies every readable item of the damaged file `moved` into the fresh queue `db`, with its id, and
 * makes sure ids are never reused (not even those lost with the damaged pages).
 */
export function salvageInto(db: Database.Database, file: string, moved: string, problem: string): RecoveryReport {
  const report: RecoveryReport = { file, movedTo: moved, problem, salvaged: 0, salvagedBytes: 0, unreadable: 0, tailLost: false };
  const ins = db.prepare<[number, string, string, number, number, number, Buffer]>(`INSERT OR IGNORE INTO queue (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const copy = db.transaction((rows: Row[]) => {
    for (const r of rows) {
      if (!Buffer.isBuffer(r.payload) || typeof r.stream !== "string" || typeof r.topic !== "string") { report.unreadable++; continue; }
      ins.run(r.id, r.stream, r.topic, r.priority, r.control, r.enqueued_ms, r.payload);
      report.salvaged++;
      report.salvagedBytes += r.payload.length;
    }
  });
  const { unreadable, tailLost, maxId } = salvageRows(moved, copy);
  report.unreadable += unreadable;
  report.tailLost = tailLost;
  db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'queue'").run(maxId);
  db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'queue', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'queue')").run(maxId);
  return report;
}
