/**
 * Input files other than the config (kernel/input-file.ts, kernel/pem.ts): a garbage, empty or missing
 * key or certificate is refused by each read site with the file's path and what to do, never with
 * OpenSSL's bare "DECODER routines::unsupported"; a damaged JSON state file names itself; oversized
 * state files and model bundles are refused before they are read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../kernel/clock.js";
import { GatewayError, InputFileError } from "../../kernel/errors.js";
import { openJsonState } from "../../kernel/json-state.js";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { openIdentity, type IdentityContext } from "../../provisioning/identity.js";
import { TrustStore } from "../../hal/opcua/trust-store.js";
import { buildReceiver } from "../../ingest/receiver.js";
import { FleetCa, initCa } from "../../fleet/ca/fleet-ca.js";
import { ModelStore } from "../../firmware/models/store.js";
import { trustedSignersOf } from "../../firmware/models/config.js";
import type { GatewayConfig } from "../../firmware/config/schema.js";
import { modelVerify } from "../../bin/commands/gateway/model.js";
import { identityShowCommand } from "../../bin/commands/gateway/identity.js";
import { silentLogger } from "../../kernel/log.js";

const fresh = (): string => mkdtempSync(join(tmpdir(), "otgw-input-"));
// Armour assembled here so no committed line looks like key material.
const ARMOUR = (label: string, body: string): string => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const garbage = {
  text: "this is not a key\n",
  empty: "",
  badPem: ARMOUR(["PRIVATE", "KEY"].join(" "), "bm90IGEga2V5IGF0IGFsbA=="),
};

/** The error `fn` throws or rejects with; fails when it does not. */
async function failure(fn: () => unknown): Promise<GatewayError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `a project error, got: ${String(err)}`);
    return err;
  }
  assert.fail("expected an error");
}

/** The message names the file, says what to do, and is not OpenSSL's bare decoder error. */
function namesFile(err: GatewayError, file: string, code: string, fix: RegExp): void {
  assert.equal(err.code, code, err.message);
  assert.ok(err.message.includes(file), `names ${file}: ${err.message}`);
  assert.match(err.message, fix);
  assert.doesNotMatch(err.message, /^error:|^DECODER/);
  assert.equal(err.message.split("\n").length, 1, "one line");
}

