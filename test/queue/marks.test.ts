/** Queue marks (schema v3): committed with the items of an enqueue, and the v2 → v3 migration. */
import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { QueueError } from "../../kernel/errors.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { SCHEMA_VERSION } from "../../firmware/queue/sqlite-schema.js";

const root = mkdtempSync(join(tmpdir(), "otgw-marks-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `q${n++}`, "queue.db");
const item = (stream: string, b: number) => ({ stream, topic: `otgw/v1/gw/${stream}`, priority: 1, payload: Buffer.alloc(16, b) });

// The v2 schema exactly as firmware with SCHEMA_VERSION 2 created it (sqlite-schema.ts before v3).
const V2_FILE_SQL = `
CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, topic TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0, enqueued_ms INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE dead_letter (id INTEGER PRIMARY KEY, stream TEXT NOT NULL, topic TEXT NOT NULL, priority INTEGER NOT NULL,
  enqueued_ms INTEGER NOT NULL, payload BLOB NOT NULL, reason TEXT NOT NULL, dead_ms INTEGER NOT NULL);
ALTER TABLE queue ADD COLUMN control INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_by_class ON queue (priority, id);
CREATE INDEX queue_droppable ON queue (control, priority, id);
CREATE TABLE dropped (stream TEXT PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL);
PRAGMA user_version = 2;
`;

void describe("queue marks", () => {
  void it("are set and deleted in the enqueue's transaction and survive a reopen", () => {
    const file = fresh();
    const q = SqliteQueue.open(file);
    assert.deepEqual(q.marks(), new Map());
    q.enqueue([item("a", 1), item("a", 2)], { set: new Map([["m/a", 2n], ["m/b", (1n << 63n) - 1n]]) });
    q.enqueue([item("a", 3)], { set: new Map([["m/a", 3n]]), delete: ["m/b"] });
    assert.deepEqual(q.marks(), new Map([["m/a", 3n]]));
    // Marks alone (no items) still commit.
    q.enqueue([], { set: new Map([["m/c", 0n]]) });
    q.close();
    const r = SqliteQueue.open(file);
    assert.deepEqual(r.marks(), new Map([["m/a", 3n], ["m/c", 0n]]));
    assert.equal(r.depth().count, 3);
    r.close();
  });

  void it("roll back with the items when the enqueue fails, and refuse values outside 0..2^63-1", () => {
    const q = SqliteQueue.open(fresh());
    q.enqueue([item("a", 1)], { set: new Map([["m/a", 1n]]) });
    // A non-Buffer payload fails before anything is written: neither the items nor the marks change.
    assert.throws(() => q.enqueue([{ ...item("a", 2), payload: "x" as unknown as Buffer }], { set: new Map([["m/a", 2n]]) }), QueueError);
    assert.throws(() => q.enqueue([item("a", 2)], { set: new Map([["m/a", -1n]]) }), QueueError);
    assert.throws(() => q.enqueue([item("a", 2)], { set: new Map([["m/a", 1n << 63n]]) }), QueueError);
    assert.deepEqual(q.marks(), new Map([["m/a", 1n]]));
    assert.equal(q.depth().count, 1);
    q.close();
  });

  void it("a v2 queue file is upgraded in place: items, ids and drop totals kept, marks table added", () => {
    const file = fresh();
    mkdirSync(join(file, ".."), { recursive: true });
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec(V2_FILE_SQL);
    const ins = db.prepare("INSERT INTO queue (stream, topic, priority, control, enqueued_ms, payload) VALUES (?, ?, ?, ?, ?, ?)");
    ins.run("a", "otgw/v1/gw/a", 1, 1, 1000, Buffer.alloc(8, 7));
    ins.run("a", "otgw/v1/gw/a", 1, 0, 1001, Buffer.alloc(9, 8));
    db.prepare("INSERT INTO dropped (stream, count, bytes) VALUES (?, ?, ?)").run("a", 4, 400);
    db.close();

    const q = SqliteQueue.open(file, { recover: false });
    const items = q.peek(10);
    assert.deepEqual(items.map((i) => [i.id, i.control === true, i.payload.length]), [[1, true, 8], [2, false, 9]]);
    assert.deepEqual(q.dropped(), { a: { count: 4, bytes: 400 } });
    assert.deepEqual(q.marks(), new Map());
    const [id] = q.enqueue([item("a", 3)], { set: new Map([["m/a", 5n]]) });
    assert.equal(id, 3, "ids continue after the v2 file's");
    q.close();
    const check = new Database(file, { readonly: true });
    assert.equal(Number(check.pragma("user_version", { simple: true })), SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, 3);
    check.close();
    const again = SqliteQueue.open(file, { recover: false });
    assert.deepEqual(again.marks(), new Map([["m/a", 5n]]));
    assert.equal(again.depth().count, 3);
    again.close();
  });
});
