import Database from "better-sqlite3";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { systemClock, type Clock } from "../core/clock.js";
import { QueueError, errorText } from "../core/errors.js";
import type { DeadLetter, DropReason, DropReport, DropTotals, NewQueueItem, PeekCursor, Queue, QueueDepth, QueueItem } from "./queue.js";
import { integrityProblem, moveAside, salvageRows, type RecoveryReport } from "./salvage.js";
import { ROW_COLUMNS, migrate, type Row } from "./sqlite-schema.js";

export type { RecoveryReport } from "./salvage.js";

/** SQLite's `synchronous` setting; what a power cut costs in each is in docs/queue.md. */
export type Durability = "normal" | "full";

export interface SqliteQueueOptions {
  /** Source of enqueue/dead-letter timestamps (default: system clock). */
  clock?: Clock;
  /** Bound on the payload bytes of waiting items (default: none). */
  maxBytes?: number;
  /** normal (default): WAL + synchronous=NORMAL; full: fsync at every commit. */
  durability?: Durability;
  /** Called after a commit that dropped data frames (bound or full disk). */
  onDrop?: (reports: DropReport[]) => void;
  /** Move a damaged file aside and salvage what it holds (default true); false: throw QUEUE_OPEN. */
  recover?: boolean;
  /**
   * Bytes kept in `<file>.reserve` (default 1 MiB; 0: none). On a full disk, SQLite can neither
   * grow its WAL nor checkpoint it, so even the deletes that would make room fail; the reserve is
   * released then, so the WAL can be checkpointed and data dropped by policy. Re-made when space returns.
   */
  reserveBytes?: number;
  /**
   * Free space to leave on the filesystem (default 8 MiB). Below it the queue stops growing and
   * drops by policy ("disk-full") instead, well before SQLite itself would hit a full disk, where even
   * the deletes that make room can fail. Lifted when twice this much is free again.
   */
  minFreeBytes?: number;
}

interface Removed { count: number; bytes: number; byClass: Map<number, number> }

const isFull = (err: unknown): boolean => (err as { code?: unknown }).code === "SQLITE_FULL";

/** The queue in one SQLite file (WAL) in the gateway's state directory. */
export class SqliteQueue implements Queue {
  private db: Database.Database | undefined;
  private count = 0;
  private bytes = 0;
  /** Waiting items per priority class, so peek visits only classes that hold something. */
  private readonly classes = new Map<number, number>();
  /** Priority of each stream's waiting items, so a changed priority moves the whole stream. */
  private readonly streamClass = new Map<string, number>();
  /** Set when start-up found the file damaged and recovered what it could. */
  recovery: RecoveryReport | null = null;
  private recount = false;
  private reserveMissing = false;
  private lastReserveTry = 0;
  /** Payload bytes the disk was found to hold (learned on SQLITE_FULL, lifted again after a while). */
  private diskCap = Number.POSITIVE_INFINITY;
  private diskCapSince = 0;
  private lastStatfs = 0;
  private sinceStatfs = 0;
  private readonly maxBytes: number;
  private readonly s;
  private readonly enqueueTx: (items: readonly NewQueueItem[], mostUrgent: number) => { ids: number[]; drops: DropReport[] };
  private readonly evictTx: (need: number, reason: DropReason, leastUrgent: number) => DropReport[];
  private readonly ackTx: (ids: readonly number[]) => Removed;
  private readonly deadTx: (id: number, reason: string) => Removed;

