import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { QueueError } from "../../firmware/core/errors.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { queueContract } from "./queue-contract.js";

const root = mkdtempSync(join(tmpdir(), "otgw-queue-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

queueContract("SqliteQueue", {
  create(opts = {}) {
    const file = join(root, `q${n++}`, "queue.db");
    return { queue: SqliteQueue.open(file, opts), reopen: () => SqliteQueue.open(file, opts) };
  },
});

void describe("SqliteQueue specifics", () => {
  void it("with recover: false, refuses a file that is not a queue database, naming the file", () => {
    const file = join(root, "garbage.db");
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    assert.throws(() => SqliteQueue.open(file, { recover: false }), (err: unknown) => {
      assert.ok(err instanceof QueueError);
      assert.equal(err.code, "QUEUE_OPEN");
      assert.match(err.message, /garbage\.db/);
      return true;
    });
  });

  void it("with recover: false, refuses a truncated database file, naming the file", () => {
    const file = join(root, "trunc", "queue.db");
    const q = SqliteQueue.open(file);
    q.enqueue([{ stream: "s", topic: "t", priority: 0, payload: Buffer.alloc(10) }]);
    q.close();
    // A valid SQLite header followed by garbage: the header parses, the schema page does not.
    const header = Buffer.from("SQLite format 3\0", "latin1");
    writeFileSync(file, Buffer.concat([header, Buffer.alloc(4096 - header.length, 0xff)]));
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    assert.throws(() => SqliteQueue.open(file, { recover: false }), (err: unknown) => err instanceof QueueError && err.message.includes(file));
  });

  void it("uses WAL with synchronous=NORMAL", () => {
    const file = join(root, "wal", "queue.db");
    const q = SqliteQueue.open(file);
    // WAL is persistent in the file, so a raw connection sees it; synchronous is per connection.
    const raw = new Database(file, { readonly: true });
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    raw.close();
    q.close();
  });
});
