import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import type { MqttClient } from "mqtt";
import type { IPubackPacket } from "mqtt-packet";
import { renderAcl, renderMosquittoConfig, startMosquitto } from "../../devkit/broker/mosquitto.js";
import { RECEIVER, startBrokerFixture, type BrokerFixture } from "../support/broker-fixture.js";
import { connectClient } from "../support/mqtt-client.js";

void describe("mosquitto, locked down (real broker)", () => {
  let fx: BrokerFixture;
  const clients: MqttClient[] = [];
  before(async () => { fx = await startBrokerFixture(); });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await fx.close();
  });
  const client = async (identity: string) => {
    const c = await connectClient(fx.broker.url, fx.tls(identity), { clientId: `${identity}-${clients.length}` });
    clients.push(c);
    return c;
  };

  void it("renders the config the tests run with", () => {
    const conf = renderMosquittoConfig({ port: 8883, caFile: "ca", certFile: "c", keyFile: "k", aclFile: "a", dataDir: "/d" });
    for (const line of ["listener 8883 127.0.0.1", "require_certificate true", "use_identity_as_username true", "tls_version tlsv1.3", "allow_anonymous false", "set_tcp_nodelay true"]) {
      assert.ok(conf.split("\n").includes(line), line);
    }
    assert.match(renderAcl({ ingestUsers: ["ingest"] }), /^pattern write otgw\/v1\/%u\/#$/m);
    assert.match(renderAcl({ ingestUsers: ["ingest"] }), /^pattern write otgw\/v2\/\+\/%u\/#$/m, "partitioned topics: own id under any partition");
  });

  void it("fails loudly, naming the binary, when mosquitto is missing", async () => {
    await assert.rejects(
      startMosquitto({ dir: fx.dir, caFile: "x", certFile: "x", keyFile: "x", ingestUsers: [], binary: "/nonexistent/mosquitto" }),
      { name: "BrokerError", code: "BROKER_MISSING", message: /\/nonexistent\/mosquitto/ },
    );
  });

  void it("refuses a client without a certificate at the TLS handshake", async () => {
    const { ca } = fx.tls("gw-a");
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: "127.0.0.1", port: fx.broker.port, ca, servername: "localhost", minVersion: "TLSv1.3" });
      // TLS 1.3 checks the client certificate after the client's Finished, so the refusal arrives as an alert.
      s.on("secureConnect", () => s.write(Buffer.from([0x10, 0x00])));
      s.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code ?? e.message}`));
      s.on("data", () => resolve("data"));
      s.on("close", () => resolve("closed"));
    });
    assert.match(outcome, /^error:.*CERTIFICATE_REQUIRED|^error:ECONNRESET/, outcome);
    await assert.rejects(connectClient(fx.broker.url, { ca }, { clientId: "nocert" }));
  });

  void it("lets a gateway publish under its own id and refuses another gateway's topic with PUBACK 135", async () => {
    const a = await client("gw-a");
    const ok = await a.publishAsync("otgw/v1/gw-a/telemetry", Buffer.from("x"), { qos: 1 });
    assert.ok([0, 16].includes((ok as IPubackPacket | undefined)?.reasonCode ?? 0)); // success (16 = no matching subscribers)
    await assert.rejects(a.publishAsync("otgw/v1/gw-b/telemetry", Buffer.from("x"), { qos: 1 }), { code: 135 });
  });

  void it("lets the receiver read through a shared subscription and refuses its publishes", async () => {
    const rx = await client(RECEIVER);
    const granted = await rx.subscribeAsync("$share/ingest/otgw/v1/+/+", { qos: 1 });
    assert.equal(granted[0]?.qos, 1);
    const got = new Promise<string>((resolve) => rx.once("message", (topic) => resolve(topic)));
    const a = await client("gw-a");
    await a.publishAsync("otgw/v1/gw-a/telemetry", Buffer.from("hello"), { qos: 1 });
    assert.equal(await got, "otgw/v1/gw-a/telemetry");
    await assert.rejects(rx.publishAsync("otgw/v1/gw-a/telemetry", Buffer.from("forged"), { qos: 1 }), { code: 135 });
  });

  void it("does not let a gateway read other gateways' topics", async () => {
    // mosquitto 2.0.11 grants the SUBSCRIBE (SUBACK QoS 1) and enforces `read` per message at
    // delivery, so the proof is that nothing arrives.
    const a = await client("gw-a");
    await a.subscribeAsync(["otgw/v1/gw-b/#", "otgw/v1/#", "$share/x/otgw/v1/+/+"], { qos: 1 });
    const leaked: string[] = [];
    a.on("message", (topic) => leaked.push(topic));
    const rx = await client(RECEIVER);
    await rx.subscribeAsync("otgw/v1/gw-b/+", { qos: 1 });
    const seen = new Promise<void>((resolve) => rx.once("message", () => resolve()));
    const b = await client("gw-b");
    await b.publishAsync("otgw/v1/gw-b/telemetry", Buffer.from("secret"), { qos: 1 });
    await seen;
    // Barrier: the broker writes to gw-a's socket in order, so once the PUBACK of a later publish is
    // back, any delivery of gw-b's message to gw-a would already have arrived.
    await a.publishAsync("otgw/v1/gw-a/barrier", Buffer.from("b"), { qos: 1 });
    assert.deepEqual(leaked, []);
  });
});