  private constructor(readonly file: string, db: Database.Database, private readonly opts: SqliteQueueOptions, private readonly clock: Clock) {
    this.db = db;
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.s = {
      insert: db.prepare<[string, string, number, number, number, Buffer]>("INSERT INTO queue (stream, topic, priority, control, enqueued_ms, payload) VALUES (?, ?, ?, ?, ?, ?)"),
      peekClass: db.prepare<[number, number, number], Row>(`SELECT ${ROW_COLUMNS} FROM queue WHERE priority = ? AND id > ? ORDER BY id LIMIT ?`),
      del: db.prepare<[number], { n: number; priority: number }>("DELETE FROM queue WHERE id = ? RETURNING length(payload) AS n, priority"),
      leastUrgent: db.prepare<[number], { p: number | null }>("SELECT max(priority) AS p FROM queue WHERE control = 0 AND priority >= ?"),
      oldestOf: db.prepare<[number, number], { id: number; stream: string; n: number }>("SELECT id, stream, length(payload) AS n FROM queue WHERE control = 0 AND priority = ? ORDER BY id LIMIT ?"),
      addDropped: db.prepare<[string, number, number]>("INSERT INTO dropped (stream, count, bytes) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET count = count + excluded.count, bytes = bytes + excluded.bytes"),
      reclass: db.prepare<[number, string]>("UPDATE queue SET priority = ? WHERE stream = ?"),
      moveDead: db.prepare<[string, number, number]>(
        "INSERT INTO dead_letter (id, stream, topic, priority, enqueued_ms, payload, reason, dead_ms) " +
        "SELECT id, stream, topic, priority, enqueued_ms, payload, ?, ? FROM queue WHERE id = ?"),
      listDead: db.prepare<[number], Row & { reason: string; dead_ms: number }>("SELECT *, 0 AS control FROM dead_letter ORDER BY id LIMIT ?"),
    };
    this.enqueueTx = db.transaction((items: readonly NewQueueItem[], mostUrgent: number) => {
      const now = this.clock.nowMs();
      const ids: number[] = [];
      let added = 0;
      for (const it of items) added += it.payload.length;
      let drops: DropReport[] = [];
      let freed = 0;
      for (const it of items) {
        const known = this.streamClass.get(it.stream);
        if (known !== undefined && known !== it.priority) {
          // The config moved this stream to another class: move its waiting items too, or the stream
          // would be delivered out of order across the two classes.
          this.s.reclass.run(it.priority, it.stream);
          this.streamClass.set(it.stream, it.priority);
          this.recount = true;
        }
        ids.push(Number(this.s.insert.run(it.stream, it.topic, it.priority, it.control ? 1 : 0, now, it.payload).lastInsertRowid));
      }
      if (this.bytes + added > this.diskCap) {
        // The disk is short of space: drop by the same policy, but a batch never pushes out anything
        // more urgent than its own most urgent data frame.
        drops = this.evictInTx(this.bytes + added - this.diskCap, "disk-full", Number.isFinite(mostUrgent) ? mostUrgent : Number.MAX_SAFE_INTEGER);
        for (const d of drops) freed += d.bytes;
      }
      const over = this.bytes - freed + added - this.maxBytes;
      if (over > 0) drops = [...drops, ...this.evictInTx(over, "bound", 0)];
      return { ids, drops };
    });
    this.evictTx = db.transaction((need: number, reason: DropReason, leastUrgent: number) => this.evictInTx(need, reason, leastUrgent));
    this.ackTx = db.transaction((ids: readonly number[]) => {
      const removed: Removed = { count: 0, bytes: 0, byClass: new Map() };
      for (const id of ids) {
        const r = this.s.del.get(id);
        if (r) take(removed, r.priority, r.n);
      }
      return removed;
    });
    this.deadTx = db.transaction((id: number, reason: string) => {
      const removed: Removed = { count: 0, bytes: 0, byClass: new Map() };
      if (this.s.moveDead.run(reason, this.clock.nowMs(), id).changes === 0) return removed;
      const r = this.s.del.get(id);
      if (r) take(removed, r.priority, r.n);
      return removed;
    });
  }

