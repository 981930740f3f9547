import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DropReport, NewQueueItem, Queue } from "../../firmware/queue/queue.js";

/** Options a test may ask of a fresh queue. */
export interface QueueTestOptions {
  /** Byte bound on waiting payloads. */
  maxBytes?: number;
  /** Drop listener. */
  onDrop?: (reports: DropReport[]) => void;
}

/** Opens a queue for one test; `reopen` must open the same store again after `close()`. */
export interface QueueFactory {
  /** A fresh, empty queue and a way to reopen the same store. */
  create: (opts?: QueueTestOptions) => { queue: Queue; reopen: () => Queue };
}

function item(n: number, size = 16, stream = "telemetry", priority = 0, control = false): NewQueueItem {
  const it: NewQueueItem = { stream, topic: `otgw/v1/gw-a/${stream}`, priority, payload: Buffer.alloc(size, n % 256) };
  if (control) it.control = true;
  return it;
}

/** The behaviour every Queue implementation must have. */
export function queueContract(name: string, factory: QueueFactory): void {
  void describe(`Queue contract: ${name}`, () => {
    void it("starts empty", () => {
      const { queue } = factory.create();
      assert.deepEqual(queue.depth(), { count: 0, bytes: 0 });
      assert.deepEqual(queue.peek(10), []);
      queue.close();
    });

    void it("enqueues a batch with increasing ids and peeks in id order", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue([item(1), item(2), item(3)]);
      assert.equal(ids.length, 3);
      assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
      const got = queue.peek(10);
      assert.deepEqual(got.map((g) => g.id), ids);
      assert.deepEqual(got.map((g) => g.payload[0]), [1, 2, 3]);
      assert.equal(got[0]!.topic, "otgw/v1/gw-a/telemetry");
      assert.equal(got[0]!.stream, "telemetry");
      assert.equal(got[0]!.priority, 0);
      queue.close();
    });

    void it("peek honours limit and afterId and does not remove", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue(Array.from({ length: 10 }, (_, i) => item(i)));
      assert.deepEqual(queue.peek(3).map((g) => g.id), ids.slice(0, 3));
      assert.deepEqual(queue.peek(3, ids[2]).map((g) => g.id), ids.slice(3, 6));
      assert.deepEqual(queue.peek(100, ids[8]).map((g) => g.id), ids.slice(9));
      assert.equal(queue.depth().count, 10);
      queue.close();
    });

    void it("acks a middle id and keeps the order of the rest", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue([item(1), item(2), item(3)]);
      queue.ack([ids[1]!]);
      assert.deepEqual(queue.peek(10).map((g) => g.id), [ids[0], ids[2]]);
      queue.ack([ids[1]!, 999_999]); // already acked and unknown ids are ignored
      assert.equal(queue.depth().count, 2);
      queue.close();
    });

    void it("accounts bytes across enqueue, ack and dead-letter", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue([item(1, 100), item(2, 200), item(3, 300)]);
      assert.deepEqual(queue.depth(), { count: 3, bytes: 600 });
      queue.ack([ids[0]!]);
      assert.deepEqual(queue.depth(), { count: 2, bytes: 500 });
      assert.equal(queue.deadLetter(ids[2]!, "PUBACK 135 Not authorized"), true);
      assert.deepEqual(queue.depth(), { count: 1, bytes: 200 });
      queue.close();
    });

    void it("dead-letters with the reason and unblocks the items behind", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue([item(1), item(2)]);
      assert.equal(queue.deadLetter(ids[0]!, "PUBACK 135 Not authorized"), true);
      assert.equal(queue.deadLetter(ids[0]!, "again"), false);
      assert.deepEqual(queue.peek(10).map((g) => g.id), [ids[1]]);
      const dead = queue.deadLetters();
      assert.equal(dead.length, 1);
      assert.equal(dead[0]!.id, ids[0]);
      assert.equal(dead[0]!.reason, "PUBACK 135 Not authorized");
      assert.deepEqual(dead[0]!.payload, item(1).payload);
      queue.close();
    });

    void it("never reuses an id after the queue drains", () => {
      const { queue, reopen } = factory.create();
      const [a] = queue.enqueue([item(1)]);
      queue.ack([a!]);
      const [b] = queue.enqueue([item(2)]);
      assert.ok(b! > a!);
      queue.ack([b!]);
      queue.close();
      const q2 = reopen();
      const [c] = q2.enqueue([item(3)]);
      assert.ok(c! > b!);
      q2.close();
    });

    void it("resumes exactly where it left off after close and reopen", () => {
      const { queue, reopen } = factory.create();
      const ids = queue.enqueue(Array.from({ length: 5 }, (_, i) => item(i, 10)));
      queue.peek(5); // peeked but not acked: must come back
      queue.ack([ids[0]!, ids[1]!]);
      queue.close();
      const q2 = reopen();
      assert.deepEqual(q2.peek(10).map((g) => g.id), ids.slice(2));
      assert.deepEqual(q2.depth(), { count: 3, bytes: 30 });
      q2.close();
    });

    void it("throws a QueueError after close", () => {
      const { queue } = factory.create();
      queue.close();
      queue.close(); // idempotent
      assert.throws(() => queue.enqueue([item(1)]), { name: "QueueError", code: "QUEUE_CLOSED" });
      assert.throws(() => queue.peek(1), { name: "QueueError" });
    });

    void it("keeps a large batch whole (group commit)", () => {
      const { queue } = factory.create();
      const ids = queue.enqueue(Array.from({ length: 5000 }, (_, i) => item(i, 8)));
      assert.equal(ids.length, 5000);
      assert.deepEqual(queue.depth(), { count: 5000, bytes: 40_000 });
      queue.ack(ids);
      assert.deepEqual(queue.depth(), { count: 0, bytes: 0 });
      queue.close();
    });

    void it("sends more urgent classes first (smaller priority), id order inside each class", () => {
      const { queue } = factory.create();
      const bulk = queue.enqueue([item(1, 8, "bulk", 5), item(2, 8, "bulk", 5)]);
      const tele = queue.enqueue([item(3, 8, "tele", 2)]);
      const alarm = queue.enqueue([item(4, 8, "alarm", 0), item(5, 8, "alarm", 0)]);
      const more = queue.enqueue([item(6, 8, "tele", 2)]);
      assert.deepEqual(queue.peek(10).map((g) => g.id), [...alarm, ...tele, ...more, ...bulk]);
      // A per-class cursor resumes each class where the reader left it.
      const cursor = new Map([[0, alarm[1]!], [2, tele[0]!]]);
      assert.deepEqual(queue.peek(10, cursor).map((g) => g.id), [...more, ...bulk]);
      assert.deepEqual(queue.peek(2).map((g) => g.stream), ["alarm", "alarm"]);
      queue.close();
    });

    void it("keeps a stream in order when its priority changes between runs", () => {
      const { queue, reopen } = factory.create();
      const old = queue.enqueue([item(1, 8, "s", 5), item(2, 8, "s", 5)]);
      queue.enqueue([item(3, 8, "other", 3)]);
      queue.close();
      const q2 = reopen();
      const now = q2.enqueue([item(4, 8, "s", 1)]);
      assert.deepEqual(q2.peek(10).filter((g) => g.stream === "s").map((g) => g.id), [...old, ...now]);
      assert.equal(q2.peek(1)[0]!.stream, "s");
      q2.close();
    });

    void it("stays within its byte bound by dropping the least urgent, oldest data first, counted by stream", () => {
      const reports: DropReport[] = [];
      const { queue, reopen } = factory.create({ maxBytes: 1000, onDrop: (r) => reports.push(...r) });
      const open = queue.enqueue([item(0, 100, "bulk", 5, true)]); // a session-open: never dropped
      const bulk = queue.enqueue(Array.from({ length: 5 }, (_, i) => item(i, 100, "bulk", 5)));
      const tele = queue.enqueue(Array.from({ length: 3 }, (_, i) => item(i, 100, "tele", 2)));
      assert.deepEqual(queue.depth(), { count: 9, bytes: 900 });
      const alarm = queue.enqueue(Array.from({ length: 3 }, (_, i) => item(i, 100, "alarm", 0)));
      assert.ok(queue.depth().bytes <= 1000, `depth ${queue.depth().bytes}`);
      assert.deepEqual(reports.map((r) => [r.stream, r.reason, r.count, r.bytes]), [["bulk", "bound", 2, 200]]);
      assert.deepEqual(reports[0]!.ids, bulk.slice(0, 2));
      const ids = queue.peek(100).map((g) => g.id);
      assert.deepEqual(ids, [...alarm, ...tele, ...open, ...bulk.slice(2)]);
      // More urgent data keeps coming: all bulk data goes, then telemetry, never the control frame.
      queue.enqueue(Array.from({ length: 5 }, (_, i) => item(i, 100, "alarm", 0)));
      const left = queue.peek(100);
      assert.ok(left.some((g) => g.id === open[0]), "control frame kept");
      assert.equal(left.filter((g) => g.stream === "bulk" && !g.control).length, 0);
      assert.deepEqual(queue.dropped(), { bulk: { count: 5, bytes: 500 }, tele: { count: 2, bytes: 200 } });
      queue.close();
      const q2 = reopen();
      assert.deepEqual(q2.dropped(), { bulk: { count: 5, bytes: 500 }, tele: { count: 2, bytes: 200 } }, "drop totals survive a restart");
      q2.close();
    });

    void it("drops the newest item itself when it is the least urgent and oldest of its class is gone", () => {
      const reports: DropReport[] = [];
      const { queue } = factory.create({ maxBytes: 300, onDrop: (r) => reports.push(...r) });
      queue.enqueue([item(1, 100, "alarm", 0), item(2, 100, "alarm", 0), item(3, 100, "alarm", 0)]);
      const [bulk] = queue.enqueue([item(4, 100, "bulk", 9)]);
      assert.deepEqual(reports.map((r) => r.ids), [[bulk]]);
      assert.deepEqual(queue.peek(10).map((g) => g.stream), ["alarm", "alarm", "alarm"]);
      queue.close();
    });
  });
}
