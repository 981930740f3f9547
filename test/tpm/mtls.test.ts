import assert from "node:assert/strict";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TpmError } from "../../kernel/errors.js";
import { startMosquitto, type RunningBroker } from "../../devkit/broker/mosquitto.js";
import { caFromPem, gatewayUri, issueCertificate, writeDevPki, type DevPkiPaths } from "../../fleet/ca/pki.js";
import { providerLaunch } from "../../provisioning/tpm/provider.js";
import { startSwtpm } from "../../provisioning/tpm/swtpm.js";
import { TpmKeyStore } from "../../provisioning/tpm/tpm-keystore.js";
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions } from "mqtt";
import { buildTlsOptions } from "../../kernel/tls.js";
import { openTpmIdentity } from "../../provisioning/tpm/runtime-identity.js";
import { lastJson, runNode, scriptArgs, startTpmFixture, type TpmFixture } from "./fixture.js";

interface ChildResult { ok: boolean; code?: string; message?: string; connectMs?: number; sigLen?: number }

void describe("mTLS to mosquitto with a non-exportable TPM key (tpm2 provider, TLS 1.3)", () => {
  let tpm: TpmFixture;
  let pki: DevPkiPaths;
  let broker: RunningBroker;
  let certFile: string;
  let keyDir: string;

  before(async () => {
    tpm = await startTpmFixture();
    keyDir = join(tpm.dir, "keys");
    const store = new TpmKeyStore(keyDir, tpm.tcti);
    const signer = await store.create("gateway");
    await store.close();
    pki = await writeDevPki(join(tpm.dir, "pki"), { gateways: ["gw-other"], receiverName: "ingest" });
    const ca = caFromPem(readFileSync(pki.caCert, "utf8"), readFileSync(pki.caKey, "utf8"));
    const issued = await issueCertificate({ ca, commonName: "gw-tpm", publicKey: signer.publicKey(), days: 7, usage: "client", sanUris: [gatewayUri("gw-tpm")] });
    certFile = join(tpm.dir, "gateway.crt");
    writeFileSync(certFile, issued.certPem);
    broker = await startMosquitto({ dir: join(tpm.dir, "broker"), caFile: pki.caCert, certFile: pki.server.cert, keyFile: pki.server.key, ingestUsers: ["ingest"] });
  });

  after(async () => {
    await broker?.stop();
    await tpm?.stop();
  });

  const child = (over: { certFile?: string; tcti?: string; keyDir?: string; provider?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> => {
    const tcti = over.tcti ?? tpm.tcti;
    const args = { url: broker.url, caFile: pki.caCert, certFile: over.certFile ?? certFile, keyDir: over.keyDir ?? keyDir, keyName: "gateway", tcti, topic: "otgw/v1/gw-tpm/telemetry" };
    const launch = over.provider === false ? { execArgv: [], env: { ...process.env } } : providerLaunch(tcti);
    return runNode([...launch.execArgv, ...scriptArgs("mtls-child", import.meta.url)], { ...launch.env, OTGW_TEST_ARGS: JSON.stringify(args) });
  };

  void it("connects, publishes under its own topic (CN = identity) and still signs through ESAPI", async () => {
    const r = await child();
    const res = lastJson<ChildResult>(r.stdout);
    assert.equal(res.ok, true, `${res.code}: ${res.message}\n${r.stderr}`);
    assert.equal(res.sigLen, 64);
  });

  void it("self-test without the provider says how to start the process", async () => {
    const res = lastJson<ChildResult>((await child({ provider: false })).stdout);
    assert.equal(res.code, "TPM_PROVIDER_NOT_LOADED");
    assert.match(res.message ?? "", /otgw run/);
  });

  void it("self-test with a certificate of another key says to renew", async () => {
    const res = lastJson<ChildResult>((await child({ certFile: pki.gateways["gw-other"]!.cert })).stdout);
    assert.equal(res.code, "CERT_KEY_MISMATCH");
    assert.match(res.message ?? "", /otgw identity renew/);
  });

  void it("the TLS sidecar: a process without the provider connects through it with the TPM key", async () => {
    const id = await openTpmIdentity({ keyDir, keyName: "gateway", tcti: tpm.tcti, certFile, uplink: { url: broker.url, caPem: readFileSync(pki.caCert, "utf8"), runDir: join(tpm.dir, "run") } });
    try {
      assert.ok(id.sidecar);
      const tls = buildTlsOptions({ ca: readFileSync(pki.caCert, "utf8"), cert: id.certPem, key: id.keyPem, via: id.sidecar.socketPath });
      assert.equal(tls.key, undefined, "the key never goes to the in-process TLS stack");
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0, clientId: "gw-tpm", ...(tls as IClientOptions) });
      await client.publishAsync("otgw/v1/gw-tpm/telemetry", "via sidecar", { qos: 1 });
      // The identity is the certificate's CN: another gateway's topic is refused (PUBACK 135).
      await assert.rejects(client.publishAsync("otgw/v1/gw-other/telemetry", "x", { qos: 1 }), (e: { code?: number }) => e.code === 135);
      await client.endAsync();
      // Reconnects reuse the sidecar's one TLS context: no TPM object slots pile up (0x902).
      for (let i = 0; i < 20; i++) {
        const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `gw-tpm-${i}`, ...(tls as IClientOptions) });
        await c.endAsync();
      }
      // Envelope crypto in this process is untouched by the provider (it lives in the sidecar).
      assert.equal((await id.signer.sign(Buffer.from("x"))).length, 64);
    } finally {
      await id.close();
    }
  });

  void it("a copy of the state directory next to another TPM can neither sign nor connect", async () => {
    const other = await startSwtpm(join(tpm.dir, "clone-tpm"));
    const cloneKeys = join(tpm.dir, "clone-keys");
    cpSync(keyDir, cloneKeys, { recursive: true });
    try {
      const store = new TpmKeyStore(cloneKeys, other.tcti);
      await assert.rejects(store.open("gateway"), (e: unknown) => e instanceof TpmError && e.code === "TPM_KEY_FOREIGN" && /otgw provision/.test(e.message));
      await store.close();
    } finally {
      await other.stop();
    }
    const second = await startTpmFixture();
    try {
      const res = lastJson<ChildResult>((await child({ tcti: second.tcti, keyDir: cloneKeys })).stdout);
      assert.equal(res.ok, false);
      assert.equal(res.code, "TPM_KEY_FOREIGN");
    } finally {
      await second.stop();
    }
  });
});