  /**
   * Opens (creating if needed) the queue file. A damaged file (failed quick_check, not SQLite at all,
   * truncated) is moved aside and every readable item is copied into a fresh file with its id; the
   * outcome is in `recovery`. Other failures give a QueueError naming the file.
   */
  static open(file: string, opts: SqliteQueueOptions = {}): SqliteQueue {
    let db: Database.Database | undefined;
    const clock = opts.clock ?? systemClock;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const problem = integrityProblem(file);
      let moved: string | null = null;
      if (problem !== null) {
        if (opts.recover === false) throw new Error(problem);
        moved = moveAside(file, clock.nowMs());
      }
      db = new Database(file);
      db.pragma("journal_mode = WAL");
      // NORMAL in WAL: a power cut may lose the last commits but never corrupts the file (docs/queue.md).
      db.pragma(`synchronous = ${opts.durability === "full" ? "FULL" : "NORMAL"}`);
      // A small WAL (checkpoint every ~1 MiB, truncated back to 4 MiB) keeps a full disk recoverable.
      db.pragma("wal_autocheckpoint = 256");
      db.pragma("journal_size_limit = 4194304");
      migrate(db, file);
      const q = new SqliteQueue(file, db, opts, clock);
      if (moved !== null && problem !== null) q.recovery = q.salvage(moved, problem);
      q.loadDepth();
      q.makeReserve();
      return q;
    } catch (err) {
      db?.close();
      if (err instanceof QueueError) throw err;
      throw new QueueError("QUEUE_OPEN", `cannot open queue file ${file}: ${errorText(err)}. If it is damaged, move it aside (the gateway starts a new queue) and keep it for analysis`, { cause: err });
    }
  }

  private salvage(moved: string, problem: string): RecoveryReport {
    const db = this.live("open");
    const report: RecoveryReport = { file: this.file, movedTo: moved, problem, salvaged: 0, salvagedBytes: 0, unreadable: 0 };
    const ins = db.prepare<[number, string, string, number, number, number, Buffer]>(`INSERT OR IGNORE INTO queue (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    const copy = db.transaction((rows: Row[]) => {
      for (const r of rows) {
        if (!Buffer.isBuffer(r.payload) || typeof r.stream !== "string" || typeof r.topic !== "string") { report.unreadable++; continue; }
        ins.run(r.id, r.stream, r.topic, r.priority, r.control, r.enqueued_ms, r.payload);
        report.salvaged++;
        report.salvagedBytes += r.payload.length;
      }
    });
    const { unreadable, maxId } = salvageRows(moved, copy);
    report.unreadable += unreadable;
    // Ids are never reused, not even those of items lost with the damaged pages.
    db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'queue'").run(maxId);
    db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'queue', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'queue')").run(maxId);
    return report;
  }

  private get reserveFile(): string {
    return `${this.file}.reserve`;
  }

  private makeReserve(): void {
    const n = this.opts.reserveBytes ?? 1024 * 1024;
    if (n <= 0) return;
    this.lastReserveTry = Date.now();
    try {
      writeFileSync(this.reserveFile, Buffer.alloc(n), { mode: 0o600 });
      this.reserveMissing = false;
    } catch {
      rmSync(this.reserveFile, { force: true });
      this.reserveMissing = true;
    }
  }

  /**
   * Gives SQLite room to work on a full disk: releases the reserve, and learns how much the disk
   * holds, so later commits drop by policy inside the file (reusing its free pages) instead of
   * failing. The learned cap is lifted after a while, to find out whether space came back.
   */
  private relieve(incoming: number): void {
    if (!this.reserveMissing && (this.opts.reserveBytes ?? 1) > 0) {
      rmSync(this.reserveFile, { force: true });
      this.reserveMissing = true;
      this.lastReserveTry = Date.now();
    }
    this.diskCap = Math.max(0, this.bytes - Math.max(2 * incoming, Math.floor(this.bytes / 8)));
    this.diskCapSince = Date.now();
    try {
      // Copy the WAL into the file and start it over from its beginning: the WAL then reuses the
      // disk blocks it already has instead of needing new ones.
      this.live("enqueue").pragma("wal_checkpoint(RESTART)");
    } catch {
      // No room for that either: the eviction below will say whether anything can be done.
    }
  }

  /** Caps the queue at its current size while the filesystem is short of `minFreeBytes` (checked ≤ 10×/s). */
  private watchDisk(incoming: number): void {
    const now = Date.now();
    const min = this.opts.minFreeBytes ?? 8 * 1024 * 1024;
    this.sinceStatfs += incoming;
    // A syscall per commit would be cheap enough, but every 100 ms or quarter of the margin suffices.
    if (now - this.lastStatfs < 100 && this.sinceStatfs < min / 4) return;
    this.lastStatfs = now;
    this.sinceStatfs = 0;
    let free: number;
    try {
      const st = statfsSync(dirname(this.file));
      free = st.bavail * st.bsize;
    } catch {
      return;
    }
    if (free - incoming >= min) {
      this.diskCap = Number.POSITIVE_INFINITY;
      return;
    }
    // Short of space: the queue may still use the free pages inside its own file (dropped and
    // delivered items leave them behind) plus what is left above the margin, and no more.
    const db = this.live("enqueue");
    const inFile = Number(db.pragma("freelist_count", { simple: true })) * Number(db.pragma("page_size", { simple: true }));
    this.diskCap = this.bytes + Math.max(0, free - min) + Math.floor(inFile * 0.8);
    this.diskCapSince = now;
  }

  private recountClasses(): void {
    this.recount = false;
    this.classes.clear();
    for (const r of this.live("enqueue").prepare<[], { priority: number; c: number }>("SELECT priority, count(*) AS c FROM queue GROUP BY priority").all()) this.classes.set(r.priority, r.c);
  }

  private loadDepth(): void {
    const db = this.live("open");
    for (const r of db.prepare<[], { priority: number; c: number; b: number }>("SELECT priority, count(*) AS c, sum(length(payload)) AS b FROM queue GROUP BY priority").all()) {
      this.classes.set(r.priority, r.c);
      this.count += r.c;
      this.bytes += r.b;
    }
    for (const r of db.prepare<[], { stream: string; p: number }>("SELECT stream, max(priority) AS p FROM queue GROUP BY stream").all()) this.streamClass.set(r.stream, r.p);
  }

  /** Deletes at least `need` payload bytes of data frames, least urgent class first, oldest first. */
  private evictInTx(need: number, reason: DropReason, leastUrgent: number): DropReport[] {
    const by = new Map<string, DropReport>();
    let freed = 0;
    while (freed < need) {
      const p = this.s.leastUrgent.get(leastUrgent)?.p;
      if (p === null || p === undefined) break; // only control frames (or more urgent data) left
      const victims = this.s.oldestOf.all(p, 256);
      for (const v of victims) {
        if (freed >= need) break;
        this.s.del.get(v.id);
        freed += v.n;
        let r = by.get(v.stream);
        if (!r) by.set(v.stream, (r = { stream: v.stream, reason, count: 0, bytes: 0, ids: [] }));
        r.count++;
        r.bytes += v.n;
        r.ids.push(v.id);
        this.classDelta(p, -1);
      }
    }
    for (const r of by.values()) this.s.addDropped.run(r.stream, r.count, r.bytes);
    return [...by.values()];
  }

  private classDelta(p: number, d: number): void {
    const n = (this.classes.get(p) ?? 0) + d;
    if (n <= 0) this.classes.delete(p);
    else this.classes.set(p, n);
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
      throw new QueueError(isFull(err) ? "QUEUE_FULL" : "QUEUE_IO", `queue ${this.file}: ${op} failed: ${errorText(err)}`, { cause: err });
    }
  }

  /** Deletes must work on a full disk too (they are what makes room): relieve and retry once. */
  private retryFull<T>(op: string, fn: () => T): T {
    try {
      return this.wrap(op, fn);
    } catch (err) {
      if (!(err instanceof QueueError) || err.code !== "QUEUE_FULL") throw err;
      this.relieve(0);
      return this.wrap(op, fn);
    }
  }

  enqueue(items: readonly NewQueueItem[]): number[] {
    if (items.length === 0) return [];
    let added = 0;
    let mostUrgent = Number.POSITIVE_INFINITY;
    for (const it of items) {
      if (!Buffer.isBuffer(it.payload)) throw new QueueError("QUEUE_ITEM", "queue payloads must be Buffers");
      if (!Number.isInteger(it.priority)) throw new QueueError("QUEUE_ITEM", `priority must be an integer, got ${it.priority}`);
      added += it.payload.length;
      if (!it.control) mostUrgent = Math.min(mostUrgent, it.priority);
    }
    this.watchDisk(added);
    const classesBefore = new Map(this.classes);
    let res: { ids: number[]; drops: DropReport[] };
    try {
      res = this.wrap("enqueue", () => this.enqueueTx(items, mostUrgent));
    } catch (err) {
      this.restoreClasses(classesBefore);
      if (!(err instanceof QueueError) || err.code !== "QUEUE_FULL") throw err;
      // The disk is full: make room by the same policy as the bound, but never at the expense of
      // something more urgent than what is arriving. Then try once more.
      this.relieve(added);
      const evicted = this.tryEvict(this.bytes - this.diskCap, Number.isFinite(mostUrgent) ? mostUrgent : Number.POSITIVE_INFINITY, classesBefore);
      if (evicted.length === 0) throw err;
      const before2 = new Map(this.classes);
      try {
        res = this.wrap("enqueue", () => this.enqueueTx(items, mostUrgent));
      } catch (err2) {
        this.restoreClasses(before2);
        throw err2;
      }
    }
    for (const it of items) {
      this.classDelta(it.priority, 1);
      this.streamClass.set(it.stream, it.priority);
    }
    this.count += items.length;
    this.bytes += added;
    if (this.recount) this.recountClasses();
    if (this.reserveMissing && Date.now() - this.lastReserveTry > 5000) this.makeReserve();
    this.applyDrops(res.drops);
    return res.ids;
  }

  private tryEvict(need: number, leastUrgent: number, classesBefore: Map<number, number>): DropReport[] {
    if (!Number.isFinite(leastUrgent)) return [];
    try {
      const drops = this.evictTx(need, "disk-full", leastUrgent);
      this.applyDrops(drops);
      return drops;
    } catch {
      this.restoreClasses(classesBefore);
      return [];
    }
  }

  private restoreClasses(before: Map<number, number>): void {
    this.classes.clear();
    for (const [k, v] of before) this.classes.set(k, v);
  }

  private applyDrops(drops: DropReport[]): void {
    if (drops.length === 0) return;
    for (const d of drops) {
      this.count -= d.count;
      this.bytes -= d.bytes;
    }
    this.opts.onDrop?.(drops);
  }

  peek(limit: number, after: number | PeekCursor = 0): QueueItem[] {
    if (!Number.isInteger(limit) || limit <= 0) return [];
    return this.wrap("peek", () => {
      const out: QueueItem[] = [];
      for (const p of [...this.classes.keys()].sort((a, b) => a - b)) {
        const from = typeof after === "number" ? after : (after.get(p) ?? 0);
        for (const r of this.s.peekClass.all(p, from, limit - out.length)) out.push(toItem(r));
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  ack(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.applyRemoved(this.retryFull("ack", () => this.ackTx(ids)));
  }

  private applyRemoved(r: Removed): void {
    this.count -= r.count;
    this.bytes -= r.bytes;
    for (const [p, n] of r.byClass) this.classDelta(p, -n);
  }

  deadLetter(id: number, reason: string): boolean {
    const r = this.retryFull("deadLetter", () => this.deadTx(id, reason));
    this.applyRemoved(r);
    return r.count > 0;
  }

  deadLetters(limit = 1000): DeadLetter[] {
    return this.wrap("deadLetters", () => this.s.listDead.all(limit).map((r) => ({ ...toItem(r), reason: r.reason, deadMs: r.dead_ms })));
  }

  depth(): QueueDepth {
    this.live("depth");
    return { count: this.count, bytes: this.bytes };
  }

  dropped(): Record<string, DropTotals> {
    return this.wrap("dropped", () => {
      const out: Record<string, DropTotals> = {};
      for (const r of this.live("dropped").prepare<[], { stream: string; count: number; bytes: number }>("SELECT stream, count, bytes FROM dropped").all()) out[r.stream] = { count: r.count, bytes: r.bytes };
      return out;
    });
  }

  close(): void {
    const db = this.db;
    if (!db) return;
    this.db = undefined;
    db.close();
  }
}

function take(r: Removed, priority: number, n: number): void {
  r.count += 1;
  r.bytes += n;
  r.byClass.set(priority, (r.byClass.get(priority) ?? 0) + 1);
}

function toItem(r: Row): QueueItem {
  const it: QueueItem = { id: r.id, stream: r.stream, topic: r.topic, priority: r.priority, payload: r.payload, enqueuedMs: r.enqueued_ms };
  if (r.control) it.control = true;
  return it;
}
