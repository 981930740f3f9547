import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { systemClock, type Clock } from "../core/clock.js";
import { QueueError, errorText } from "../core/errors.js";
import type { DeadLetter, NewQueueItem, Queue, QueueDepth, QueueItem } from "./queue.js";

/** Bumped when the schema changes; a newer file than this code refuses to open rather than guess. */
const SCHEMA_VERSION = 1;

// AUTOINCREMENT so ids are never reused after the table drains: the uplink names in-flight items by
// id, and a late PUBACK for an old id must never ack a new item.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  enqueued_ms INTEGER NOT NULL,
  payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
  id INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  topic TEXT NOT NULL,
  priority INTEGER NOT NULL,
  enqueued_ms INTEGER NOT NULL,
  payload BLOB NOT NULL,
  reason TEXT NOT NULL,
  dead_ms INTEGER NOT NULL
);
`;

interface Row {
  id: number;
  stream: string;
  topic: string;
  priority: number;
  enqueued_ms: number;
  payload: Buffer;
}

interface DeadRow extends Row {
  reason: string;
  dead_ms: number;
}

interface Removed {
  count: number;
  bytes: number;
}

export interface SqliteQueueOptions {
  /** Source of enqueue/dead-letter timestamps (default: system clock). */
  clock?: Clock;
}

function toItem(r: Row): QueueItem {
  return { id: r.id, stream: r.stream, topic: r.topic, priority: r.priority, enqueuedMs: r.enqueued_ms, payload: r.payload };
}

/** The queue in one SQLite file (WAL, synchronous=NORMAL) in the gateway's state directory. */
export class SqliteQueue implements Queue {
  private db: Database.Database | undefined;
  private count = 0;
  private bytes = 0;
  private readonly stmt: {
    insert: Database.Statement<[string, string, number, number, Buffer]>;
    peek: Database.Statement<[number, number], Row>;
    del: Database.Statement<[number], { n: number }>;
    moveDead: Database.Statement<[string, number, number]>;
    listDead: Database.Statement<[number], DeadRow>;
  };
  private readonly enqueueTx: (items: readonly NewQueueItem[]) => number[];
  // Both return the rows and bytes removed; the in-memory depth changes only after a commit.
  private readonly ackTx: (ids: readonly number[]) => Removed;
  private readonly deadTx: (id: number, reason: string) => Removed;

  private constructor(readonly file: string, db: Database.Database, private readonly clock: Clock) {
    this.db = db;
    this.stmt = {
      insert: db.prepare("INSERT INTO queue (stream, topic, priority, enqueued_ms, payload) VALUES (?, ?, ?, ?, ?)"),
      peek: db.prepare<[number, number], Row>("SELECT id, stream, topic, priority, enqueued_ms, payload FROM queue WHERE id > ? ORDER BY id LIMIT ?"),
      del: db.prepare<[number], { n: number }>("DELETE FROM queue WHERE id = ? RETURNING length(payload) AS n"),
      moveDead: db.prepare(
        "INSERT INTO dead_letter (id, stream, topic, priority, enqueued_ms, payload, reason, dead_ms) " +
        "SELECT id, stream, topic, priority, enqueued_ms, payload, ?, ? FROM queue WHERE id = ?"),
      listDead: db.prepare<[number], DeadRow>("SELECT * FROM dead_letter ORDER BY id LIMIT ?"),
    };
    this.enqueueTx = db.transaction((items: readonly NewQueueItem[]) => {
      const now = this.clock.nowMs();
      const ids: number[] = [];
      for (const it of items) {
        ids.push(Number(this.stmt.insert.run(it.stream, it.topic, it.priority, now, it.payload).lastInsertRowid));
      }
      return ids;
    });
    this.ackTx = db.transaction((ids: readonly number[]) => {
      const removed = { count: 0, bytes: 0 };
      for (const id of ids) {
        const r = this.stmt.del.get(id);
        if (r) { removed.count += 1; removed.bytes += r.n; }
      }
      return removed;
    });
    this.deadTx = db.transaction((id: number, reason: string) => {
      if (this.stmt.moveDead.run(reason, this.clock.nowMs(), id).changes === 0) return { count: 0, bytes: 0 };
      const r = this.stmt.del.get(id);
      return r ? { count: 1, bytes: r.n } : { count: 0, bytes: 0 };
    });
  }

  /**
   * Opens (creating if needed) the queue file. A file that is not a queue database, or is damaged,
   * gives a QueueError naming the file, never an empty queue that would silently drop data.
   */
  static open(file: string, opts: SqliteQueueOptions = {}): SqliteQueue {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      db = new Database(file);
      db.pragma("journal_mode = WAL");
      // NORMAL in WAL: a power cut may lose the last commits but never corrupts the file (FACTS: Storage).
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      const version = Number(db.pragma("user_version", { simple: true }));
      if (version > SCHEMA_VERSION) {
        throw new QueueError("QUEUE_SCHEMA", `queue file ${file} has schema version ${version}, newer than this firmware (${SCHEMA_VERSION}): upgrade the firmware or move the file aside`);
      }
      db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      const q = new SqliteQueue(file, db, opts.clock ?? systemClock);
      const d = db.prepare<[], { c: number; b: number | null }>("SELECT count(*) AS c, sum(length(payload)) AS b FROM queue").get();
      q.count = d?.c ?? 0;
      q.bytes = d?.b ?? 0;
      return q;
    } catch (err) {
      db?.close();
      if (err instanceof QueueError) throw err;
      throw new QueueError("QUEUE_OPEN", `cannot open queue file ${file}: ${errorText(err)}. If it is damaged, move it aside (the gateway starts a new queue) and keep it for analysis`, { cause: err });
    }
  }

  private live(op: string): Database.Database {
    if (!this.db) throw new QueueError("QUEUE_CLOSED", `queue ${this.file} is closed (${op})`);
    return this.db;
  }

  private wrap<T>(op: string, fn: () => T): T {
    this.live(op);
    try {
      return fn();
    } catch (err) {
      throw new QueueError("QUEUE_IO", `queue ${this.file}: ${op} failed: ${errorText(err)}`, { cause: err });
    }
  }

  enqueue(items: readonly NewQueueItem[]): number[] {
    if (items.length === 0) return [];
    for (const it of items) {
      if (!Buffer.isBuffer(it.payload)) throw new QueueError("QUEUE_ITEM", "queue payloads must be Buffers");
      if (!Number.isInteger(it.priority)) throw new QueueError("QUEUE_ITEM", `priority must be an integer, got ${it.priority}`);
    }
    const ids = this.wrap("enqueue", () => this.enqueueTx(items));
    this.count += items.length;
    for (const it of items) this.bytes += it.payload.length;
    return ids;
  }

  peek(limit: number, afterId = 0): QueueItem[] {
    if (!Number.isInteger(limit) || limit <= 0) return [];
    return this.wrap("peek", () => this.stmt.peek.all(afterId, limit).map(toItem));
  }

  ack(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.applyRemoved(this.wrap("ack", () => this.ackTx(ids)));
  }

  private applyRemoved(r: Removed): void {
    this.count -= r.count;
    this.bytes -= r.bytes;
  }

  deadLetter(id: number, reason: string): boolean {
    const r = this.wrap("deadLetter", () => this.deadTx(id, reason));
    this.applyRemoved(r);
    return r.count > 0;
  }

  deadLetters(limit = 1000): DeadLetter[] {
    return this.wrap("deadLetters", () => this.stmt.listDead.all(limit).map((r) => ({ ...toItem(r), reason: r.reason, deadMs: r.dead_ms })));
  }

  depth(): QueueDepth {
    this.live("depth");
    return { count: this.count, bytes: this.bytes };
  }

  close(): void {
    const db = this.db;
    if (!db) return;
    this.db = undefined;
    db.close();
  }
}
