import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { join } from "node:path";
import { existsSync, rmSync } from "node:fs";
import { QueueError } from "../../kernel/errors.js";
import type { DropReport, NewQueueItem } from "../../firmware/queue/queue.js";
import { integrityProblem } from "../../firmware/queue/salvage.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { fillDisk, freeBytes, mountSmallFs } from "./fs.js";

const frame = randomBytes(480);
const batch = (stream: string, priority: number, n: number): NewQueueItem[] => Array.from({ length: n }, () => ({ stream, topic: `otgw/v1/gw/${stream}`, priority, payload: frame }));

void test("queue on a full disk: drops by policy (least urgent, oldest), stays consistent, recovers when space returns", () => {
  const fs = mountSmallFs("8m");
  let q: SqliteQueue | undefined;
  try {
    const file = join(fs.dir, "queue.db");
    const drops: DropReport[] = [];
    const violations: string[] = [];
    q = SqliteQueue.open(file, {
      reserveBytes: 256 * 1024, minFreeBytes: 2 * 1024 * 1024,
      onDrop: (r) => {
        drops.push(...r);
        // Policy: an alarm may only go when no bulk data is left to drop instead.
        const bulkLeft = q?.peek(100_000).filter((w) => w.stream === "bulk").length ?? 0;
        if (r.some((d) => d.stream === "alarm") && bulkLeft > 0) violations.push(`alarm dropped while ${bulkLeft} bulk frames waited`);
      },
    });
    let fullErrors = 0;
    const alarms: number[] = [];
    // ~30 MB offered to an 8 MB filesystem: bulk fills it, a trickle of alarms keeps arriving.
    for (let round = 0; round < 250; round++) {
      try {
        q.enqueue(batch("bulk", 5, 240));
        alarms.push(...q.enqueue(batch("alarm", 0, 10)));
      } catch (err) {
        assert.ok(err instanceof QueueError && err.code === "QUEUE_FULL", `only QUEUE_FULL may surface, got ${String(err)}`);
        assert.match(err.message, /queue\.db/);
        fullErrors++;
      }
    }
    assert.ok(freeBytes(fs.dir) < 3 * 1024 * 1024, "the filesystem really filled up");
    const diskFull = drops.filter((d) => d.reason === "disk-full");
    assert.ok(diskFull.length > 0, "drops were made for the full disk");
    assert.deepEqual(violations, []);
    const bulkDropped = diskFull.filter((d) => d.stream === "bulk").reduce((n, d) => n + d.count, 0);
    const alarmDropped = new Set(diskFull.filter((d) => d.stream === "alarm").flatMap((d) => d.ids));
    assert.ok(bulkDropped > 20 * alarmDropped.size, `bulk goes first (${bulkDropped} bulk, ${alarmDropped.size} alarms dropped)`);
    const waiting = q.peek(100_000);
    assert.deepEqual(waiting.filter((w) => w.stream === "alarm").map((w) => w.id), alarms.filter((id) => !alarmDropped.has(id)), "every alarm not dropped is still queued, in order");
    const bulkIds = waiting.filter((w) => w.stream === "bulk").map((w) => w.id);
    assert.deepEqual(bulkIds, [...bulkIds].sort((a, b) => a - b));
    const dropped = q.dropped();
    assert.equal((dropped.bulk?.count ?? 0) + (dropped.alarm?.count ?? 0), drops.reduce((n, d) => n + d.count, 0), "persisted totals match the reports");
    assert.equal(q.depth().count, waiting.length);

    // Something else fills the disk to the last byte: SQLite itself now hits SQLITE_FULL. Acks (the
    // deletes that make room) must still commit, and new alarms still get in by pushing out bulk.
    const filler = fillDisk(fs.dir);
    assert.equal(freeBytes(fs.dir), 0, "the filler took every free block");
    const head = q.peek(300);
    q.ack(head.map((h) => h.id));
    const ackedIds = new Set(head.map((h) => h.id));
    assert.equal(q.peek(100_000).filter((w) => ackedIds.has(w.id)).length, 0, "acks committed on a full disk");
    const bulkBefore = (q.dropped().bulk?.count ?? 0);
    let fullOnFullDisk = 0;
    for (let i = 0; i < 40; i++) {
      try {
        alarms.push(...q.enqueue(batch("alarm", 0, 10)));
        q.enqueue(batch("bulk", 5, 50));
      } catch (err) {
        assert.ok(err instanceof QueueError && err.code === "QUEUE_FULL", `only QUEUE_FULL may surface, got ${String(err)}`);
        assert.match(err.message, /free space on/);
        fullOnFullDisk++;
      }
    }
    assert.ok((q.dropped().bulk?.count ?? 0) > bulkBefore, "bulk made room for alarms on the full disk");
    const reserveReleased = !existsSync(`${file}.reserve`);
    assert.deepEqual(violations, []);
    rmSync(filler);

    // Space returns (the uplink delivers): everything drains and new items are stored again, no drops.
    for (;;) {
      const got = q.peek(500);
      if (got.length === 0) break;
      q.ack(got.map((g) => g.id));
    }
    const before = drops.length;
    for (let i = 0; i < 5; i++) q.enqueue(batch("bulk", 5, 200));
    assert.equal(drops.length, before, "no drops once space is back");
    assert.equal(q.depth().count, 1000);
    q.close();
    assert.equal(integrityProblem(file), null, "no corruption");
    q = SqliteQueue.open(file);
    assert.equal(q.depth().count, 1000);
    assert.equal(q.recovery, null);
    q.close();
    assert.ok(existsSync(`${file}.reserve`), "the reserve is back once space returned");
    console.log(`disk-full queue: ${fullErrors} QUEUE_FULL below the margin, ${fullOnFullDisk} on the filled disk (reserve released: ${reserveReleased}); ${diskFull.reduce((n, d) => n + d.count, 0)} frames dropped for the full disk, then ${drops.length} drop reports in all`);
  } finally {
    q?.close();
    fs.unmount();
  }
});
