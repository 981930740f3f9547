import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { silentLogger } from "../../kernel/log.js";
import { buildTlsOptions } from "../../kernel/tls.js";
import { partitionOf } from "../../envelope/format.js";
import { openIdentity } from "../../provisioning/identity.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import { newStack, SIM_EXAMPLE, waitFor } from "./harness.js";

const P = 8;

void test("partitioned topics: a gateway with uplink.partitions publishes on otgw/v2/{p}/…, a receiver with the fleet's P verifies all; another partition is refused (GATEWAY_MISMATCH), another gateway's topic by the ACL", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger(), "rp", { partitions: P });
  await service.start();
  const id = "gw-part-1";
  const p = partitionOf(id, P);
  const cfg = await stack.addGateway(id, SIM_EXAMPLE(), (c) => {
    (c.uplink as Record<string, unknown>).partitions = P;
    for (const s of c.sources as Array<Record<string, unknown>>) s.rateHz = 200;
  });
  const seen = new Map<string, Buffer>();
  // A spy with the receiver's identity: what travels where.
  const spy = await mqtt.connectAsync(stack.broker.url, { protocolVersion: 5, clientId: "spy", reconnectPeriod: 0, ca: readFileSync(stack.pki.caCert), cert: readFileSync(stack.pki.receiver.cert), key: readFileSync(stack.pki.receiver.key) });
  await spy.subscribeAsync(["otgw/v1/#", "otgw/v2/#"], { qos: 0 });
  spy.on("message", (topic, payload) => { if (!seen.has(topic)) seen.set(topic, Buffer.from(payload)); });
  const { gateway, limitReached } = await createGateway({ config: cfg, logger: silentLogger(), maxRecords: 1000 });
  let gwClient: mqtt.MqttClient | undefined;
  try {
    await gateway.start();
    await limitReached;
    await gateway.stop(60_000);
    const published = gateway.stats.publishedData;
    await waitFor(() => store.counts().verified >= published, "the receiver to verify every published message");
    const c = store.counts();
    assert.equal(c.verified, published);
    assert.equal(c.quarantined, 0, JSON.stringify(c.byReason));
    const topics = [...seen.keys()];
    assert.ok(topics.length >= 2, `topics seen: ${topics.join(", ")}`);
    for (const t of topics) assert.match(t, new RegExp(`^otgw/v2/${p}/${id}/[A-Za-z0-9._-]+$`), "every frame on the gateway's partition topic");

    // The gateway's own credentials: its ACL lets it write under any partition of its own id, so the
    // receiver is what refuses a frame on a partition that is not the gateway's.
    const ident = await openIdentity(cfg.config);
    gwClient = await mqtt.connectAsync(stack.broker.url, { protocolVersion: 5, clientId: "gw-part-1-x", reconnectPeriod: 0, ...buildTlsOptions(ident.tls) });
    const [firstTopic, frame] = [...seen.entries()][0]!;
    const stream = firstTopic.split("/")[4]!;
    const wrong = (p + 1) % P;
    await gwClient.publishAsync(`otgw/v2/${wrong}/${id}/${stream}`, frame, { qos: 1 });
    await waitFor(() => (store.counts().byReason.GATEWAY_MISMATCH ?? 0) >= 1, "GATEWAY_MISMATCH");
    // Another gateway's partitioned topic: the broker refuses (MQTT v5 PUBACK 135).
    await assert.rejects(gwClient.publishAsync(`otgw/v2/${partitionOf("gw-other", P)}/gw-other/${stream}`, frame, { qos: 1 }), (err: Error & { code?: number }) => err.code === 135);
    assert.equal(store.counts().verified, published, "nothing more accepted");
  } finally {
    await gwClient?.endAsync(true).catch(() => undefined);
    await spy.endAsync(true);
    await service.stop();
    store.close();
    await stack.stop();
  }
});
