import { test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { silentLogger } from "../../kernel/log.js";
import { systemClock } from "../../kernel/clock.js";
import { openIdentity } from "../../provisioning/identity.js";
import { buildTlsOptions } from "../../kernel/tls.js";
import { SessionSealer } from "../../envelope/sealer.js";
import { newStack, SIM_EXAMPLE, waitFor } from "./harness.js";

void test("a second gateway with its own valid certificate cannot get anything accepted under A's name", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger());
  await service.start();
  await stack.addGateway("gw-a", SIM_EXAMPLE());
  const b = await stack.addGateway("gw-b", SIM_EXAMPLE());
  const idB = await openIdentity(b.config);
  const connect = (): Promise<mqtt.MqttClient> =>
    mqtt.connectAsync(stack.broker.url, { protocolVersion: 5, clientId: "forger", reconnectPeriod: 0, ...buildTlsOptions(idB.tls) });
  let client = await connect();
  try {
    const recipientPublicKey = createPublicKey(readFileSync(stack.receiverKeys.publicKeyFile, "utf8"));
    const forged = await SessionSealer.open({
      gatewayId: "gw-a", stream: "telemetry", signer: idB.signer, certDer: Buffer.from(new X509Certificate(idB.tls.cert).raw),
      recipientPublicKey, clock: systemClock, checkpointEveryMessages: 10, checkpointEveryMs: 60_000,
    });
    const data = forged.seal(Buffer.from('{"forged":true}'), "otgw.reading/1", systemClock.nowNs());
    const cp = await forged.checkpoint(true);

    // 1. Into A's topics: the broker's ACL refuses, and under MQTT v5 says so (PUBACK 135).
    await assert.rejects(client.publishAsync("otgw/v1/gw-a/telemetry", forged.openFrame, { qos: 1 }), (err: Error & { code?: number }) => err.code === 135);
    // mosquitto 2.0 closes the connection after a refused PUBACK; come back on a new one.
    await client.endAsync(true);
    client = await connect();

    // 2. On B's own topic, claiming to be A: the receiver refuses every frame.
    for (const f of [forged.openFrame, data, cp]) await client.publishAsync("otgw/v1/gw-b/telemetry", f, { qos: 1 });

    // 3. Claiming to be B but presenting A's identity is impossible without A's key: B's signature under
    //    a session-open naming gw-b, relabelled on the wire as gw-a, fails the signature check.
    const honestB = await SessionSealer.open({
      gatewayId: "gw-b", stream: "telemetry", signer: idB.signer, certDer: Buffer.from(new X509Certificate(idB.tls.cert).raw),
      recipientPublicKey, clock: systemClock, checkpointEveryMessages: 10, checkpointEveryMs: 60_000,
    });
    const relabelled = Buffer.from(honestB.openFrame);
    const idAt = relabelled.indexOf(Buffer.from("gw-b"));
    relabelled.write("gw-a", idAt);
    await client.publishAsync("otgw/v1/gw-b/telemetry", relabelled, { qos: 1 });

    await waitFor(() => store.counts().quarantined >= 4, "receiver to quarantine the forged frames");
    const c = store.counts();
    assert.equal(c.verified, 0, "nothing forged was accepted");
    const reasons = Object.keys(c.byReason);
    assert.ok(reasons.includes("GATEWAY_MISMATCH"), `reasons: ${JSON.stringify(c.byReason)}`);
    for (const r of reasons) assert.ok(["GATEWAY_MISMATCH", "UNKNOWN_SESSION", "BAD_SIGNATURE"].includes(r), `unexpected reason ${r}`);
  } finally {
    await client.endAsync();
    await service.stop();
    store.close();
    await stack.stop();
  }
});
