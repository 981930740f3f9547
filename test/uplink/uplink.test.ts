import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import type { RefusedEvent } from "../../firmware/uplink/mqtt-uplink.js";
import { RECEIVER, startBrokerFixture, type BrokerFixture } from "../support/broker-fixture.js";
import { SeqCollector, seqPayload } from "../support/collector.js";
import { connectClient } from "../support/mqtt-client.js";
import { LogCapture, enqueueSeq, makeUplink, once, tempQueueFile } from "../support/uplink-harness.js";

// Generous limits only so a broken run cannot hang forever; nothing asserts on speed.
const T = { timeout: 120_000 };

void describe("MqttUplink against a real mosquitto", () => {
  let fx: BrokerFixture;
  const peers: MqttClient[] = [];
  before(async () => { fx = await startBrokerFixture(["gw-a", "gw-b", "gw-c", "gw-d", "gw-e"]); });
  after(async () => {
    await Promise.all(peers.map((c) => c.endAsync(true)));
    await fx.close();
  });

  /**
   * A receiver with a persistent session (clean: false) so the broker queues for it across a restart.
   * `shared` uses the production filter; mosquitto 2.0.11 does not restore shared subscriptions from
   * its persistence file (session present, subscription gone), so the broker-restart test subscribes
   * plainly: that test is about the uplink losing nothing, not about the broker's shared groups.
   */
  async function receiver(gatewayId: string, clientId: string, shared = true): Promise<SeqCollector> {
    const rx = await connectClient(fx.broker.url, fx.tls(RECEIVER), {
      clientId, clean: false, reconnectPeriod: 100, properties: { sessionExpiryInterval: 3600 },
    });
    peers.push(rx);
    const col = new SeqCollector(rx, `otgw/v1/${gatewayId}/`);
    await rx.subscribeAsync(shared ? `$share/ingest/otgw/v1/${gatewayId}/+` : `otgw/v1/${gatewayId}/+`, { qos: 1 });
    return col;
  }

  void it("dead-letters a publish the broker refuses (PUBACK 135) and keeps its own topic flowing", T, async () => {
    // A subscriber, so the accepted publishes are delivered (PUBACK 0, not 16 No matching subscribers).
    await receiver("gw-a", "rx-refused");
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const logs = new LogCapture();
    const up = makeUplink(fx, "gw-a", queue, logs.logger);
    const [forged] = queue.enqueue([{ stream: "telemetry", topic: "otgw/v1/gw-b/telemetry", priority: 0, payload: seqPayload(1) }]);
    enqueueSeq(queue, "gw-a", 2, 10);
    const refused = once<RefusedEvent>(up, "refused");
    const drained = new Promise<void>((resolve) => up.on("published", () => { if (queue.depth().count === 0) resolve(); }));
    up.start();
    const ev = await refused;
    await drained;
    assert.deepEqual(ev, { topic: "otgw/v1/gw-b/telemetry", id: forged, reasonCode: 135, reasonText: "Not authorized" });
    const dead = queue.deadLetters();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.reason, "PUBACK 135 Not authorized");
    // mosquitto 2.0.11 closes the connection right after a PUBACK 135, so a reconnect may follow.
    const { published, refused: nRefused, inflight } = up.counters();
    assert.deepEqual({ published, refused: nRefused, inflight }, { published: 9, refused: 1, inflight: 0 });
    await up.stop();
    queue.close();
    const errorLine = logs.lines.find((l) => l.includes("refused"));
    assert.ok(errorLine && /"level":50/.test(errorLine), "refusal logged at error level");
    assert.doesNotMatch(logs.text(), /PAYLOADMARK|PRIVATE KEY/);
  });

  void it("PUBACK 16 No matching subscribers is not a delivery: the items stay queued and go out once someone subscribes", T, async () => {
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const up = makeUplink(fx, "gw-e", queue, new LogCapture().logger, { receipts: { mode: "off", gatewayId: "gw-e", keyOf: () => undefined, resendAfterMs: 300 } });
    enqueueSeq(queue, "gw-e", 1, 50);
    up.start();
    // Until every item got its PUBACK: counted as not delivered (or, wrongly, as published).
    while ((up.counters().notDelivered ?? 0) + up.counters().published < 50) await new Promise((r) => setTimeout(r, 20));
    assert.equal(queue.depth().count, 50, "the broker answered 16 for each: nothing left the queue");
    assert.equal(up.counters().published, 0);
    const rx = await receiver("gw-e", "rx-late", false);
    await rx.waitDistinct(50);
    while (queue.depth().count > 0) await new Promise((r) => setTimeout(r, 20));
    const c = up.counters();
    await up.stop();
    queue.close();
    assert.deepEqual(rx.firstArrivals(), Array.from({ length: 50 }, (_, i) => i + 1), "all 50 delivered, in order");
    assert.ok(c.resent >= 50 && c.freedByPuback === 50, JSON.stringify(c));
  });

  void it("delivers 5,000 items in order and empties the queue", T, async () => {
    const rx = await receiver("gw-b", "rx-order");
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const up = makeUplink(fx, "gw-b", queue, new LogCapture().logger);
    enqueueSeq(queue, "gw-b", 1, 5000);
    let t0 = 0n;
    up.once("connected", () => { t0 = process.hrtime.bigint(); });
    up.start();
    await rx.waitDistinct(5000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await up.stop();
    assert.deepEqual(rx.arrivals, Array.from({ length: 5000 }, (_, i) => i + 1));
    assert.deepEqual(queue.depth(), { count: 0, bytes: 0 });
    queue.close();
    console.log(`# uplink: 5000 x 256 B in ${ms.toFixed(0)} ms (${Math.round(5000 / (ms / 1000))} msg/s from CONNACK to last delivery; report only)`);
  });

  void it("loses nothing when the broker restarts mid-stream (at-least-once)", T, async () => {
    const rx = await receiver("gw-c", "rx-restart", false);
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const up = makeUplink(fx, "gw-c", queue, new LogCapture().logger);
    const N = 20_000;
    enqueueSeq(queue, "gw-c", 1, N);
    let restarted: Promise<void> | undefined;
    // Down long enough that the uplink's first reconnect attempts are refused, then back on the same port.
    const bounce = async () => {
      await fx.broker.stop();
      await new Promise((r) => setTimeout(r, 300));
      await fx.broker.restart();
    };
    up.on("published", () => {
      if (!restarted && up.counters().published >= 3000) restarted = bounce();
    });
    up.start();
    await rx.waitDistinct(N);
    await restarted;
    await up.stop();
    assert.ok(restarted, "the broker was restarted mid-stream");
    assert.ok(rx.hasAll(1, N));
    const firsts = rx.firstArrivals();
    assert.ok(firsts.every((s, i) => i === 0 || s > firsts[i - 1]!), "first arrivals keep queue order");
    assert.deepEqual(queue.depth(), { count: 0, bytes: 0 });
    assert.ok(up.counters().reconnects >= 1);
    console.log(`# broker restart: ${N} delivered, ${rx.duplicates} duplicates, ${up.counters().reconnects} reconnect(s)`);
    queue.close();
  });

  void it("sends items enqueued after start when kicked", T, async () => {
    const rx = await receiver("gw-a", "rx-kick");
    const queue = SqliteQueue.open(tempQueueFile(fx));
    // A long idle timer, so only kick() can explain a prompt delivery.
    const up = makeUplink(fx, "gw-a", queue, new LogCapture().logger, { idleMs: 3_600_000 });
    const connected = once(up, "connected");
    up.start();
    await connected;
    enqueueSeq(queue, "gw-a", 1, 100);
    up.kick();
    await rx.waitDistinct(100);
    await up.stop();
    assert.deepEqual(rx.arrivals, Array.from({ length: 100 }, (_, i) => i + 1));
    queue.close();
  });

  void it("delivers what was pending when the uplink and queue were closed", T, async () => {
    const rx = await receiver("gw-d", "rx-reopen");
    const file = tempQueueFile(fx);
    let queue = SqliteQueue.open(file);
    enqueueSeq(queue, "gw-d", 1, 3000);
    let up = makeUplink(fx, "gw-d", queue, new LogCapture().logger, { window: 16 });
    const first = once<number>(up, "published");
    up.start();
    await first;
    await up.stop(0);
    const pending = queue.depth().count;
    queue.close();
    assert.ok(pending > 0, "items were still pending at close");

    queue = SqliteQueue.open(file);
    assert.equal(queue.depth().count, pending);
    up = makeUplink(fx, "gw-d", queue, new LogCapture().logger);
    up.start();
    await rx.waitDistinct(3000);
    await up.stop();
    assert.ok(rx.hasAll(1, 3000));
    assert.deepEqual(queue.depth(), { count: 0, bytes: 0 });
    queue.close();
  });
});
