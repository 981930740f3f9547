import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { MqttClient } from "mqtt";
import { silentLogger } from "../../kernel/log.js";
import { SqliteQueue } from "../../firmware/queue/sqlite-queue.js";
import { ALT_SUFFIX } from "../../firmware/uplink/mqtt-uplink.js";
import { caFromPem, createCa, gatewayUri, issueCertificate } from "../../fleet/ca/pki.js";
import { RECEIVER, startBrokerFixture, type BrokerFixture, type ClientTls } from "../support/broker-fixture.js";
import { SeqCollector } from "../support/collector.js";
import { connectClient } from "../support/mqtt-client.js";
import { enqueueSeq, makeUplink, tempQueueFile } from "../support/uplink-harness.js";
import { until } from "../../devkit/until.js";

const T = { timeout: 180_000 };

/** A fresh key and certificate for `gatewayId` from `ca` (a renewal/rotation as the uplink sees it). */
async function newIdentity(fx: BrokerFixture, gatewayId: string, ca = caFromPem(readFileSync(fx.pki.caCert, "utf8"), readFileSync(fx.pki.caKey, "utf8"))): Promise<ClientTls> {
  const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const c = await issueCertificate({ ca, commonName: gatewayId, publicKey: k.publicKey, days: 1, usage: "client", sanUris: [gatewayUri(gatewayId)] });
  return { ca: readFileSync(fx.pki.caCert, "utf8"), cert: c.certPem, key: k.privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

void describe("MqttUplink.switchTo: make-before-break to a new identity (real mosquitto)", () => {
  let fx: BrokerFixture;
  let rx: MqttClient;
  before(async () => {
    fx = await startBrokerFixture(["gw-s"]);
    rx = await connectClient(fx.broker.url, fx.tls(RECEIVER), { clientId: "rx-switch" });
  });
  after(async () => {
    await rx?.endAsync(true);
    await fx?.close();
  });

  void it("switches six times under load: every item once, in order, no reconnect", T, async () => {
    const col = new SeqCollector(rx, "otgw/v1/gw-s/");
    await rx.subscribeAsync("otgw/v1/gw-s/+", { qos: 1 });
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const uplink = makeUplink(fx, "gw-s", queue, silentLogger());
    const ids: string[] = [];
    const inflightAtSwitch: number[] = [];
    try {
      uplink.start();
      await until("connected", () => uplink.isConnected());
      const total = 30_000;
      for (let round = 0; round < 6; round++) {
        enqueueSeq(queue, "gw-s", round * 5000 + 1, (round + 1) * 5000);
        uplink.kick();
        // Switch while that batch is being published: items are in flight on the old connection.
        await until("publishing", () => uplink.counters().inflight > 0 || queue.depth().count === 0);
        const next = await newIdentity(fx, "gw-s");
        inflightAtSwitch.push(uplink.counters().inflight);
        const r = await uplink.switchTo(next);
        assert.equal(r.madeBeforeBreak, true);
        ids.push(r.clientId);
      }
      await col.waitDistinct(total);
      await until("queue empty", () => queue.depth().count === 0);
      assert.equal(col.duplicates, 0, "the old connection drained before the switch: nothing sent twice");
      const first = col.firstArrivals();
      assert.deepEqual(first, [...first].sort((a, b) => a - b), "order kept across switches");
      assert.equal(uplink.counters().reconnects, 0, "no connection broke before its successor was up");
      assert.equal(uplink.counters().switches, 6);
      assert.ok(inflightAtSwitch.some((n) => n > 0), `some switch had publishes in flight to drain: ${inflightAtSwitch.join(",")}`);
      assert.deepEqual(ids, ["gw-s" + ALT_SUFFIX, "gw-s", "gw-s" + ALT_SUFFIX, "gw-s", "gw-s" + ALT_SUFFIX, "gw-s"], "client ids alternate");
    } finally {
      await uplink.stop();
      queue.close();
    }
  });

  void it("a new identity the broker refuses changes nothing: the old connection keeps publishing", T, async () => {
    const col = new SeqCollector(rx, "otgw/v1/gw-s/");
    const queue = SqliteQueue.open(tempQueueFile(fx));
    const uplink = makeUplink(fx, "gw-s", queue, silentLogger());
    try {
      uplink.start();
      await until("connected", () => uplink.isConnected());
      // A certificate from a CA the broker does not trust: the handshake of the new connection fails.
      const rogue = await newIdentity(fx, "gw-s", await createCa({ commonName: "not the fleet CA", days: 1 }));
      await assert.rejects(uplink.switchTo(rogue), /new identity's connection failed/);
      assert.equal(uplink.isConnected(), true);
      assert.equal(uplink.counters().switches, 0);
      enqueueSeq(queue, "gw-s", 900_001, 901_000);
      uplink.kick();
      await until("delivered on the old connection", () => col.hasAll(900_001, 901_000));
      assert.equal(uplink.counters().reconnects, 0);
    } finally {
      await uplink.stop();
      queue.close();
    }
  });
});
