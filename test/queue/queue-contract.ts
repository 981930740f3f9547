import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NewQueueItem, Queue } from "../../firmware/queue/queue.js";

/** Opens a queue for one test; `reopen` must open the same store again after `close()`. */
export interface QueueFactory {
  /** A fresh, empty queue and a way to reopen the same store. */
  create: () => { queue: Queue; reopen: () => Queue };
}

function item(n: number, size = 16, stream = "telemetry"): NewQueueItem {
  return { stream, topic: `otgw/v1/gw-a/${stream}`, priority: 0, payload: Buffer.alloc(size, n % 256) };
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
  });
}
