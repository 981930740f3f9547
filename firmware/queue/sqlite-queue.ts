import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { systemClock, type Clock } from "../../kernel/clock.js";
import { QueueError, errorText } from "../../kernel/errors.js";
import type { DeadLetter, DropReason, DropReport, DropTotals, MarkUpdate, NewQueueItem, PeekCursor, Queue, QueueDepth, QueueItem } from "./queue.js";
import { integrityProblem, moveAside, salvageInto, type RecoveryReport } from "./salvage.js";
import { permissionError, permissionProblem } from "./queue-access.js";
import { ROW_COLUMNS, migrate, type Row } from "./sqlite-schema.js";
import { DiskSpace, type DiskSpaceOptions } from "./disk-space.js";
import { evictInTx, prepareEvict, type EvictStatements } from "./sqlite-evict.js";
import { HotTail } from "./hot-tail.js";
import { BackgroundCheckpointer } from "./checkpointer.js";

export type { RecoveryReport } from "./salvage.js";

/** SQLite's `synchronous` setting; what a power cut costs in each is in docs/queue.md. */
export type Durability = "normal" | "full";

export interface SqliteQueueOptions extends DiskSpaceOptions {
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
   * Payload bytes of the newest items kept in memory, so peeks need no SQLite read (default 4 MiB;
   * 0 turns it off). See HotTail and docs/queue.md "Reads".
   */
  hotBytes?: number;
  /** Checkpoint the WAL from a worker thread (default true; see BackgroundCheckpointer). */
  backgroundCheckpoint?: boolean;
}

/** Default HotTail bound: ~7,000 frames of ~570 B, 28 windows of 256. */
export const DEFAULT_HOT_BYTES = 4 * 2 ** 20;

interface Removed { count: number; bytes: number; byClass: Map<number, number> }

