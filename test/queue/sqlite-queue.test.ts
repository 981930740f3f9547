import Database from "better-sqlite3";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { QueueError } from "../../kernel/errors.js";
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

// The same contract with the in-memory tail of recent items off, and so small that it forgets items
// on almost every commit: peeks then mix cached items and SQLite reads.
for (const hotBytes of [0, 1500]) {
  queueContract(`SqliteQueue (hotBytes ${hotBytes})`, {
    create(opts = {}) {
      const file = join(root, `q${n++}`, "queue.db");
      return { queue: SqliteQueue.open(file, { ...opts, hotBytes }), reopen: () => SqliteQueue.open(file, { ...opts, hotBytes }) };
    },
  });
}

void describe("SqliteQueue hot tail", () => {
  void it("answers every peek exactly as SQLite alone does, through random enqueues, acks, drops, dead letters and class moves", () => {
    let seed = 7;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    const open = (hotBytes: number): SqliteQueue => SqliteQueue.open(join(root, `diff${n++}`, "queue.db"), { hotBytes, maxBytes: 60_000 });
    const plain = open(0);
    const hot = open(3000);
    const streams = ["a", "b", "c", "d"];
    const prio = new Map([["a", 0], ["b", 1], ["c", 2], ["d", 2]]);
    const cursor = new Map<number, number>();
    let peeks = 0;
    let fromMemory = 0;
    for (let step = 0; step < 4000; step++) {
      const op = rnd(10);
      if (op < 4) {
        const items = Array.from({ length: 1 + rnd(40) }, () => {
          const stream = streams[rnd(streams.length)]!;
          return { stream, topic: `t/${stream}`, priority: prio.get(stream)!, control: rnd(20) === 0, payload: Buffer.alloc(20 + rnd(400), step % 251) };
        });
        assert.deepEqual(hot.enqueue(items), plain.enqueue(items));
      } else if (op < 7) {
        const limit = 1 + rnd(64);
        const c = rnd(8) === 0 ? new Map<number, number>() : cursor; // now and then: a reconnect
        const want = plain.peek(limit, c);
        const got = hot.peek(limit, c);
        assert.deepEqual(got.map((x) => [x.id, x.stream, x.priority, x.control === true, x.payload.length]), want.map((x) => [x.id, x.stream, x.priority, x.control === true, x.payload.length]));
        for (const x of got) cursor.set(x.priority, Math.max(cursor.get(x.priority) ?? 0, x.id));
        peeks++;
        if (hot.hotHeldBytes > 0) fromMemory++;
      } else if (op < 9) {
        const ids = plain.peek(1 + rnd(80)).map((x) => x.id).filter(() => rnd(3) > 0);
        if (rnd(10) === 0) ids.push(ids[0] ?? 1, 999_999); // a duplicate and an unknown id
        plain.ack(ids);
        hot.ack(ids);
      } else if (rnd(4) === 0) {
        const first = plain.peek(1)[0];
        if (first) assert.equal(hot.deadLetter(first.id, "test"), plain.deadLetter(first.id, "test"));
      } else if (rnd(30) === 0) {
        const s = streams[rnd(streams.length)]!;
        prio.set(s, rnd(3)); // the config moved a stream to another class
      }
      assert.deepEqual(hot.depth(), plain.depth());
    }
    assert.ok(peeks > 500 && fromMemory > 100, `peeks ${peeks}, with items in memory ${fromMemory}`);
    assert.deepEqual(hot.dropped(), plain.dropped());
    plain.close();
    hot.close();
  });
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

  void it("checkpoints the WAL from a worker thread while frames flow, and keeps every frame", async () => {
    const file = join(root, "ckpt", "queue.db");
    const q = SqliteQueue.open(file);
    assert.ok(q.checkpointer, "background checkpointing is the default");
    const payload = Buffer.alloc(600, 3);
    let acked = 0;
    for (let round = 0; round < 120; round++) {
      q.enqueue(Array.from({ length: 256 }, () => ({ stream: "s", topic: "t", priority: 1, payload })));
      const ids = q.peek(256).map((x) => x.id);
      q.ack(ids.slice(0, 200)); // a backlog builds up: 56 per round stay
      acked += 200;
      await new Promise((r) => setImmediate(r)); // the gateway's thread yields between commits
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(q.checkpointer.lastError, null);
    assert.ok(q.checkpointer.done >= 10, `worker checkpoints: ${q.checkpointer.done}`);
    // The WAL stays bounded: the file is truncated back to journal_size_limit (4 MiB) whenever it grew past it.
    const walBytes = statSync(`${file}-wal`).size;
    assert.ok(walBytes <= 4 * 2 ** 20 + 512 * 1024, `WAL file ${walBytes} bytes`);
    const depth = q.depth().count;
    assert.equal(depth, 120 * 256 - acked);
    q.close();
    const again = SqliteQueue.open(file);
    assert.equal(again.depth().count, depth);
    assert.equal(again.peek(100_000).length, depth);
    again.close();
  });
});
