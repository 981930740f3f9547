import assert from "node:assert/strict";
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { NewQueueItem } from "../../firmware/queue/queue.js";
import { integrityProblem } from "../../firmware/queue/salvage.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";

const root = mkdtempSync(join(tmpdir(), "otgw-corrupt-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const item = (i: number, stream: string): NewQueueItem => ({ stream, topic: `otgw/v1/gw/${stream}`, priority: stream === "alarm" ? 0 : 2, payload: Buffer.alloc(200, i % 251) });

/** A closed queue file holding `count` (default 3000) items of two streams; returns the file and the ids by payload marker. */
function filled(count = 3000): { file: string; ids: number[] } {
  const file = join(root, `q${n++}`, "queue.db");
  const q = SqliteQueue.open(file);
  const ids: number[] = [];
  for (let b = 0; b < count; b += 100) ids.push(...q.enqueue(Array.from({ length: Math.min(100, count - b) }, (_, k) => item(b + k, k % 10 === 0 ? "alarm" : "telemetry"))));
  q.close(); // checkpoints the WAL into the file
  assert.equal(existsSync(`${file}-wal`), false);
  return { file, ids };
}

function checkSalvage(q: SqliteQueue, ids: number[]): number[] {
  const got = q.peek(10_000);
  const byId = new Map(ids.map((id, i) => [id, i]));
  for (const g of got) {
    const i = byId.get(g.id);
    assert.ok(i !== undefined, `salvaged id ${g.id} was never enqueued`);
    assert.deepEqual(g.payload, item(i, g.stream).payload, `item ${g.id} comes back intact`);
  }
  for (const s of ["alarm", "telemetry"]) {
    const sids = got.filter((g) => g.stream === s).map((g) => g.id);
    assert.deepEqual(sids, [...sids].sort((a, b) => a - b), `${s} stays in order`);
  }
  return got.map((g) => g.id);
}

void describe("corrupted or truncated queue file at start-up", () => {
  void it("pages overwritten in the middle: detected, moved aside, every readable item recovered with its id", () => {
    const { file, ids } = filled();
    const size = statSync(file).size;
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    assert.notEqual(integrityProblem(file), null, "quick_check sees the damage");
    const q = SqliteQueue.open(file);
    const r = q.recovery;
    assert.ok(r, "recovery reported");
    assert.ok(existsSync(r.movedTo), "damaged file kept for analysis");
    assert.ok(r.salvaged > ids.length / 2 && r.salvaged < ids.length, `salvaged ${r.salvaged} of ${ids.length}`);
    const got = checkSalvage(q, ids);
    assert.equal(got.length, r.salvaged);
    assert.equal(q.depth().count, r.salvaged);
    const [next] = q.enqueue([item(0, "telemetry")]);
    assert.ok(next! > ids[ids.length - 1]!, "ids are never reused after a recovery");
    q.close();
    assert.equal(integrityProblem(file), null, "the new file is sound");
  });

  void it("file truncated to 60%: detected, the rest recovered", () => {
    const { file, ids } = filled();
    truncateSync(file, Math.floor((statSync(file).size * 0.6) / 4096) * 4096);
    const q = SqliteQueue.open(file);
    const r = q.recovery;
    assert.ok(r, "recovery reported");
    assert.match(r.problem, /.+/);
    assert.ok(r.salvaged > 0 && r.salvaged < ids.length, `salvaged ${r.salvaged} of ${ids.length}`);
    checkSalvage(q, ids);
    q.close();
  });

  void it("file truncated to 60%: unreadable is exactly the number of items lost, none counted past the last id", () => {
    const { file, ids } = filled();
    truncateSync(file, Math.floor((statSync(file).size * 0.6) / 4096) * 4096);
    const q = SqliteQueue.open(file);
    const r = q.recovery;
    assert.ok(r, "recovery reported");
    // The file's counter still reads, so the end is known: salvaged + unreadable is every item.
    assert.equal(r.unreadable, ids.length - r.salvaged, `salvaged ${r.salvaged}, unreadable ${r.unreadable}, enqueued ${ids.length}`);
    assert.equal(r.tailLost, false);
    q.close();
  });

  void it("1,788 items, file cut to 5,000 bytes: unreadable stays within what existed, and the unknown tail is reported", () => {
    const { file, ids } = filled(1788);
    truncateSync(file, 5000);
    const q = SqliteQueue.open(file);
    const r = q.recovery;
    assert.ok(r, "recovery reported");
    // Only the first page survives: no row, no counter, no max(id). Nothing tells how many items the
    // file held, so none is counted (it used to say 65,536: ids never assigned) and tailLost says so.
    assert.equal(r.salvaged, 0);
    assert.ok(r.unreadable <= ids.length, `unreadable ${r.unreadable} <= ${ids.length}`);
    assert.equal(r.unreadable, 0);
    assert.equal(r.tailLost, true);
    const [next] = q.enqueue([item(0, "telemetry")]);
    assert.ok(next! > ids[ids.length - 1]!, "ids are never reused, not even after an unknown end");
    q.close();
  });

  void it("not a database at all: moved aside, reported, an empty queue that works", () => {
    const file = join(root, `q${n++}`, "queue.db");
    const q0 = SqliteQueue.open(file);
    q0.close();
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    const q = SqliteQueue.open(file);
    assert.ok(q.recovery && q.recovery.salvaged === 0);
    assert.ok(existsSync(q.recovery.movedTo));
    assert.equal(q.enqueue([item(1, "telemetry")]).length, 1);
    q.close();
  });

  void it("a sound file is not touched", () => {
    const { file, ids } = filled();
    const q = SqliteQueue.open(file);
    assert.equal(q.recovery, null);
    assert.equal(q.depth().count, ids.length);
    q.close();
  });
});
