/**
 * Test child (started with the tpm2 provider): opens the TPM identity, runs the TLS self-test, connects to mosquitto over mTLS with the
 * TPM key through the tpm2 provider, publishes one QoS 1 message and prints one JSON line.
 */
import mqtt, { type IClientOptions } from "mqtt";
import { readFileSync } from "node:fs";
import { codeOf } from "../../kernel/errors.js";
import { buildTlsOptions } from "../../kernel/tls.js";
import { openTpmIdentity } from "../../provisioning/tpm/runtime-identity.js";
import { tpmTlsSelfTest } from "../../provisioning/tpm/selftest.js";

interface Args { url: string; caFile: string; certFile: string; keyDir: string; keyName: string; tcti: string; topic: string }

async function main(): Promise<void> {
  const a = JSON.parse(process.env.OTGW_TEST_ARGS ?? "{}") as Args;
  const id = await openTpmIdentity({ keyDir: a.keyDir, keyName: a.keyName, tcti: a.tcti, certFile: a.certFile });
  await tpmTlsSelfTest({ keyPem: id.keyPem, certPem: id.certPem, tcti: a.tcti, publicKey: id.signer.publicKey() });
  const tls = buildTlsOptions({ ca: readFileSync(a.caFile, "utf8"), cert: id.certPem, key: id.keyPem });
  const t0 = performance.now();
  const client = mqtt.connect(a.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 20_000, ...(tls as IClientOptions) });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    client.once("close", () => reject(new Error("closed before CONNACK")));
  });
  const connectMs = performance.now() - t0;
  await client.publishAsync(a.topic, "tpm", { qos: 1 });
  await client.endAsync();
  const sig = await id.signer.sign(Buffer.from("also through ESAPI"));
  await id.store.close();
  console.log(JSON.stringify({ ok: true, connectMs, daysLeft: id.daysLeft, sigLen: sig.length }));
}

main().catch((err: unknown) => {
  console.log(JSON.stringify({ ok: false, code: codeOf(err) ?? "ERROR", message: err instanceof Error ? err.message : String(err) }));
  process.exitCode = 1;
});