void test("software keystore: a garbage, empty or broken-PEM key file is named with what to do", async () => {
  for (const [kind, content] of Object.entries(garbage)) {
    const dir = fresh();
    const file = join(dir, "gateway.key.pem");
    writeFileSync(file, content, { mode: 0o600 });
    const err = await failure(() => new SoftwareKeyStore(dir).open("gateway"));
    namesFile(err, file, "KEY_FILE_INVALID", /software key "gateway" .* is not a private key otgw can read \(.+\); restore the key from a backup/);
    if (kind === "badPem") assert.match(err.message, /OpenSSL: /, "the decoder's reason is kept, after the file");
    if (kind === "text") assert.match(err.message, /holds no PEM block/);
    if (kind === "empty") assert.match(err.message, /the file is empty/);
  }
  // A key of the wrong type names the file too.
  const dir = fresh();
  const file = join(dir, "gateway.key.pem");
  writeFileSync(file, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  const err = await failure(() => new SoftwareKeyStore(dir).open("gateway"));
  assert.equal(err.code, "KEY_TYPE");
  assert.ok(err.message.includes(file), err.message);
});

void test("receiver: garbage recipient key, client key and fleet CA certificate are each named with their option", async () => {
  const dir = fresh();
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const good = join(dir, "good.key.pem");
  writeFileSync(good, privateKey.export({ type: "pkcs8", format: "pem" }));
  const bad = join(dir, "bad.pem");
  writeFileSync(bad, garbage.badPem);
  const ca = await initCaDir();
  const files = {
    url: "mqtts://127.0.0.1:1", caFile: ca.crt, certFile: ca.crt, keyFile: good, fleetCaFile: ca.crt, recipientKeyFile: good,
    dbFile: join(dir, "evidence.db"), group: null, clientId: "t",
  };
  const recipient = await failure(() => buildReceiver({ ...files, recipientKeyFile: bad, dbFile: join(dir, "a.db") }, silentLogger()));
  namesFile(recipient, bad, "KEY_FILE_INVALID", /the receiver's private key \(--recipient-key\) .*`otgw receiver keygen`/);
  const tlsKey = await failure(() => buildReceiver({ ...files, keyFile: bad, dbFile: join(dir, "b.db") }, silentLogger()));
  namesFile(tlsKey, bad, "KEY_FILE_INVALID", /the receiver's client key \(--key\)/);
  const brokerCa = await failure(() => buildReceiver({ ...files, caFile: join(dir, "missing.pem"), dbFile: join(dir, "c.db") }, silentLogger()));
  namesFile(brokerCa, join(dir, "missing.pem"), "INPUT_UNREADABLE", /cannot read the broker's CA \(--ca\) .*: it does not exist; pass the PEM certificate/);
  const brokenCa = join(dir, "broken-ca.pem");
  writeFileSync(brokenCa, ARMOUR("CERTIFICATE", "bm90IGEgY2VydA=="));
  const fleet = await failure(() => buildReceiver({ ...files, fleetCaFile: brokenCa, dbFile: join(dir, "d.db") }, silentLogger()));
  namesFile(fleet, brokenCa, "CERT_FILE_INVALID", /certificate 1 of 1 does not parse .*pass the fleet CA certificate/);
});

/** A real fleet CA directory; returns its certificate file. */
async function initCaDir(): Promise<{ dir: string; crt: string }> {
  const dir = join(fresh(), "ca");
  await initCa(dir, { name: "input test CA", days: 30, certDays: 7, crlDays: 7, serverNames: ["127.0.0.1"], ekRoots: [] });
  return { dir, crt: join(dir, "ca.crt") };
}

void test("fleet CA: a damaged ca.key is named, with the instruction to restore the directory", async () => {
  const { dir } = await initCaDir();
  writeFileSync(join(dir, "ca.key"), garbage.text);
  const err = await failure(() => FleetCa.open(dir));
  namesFile(err, join(dir, "ca.key"), "KEY_FILE_INVALID", /the fleet CA key .*restore .* from its backup/);
});

void test("OPC UA trust store: trusting a file that holds no certificate names the file", async () => {
  const dir = fresh();
  const file = join(dir, "server.der");
  writeFileSync(file, Buffer.from("definitely not DER"));
  const err = await failure(() => new TrustStore(join(dir, "pki")).trust({ file }));
  namesFile(err, file, "CERT_FILE_INVALID", /the OPC UA server certificate .* \(neither PEM nor DER\); give the server's certificate/);
});

void test("model signers: a garbage trusted signer key names the file and the signer", async () => {
  const dir = fresh();
  const file = join(dir, "signer.pub.pem");
  writeFileSync(file, garbage.text);
  const config = { models: { trustedSigners: [{ name: "registry", publicKeyFile: file }] } } as unknown as GatewayConfig;
  const err = await failure(() => trustedSignersOf(config));
  namesFile(err, file, "KEY_FILE_INVALID", /trusted model signer "registry" \(models.trustedSigners\).*`otgw model keygen`/);
});

void test("JSON state: a damaged state file names itself and what to do, and is not reset", async () => {
  const dir = fresh();
  const file = join(dir, "state.json");
  writeFileSync(file, '{"version": 1, "items": {"a": ');
  const err = await failure(() => openJsonState(file, { version: 1 }));
  namesFile(err, file, "STATE_FILE_INVALID", /is not valid JSON \(.+\): .*restore it from a backup, or move it aside/);
  assert.ok(err instanceof InputFileError);
  // Through a real user of the adapter: the model store's state.json.
  const models = join(dir, "models");
  mkdirSync(models);
  writeFileSync(join(models, "state.json"), "garbage");
  const store = new ModelStore({ dir: models, trusted: [], audit: { append: () => undefined }, clock: new ManualClock() });
  namesFile(await failure(() => store.list()), join(models, "state.json"), "STATE_FILE_INVALID", /move it aside/);
});

void test("JSON state and model bundles over their 1 MiB cap are refused before reading, naming the file", async () => {
  const dir = fresh();
  const state = join(dir, "state.json");
  writeFileSync(state, `{"pad": "${"x".repeat(1024 * 1024)}"}`);
  namesFile(await failure(() => openJsonState(state, {})), state, "INPUT_TOO_LARGE", /the state file is 1\.0 MiB, over its 1 MiB limit, so it was not read/);
  // The fleet CA's inventory is allowed more (one record per gateway on a host without the gateway's heap cap).
  const inventory = join(dir, "inventory.json");
  writeFileSync(inventory, `{"version": 1, "gateways": {}, "pad": "${"x".repeat(2 * 1024 * 1024)}"}`);
  assert.deepEqual(openJsonState(inventory, {}, { maxBytes: 64 * 1024 * 1024 }).data, { version: 1, gateways: {}, pad: "x".repeat(2 * 1024 * 1024) });
  const bundle = join(dir, "model.bundle.json");
  writeFileSync(bundle, Buffer.alloc(1024 * 1024 + 1, 0x20));
  const signer = join(dir, "signer.pub.pem");
  writeFileSync(signer, generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }));
  const err = await failure(() => modelVerify(bundle, [signer], { out: () => undefined, err: () => undefined }));
  namesFile(err, bundle, "INPUT_TOO_LARGE", /the model bundle is 1\.0 MiB, over its 1 MiB limit/);
});

void test("software identity: a garbage gateway certificate is named with its config field", async () => {
  const dir = fresh();
  const keyDir = join(dir, "keys");
  await new SoftwareKeyStore(keyDir).create("gateway");
  const certFile = join(dir, "gateway.cert.pem");
  writeFileSync(certFile, garbage.text);
  const err = await failure(() => openIdentity({
    gateway: { mode: "development", stateDir: dir },
    identity: { keystore: "software", keyName: "gateway", keyDir, certFile, caFile: certFile },
    uplink: { url: "mqtts://127.0.0.1:8883", caFile: certFile },
    overrides: {},
  } as IdentityContext));
  namesFile(err, certFile, "CERT_INVALID", /the gateway certificate .* \(identity\.certFile\) does not parse/);
});

void test("`otgw identity show` and the EST server's files: a garbage certificate, key or ca.json is named", async () => {
  const dir = fresh();
  await new SoftwareKeyStore(join(dir, "keys")).create("gateway");
  writeFileSync(join(dir, "gw.pem"), garbage.badPem);
  const config = join(dir, "gw.yaml");
  writeFileSync(config, [
    "version: 1",
    "gateway: { id: gw-1, mode: development, stateDir: ./state }",
    "identity: { keystore: software, keyDir: ./keys, certFile: ./gw.pem, caFile: ./gw.pem }",
    "receiver: { publicKeyFile: ./receiver.pub.pem }",
    'uplink: { url: "mqtts://127.0.0.1:8883", caFile: ./gw.pem }',
    "streams: [{ id: telemetry, priority: 2, valueSchema: { type: number } }]",
    "transforms: [{ id: raw-v1, unit: mm/s }]",
    "sources: [{ id: plant, kind: sim, seed: 1, assets: [{ id: pump1, kind: pump }] }]",
    "points: [{ name: p, source: plant, address: pump1/vibration_rms, stream: telemetry, transform: raw-v1, deviceId: SN-1 }]",
  ].join("\n"));
  const show = await failure(() => identityShowCommand(config));
  namesFile(show, join(dir, "gw.pem"), "CERT_FILE_INVALID", /the gateway certificate \(identity\.certFile\) .*OpenSSL: .*enroll again with `otgw provision`/);

  const ca = await initCaDir();
  writeFileSync(join(ca.dir, "est.key"), garbage.text);
  namesFile(await failure(() => FleetCa.open(ca.dir).estTls), join(ca.dir, "est.key"), "KEY_FILE_INVALID", /the EST server's key .*restore/);
  writeFileSync(join(ca.dir, "ca.json"), "{ certDays: 7");
  namesFile(await failure(() => FleetCa.open(ca.dir)), join(ca.dir, "ca.json"), "STATE_FILE_INVALID", /the CA policy .* cannot be read as JSON/);
});