/** What one enqueue transaction did: the new ids, its drops and every (class, id) it deleted. */
interface Enqueued { ids: number[]; drops: DropReport[]; nowMs: number; removed: Array<[number, number]> }

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
  private readonly disk: DiskSpace;
  private readonly maxBytes: number;
  private readonly s;
  private readonly ev: EvictStatements;
  private readonly enqueueTx: (items: readonly NewQueueItem[], mostUrgent: number, budget: number, marks: MarkUpdate | undefined) => Enqueued;
  private readonly ackTx: (ids: readonly number[]) => Removed;
  private readonly ackKnownTx: (ids: readonly number[]) => void;
  /** The newest items of each class, in memory (see HotTail); kept in step with every commit. */
  private hot: HotTail;
  /** Highest id assigned so far (ids only grow). */
  private lastId = 0;
  /** Null when checkpoints stay on this thread (backgroundCheckpoint: false). */
  readonly checkpointer: BackgroundCheckpointer | null;
  private readonly deadTx: (id: number, reason: string) => Removed;

  private constructor(readonly file: string, db: Database.Database, private readonly opts: SqliteQueueOptions, private readonly clock: Clock) {
    this.db = db;
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.disk = new DiskSpace(file, opts);
    this.hot = new HotTail(0, 0); // replaced in loadDepth(), once the last id is known
    this.checkpointer = opts.backgroundCheckpoint === false ? null : new BackgroundCheckpointer(file, opts.durability === "full" ? "FULL" : "NORMAL");
    this.ev = prepareEvict(db);
    this.s = {
      insert: db.prepare<[string, string, number, number, number, Buffer]>("INSERT INTO queue (stream, topic, priority, control, enqueued_ms, payload) VALUES (?, ?, ?, ?, ?, ?)"),
      peekClass: db.prepare<[number, number, number], Row>(`SELECT ${ROW_COLUMNS} FROM queue WHERE priority = ? AND id > ? ORDER BY id LIMIT ?`),
      reclass: db.prepare<[number, string]>("UPDATE queue SET priority = ? WHERE stream = ?"),
      moveDead: db.prepare<[string, number, number]>(
        "INSERT INTO dead_letter (id, stream, topic, priority, enqueued_ms, payload, reason, dead_ms) " +
        "SELECT id, stream, topic, priority, enqueued_ms, payload, ?, ? FROM queue WHERE id = ?"),
      listDead: db.prepare<[number], Row & { reason: string; dead_ms: number }>("SELECT *, 0 AS control FROM dead_letter ORDER BY id LIMIT ?"),
      setMark: db.prepare<[string, bigint]>("INSERT INTO marks (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"),
      delMark: db.prepare<[string]>("DELETE FROM marks WHERE name = ?"),
      listMarks: db.prepare<[], { name: string; value: bigint }>("SELECT name, value FROM marks ORDER BY name").safeIntegers(true),
    };
    let removed: Array<[number, number]> = [];
    const evict = (need: number, reason: DropReason, minPriority: number): DropReport[] =>
      evictInTx(this.ev, need, reason, minPriority, (p, id) => { this.classDelta(p, -1); removed.push([p, id]); });
    this.enqueueTx = db.transaction((items: readonly NewQueueItem[], mostUrgent: number, budget: number, marks: MarkUpdate | undefined): Enqueued => {
      const now = this.clock.nowMs();
      const ids: number[] = [];
      removed = [];
      let added = 0;
      for (const it of items) added += it.payload.length;
      // A commit on a short disk never pushes out anything more urgent than its own most urgent data frame.
      const minPriority = Number.isFinite(mostUrgent) ? mostUrgent : Number.MAX_SAFE_INTEGER;
      let short = added - budget;
      // Disk short of space: drop first, so the new rows reuse the freed pages instead of growing the file.
      const drops = short > 0 ? evict(short, "disk-full", minPriority) : [];
      for (const d of drops) short -= d.bytes;
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
      // Nothing older was eligible: the least urgent data frames of this very commit go.
      if (short > 0) drops.push(...evict(short, "disk-full", minPriority));
      let freed = 0;
      for (const d of drops) freed += d.bytes;
      const over = this.bytes - freed + added - this.maxBytes;
      if (over > 0) drops.push(...evict(over, "bound", 0));
      // Marks describe this commit's items, so they commit (or roll back) with them.
      if (marks?.set) for (const [name, value] of marks.set) this.s.setMark.run(name, value);
      if (marks?.delete) for (const name of marks.delete) this.s.delMark.run(name);
      return { ids, drops, nowMs: now, removed };
    });
    // One statement per ack batch (the ids as a JSON array), not one per id: the uplink acks
    // hundreds at a time and the per-call overhead dominated.
    const delMany = db.prepare<[string], { n: number; priority: number }>("DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?)) RETURNING length(payload) AS n, priority");
    // Acks of items the HotTail holds: their sizes and classes are known, so nothing comes back.
    const delKnown = db.prepare<[string]>("DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?))");
    this.ackKnownTx = db.transaction((ids: readonly number[]) => { delKnown.run(JSON.stringify(ids)); });
    this.ackTx = db.transaction((ids: readonly number[]) => {
      const removed: Removed = { count: 0, bytes: 0, byClass: new Map() };
      for (const r of delMany.all(JSON.stringify(ids))) take(removed, r.priority, r.n);
      return removed;
    });
    this.deadTx = db.transaction((id: number, reason: string) => {
      const removed: Removed = { count: 0, bytes: 0, byClass: new Map() };
      if (this.s.moveDead.run(reason, this.clock.nowMs(), id).changes === 0) return removed;
      const r = this.ev.del.get(id);
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
      // Before the damage check: SQLite says "unable to open" for a refused file too, and a refused
      // file must never be taken for a damaged one (moving it aside strands its frames).
      const denied = permissionProblem(file);
      if (denied !== null) throw new QueueError("QUEUE_PERMISSION", denied);
      const problem = integrityProblem(file);
      let moved: string | null = null;
      if (problem !== null) {
        if (opts.recover === false) throw new QueueError("QUEUE_OPEN", `queue file ${file} is damaged (${problem}): move it aside and keep it for analysis (the gateway starts a new queue), or start with recovery on to salvage its readable frames`);
        moved = moveAside(file, clock.nowMs());
      }
      db = new Database(file);
      db.pragma("journal_mode = WAL");
      // NORMAL in WAL: a power cut may lose the last commits but never corrupts the file (docs/queue.md).
      db.pragma(`synchronous = ${opts.durability === "full" ? "FULL" : "NORMAL"}`);
      // A small WAL (checkpoint every ~1 MiB, truncated back to 4 MiB when it grew past that) stays
      // smaller than the reserve, so a full disk can always be checkpointed (docs/queue.md).
      db.pragma("wal_autocheckpoint = 256");
      db.pragma("journal_size_limit = 4194304");
      migrate(db, file);
      const q = new SqliteQueue(file, db, opts, clock);
      if (moved !== null && problem !== null) q.recovery = salvageInto(db, file, moved, problem);
      q.loadDepth();
      q.disk.makeReserve();
      return q;
    } catch (err) {
      db?.close();
      if (err instanceof QueueError) throw err;
      const denied = permissionError(file, err);
      if (denied !== null) throw new QueueError("QUEUE_PERMISSION", denied, { cause: err });
      // Damage is found by the check above and salvaged; what is left (I/O errors, a full disk) is
      // not a reason to give up the file and its unsent frames.
      throw new QueueError("QUEUE_OPEN", `cannot open queue file ${file}: ${errorText(err)}. Check the disk and file system under ${dirname(file)} (dmesg, df); keep the file, it holds the unsent frames`, { cause: err });
    }
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
    this.lastId = db.prepare<[], { m: number | null }>("SELECT max(id) AS m FROM queue").get()?.m ?? 0;
    // What is on disk at start-up is read from disk; only what is committed from now on is cached.
    this.hot = new HotTail(this.opts.hotBytes ?? DEFAULT_HOT_BYTES, this.lastId);
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
      this.disk.relieve(this.live(op));
      return this.wrap(op, fn);
    }
  }

  enqueue(items: readonly NewQueueItem[], marks?: MarkUpdate): number[] {
    if (marks) checkMarks(marks);
    if (items.length === 0 && (marks?.set?.size ?? 0) === 0 && (marks?.delete?.length ?? 0) === 0) return [];
    let added = 0;
    let mostUrgent = Number.POSITIVE_INFINITY;
    for (const it of items) {
      if (!Buffer.isBuffer(it.payload)) throw new QueueError("QUEUE_ITEM", "queue payloads must be Buffers");
      if (!Number.isInteger(it.priority)) throw new QueueError("QUEUE_ITEM", `priority must be an integer, got ${it.priority}`);
      added += it.payload.length;
      if (!it.control) mostUrgent = Math.min(mostUrgent, it.priority);
    }
    const db = this.live("enqueue");
    const attempt = (): Enqueued => {
      const before = new Map(this.classes);
      try {
        return this.wrap("enqueue", () => this.enqueueTx(items, mostUrgent, this.disk.budget(added, db), marks));
      } catch (err) {
        this.restoreClasses(before);
        throw err;
      }
    };
    let res: Enqueued;
    try {
      res = attempt();
    } catch (err) {
      if (!(err instanceof QueueError) || err.code !== "QUEUE_FULL") throw err;
      // Something else filled the disk: release the reserve, checkpoint, and try once more with a
      // budget of the file's own free pages (dropping by policy first). If that fails too, the caller
      // gets QUEUE_FULL with what to do.
      this.disk.relieve(db);
      try {
        res = attempt();
      } catch (err2) {
        if (!(err2 instanceof QueueError) || err2.code !== "QUEUE_FULL") throw err2;
        throw new QueueError("QUEUE_FULL", `queue ${this.file}: the filesystem is full and nothing less urgent is left to drop (${err2.message}); free space on ${dirname(this.file)} (until then the gateway drops new data frames, counted and audited)`, { cause: err2 });
      }
    }
    for (const it of items) {
      this.classDelta(it.priority, 1);
      this.streamClass.set(it.stream, it.priority);
    }
    this.count += items.length;
    this.bytes += added;
    this.lastId = Math.max(this.lastId, res.ids[res.ids.length - 1] ?? 0);
    if (this.recount) {
      this.recountClasses();
      this.hot.reset(this.lastId); // rows changed class: read them from disk
    } else {
      this.hot.add(items.map((it, i) => {
        const q: QueueItem = { id: res.ids[i]!, stream: it.stream, topic: it.topic, priority: it.priority, payload: it.payload, enqueuedMs: res.nowMs };
        if (it.control) q.control = true;
        return q;
      }));
      for (const [p, id] of res.removed) this.hot.remove(p, id);
    }
    this.disk.committed(added);
    this.checkpointer?.wrote(added * 1.5);
    if (this.disk.tight) {
      // Short of space: keep the WAL fully copied into the file, so its blocks are reused, never added.
      try {
        db.pragma("wal_checkpoint(PASSIVE)");
      } catch {
        // Nothing lost: the next commit tries again.
      }
    }
    this.applyDrops(res.drops);
    return res.ids;
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
        if (!this.hot.peek(p, from, limit - out.length, out)) {
          for (const r of this.s.peekClass.all(p, from, limit - out.length)) out.push(toItem(r));
        }
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  ack(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const known: QueueItem[] = [];
    for (const id of ids) {
      const it = this.hot.find(id);
      if (!it) break;
      known.push(it);
    }
    if (known.length === ids.length) {
      // All cached, so all stored: delete without reading anything back, then account from memory.
      this.retryFull("ack", () => this.ackKnownTx(ids));
      const r: Removed = { count: 0, bytes: 0, byClass: new Map() };
      for (const k of known) {
        const it = this.hot.remove(k.priority, k.id); // undefined for an id listed twice
        if (it) take(r, it.priority, it.payload.length);
      }
      this.applyRemoved(r);
      return;
    }
    const r = this.retryFull("ack", () => this.ackTx(ids));
    for (const id of ids) {
      const it = this.hot.find(id);
      if (it) this.hot.remove(it.priority, id);
    }
    this.applyRemoved(r);
  }

  private applyRemoved(r: Removed): void {
    this.checkpointer?.wrote(r.bytes * 1.5); // deleting rows rewrites their pages
    this.count -= r.count;
    this.bytes -= r.bytes;
    for (const [p, n] of r.byClass) this.classDelta(p, -n);
  }

  deadLetter(id: number, reason: string): boolean {
    const r = this.retryFull("deadLetter", () => this.deadTx(id, reason));
    for (const p of r.byClass.keys()) this.hot.remove(p, id);
    this.applyRemoved(r);
    return r.count > 0;
  }

  deadLetters(limit = 1000): DeadLetter[] {
    return this.wrap("deadLetters", () => this.s.listDead.all(limit).map((r) => ({ ...toItem(r), reason: r.reason, deadMs: r.dead_ms })));
  }

  /** Payload bytes the in-memory tail holds (tests, memory figures). */
  get hotHeldBytes(): number {
    return this.hot.heldBytes;
  }

  depth(): QueueDepth {
    this.live("depth");
    return { count: this.count, bytes: this.bytes };
  }

  marks(): Map<string, bigint> {
    return this.wrap("marks", () => new Map(this.s.listMarks.all().map((r) => [r.name, r.value] as const)));
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
    this.checkpointer?.close();
    db.close();
  }
}

function checkMarks(m: MarkUpdate): void {
  for (const [name, value] of m.set ?? []) {
    if (name.length < 1 || name.length > 200) throw new QueueError("QUEUE_ITEM", `mark name must be 1..200 characters, got ${name.length}`);
    if (typeof value !== "bigint" || value < 0n || value >= 1n << 63n) throw new QueueError("QUEUE_ITEM", `mark ${name}: value must be a bigint in 0..2^63-1`);
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
