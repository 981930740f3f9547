import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import { buildReceiver } from "../../ingest/receiver.js";
import type { IngestService } from "../../ingest/service.js";
import type { IngestStore } from "../../ingest/store.js";
import { writeReceiverKeys } from "../../ingest/receiver-keys.js";
import { freePort, startMosquitto, type RunningBroker } from "../../devkit/broker/mosquitto.js";
import { caFromPem, issueCertificate } from "../../fleet/ca/pki.js";
import { startTpmFixture, type TpmFixture } from "../tpm/fixture.js";
import { otgw, otgwBackground, waitFor, type Background } from "./cli-support.js";

const me = import.meta.url;

/**
 * Provision from nothing to verified readings at the receiver using only the CLI, on swtpm (behind
 * tpm2-abrmd, as /dev/tpmrm0 on a device), mosquitto with the fleet CA's CRL, the EST server and the
 * receiver — then renew, rotate and revoke.
 */
void describe("technician CLI: ca init/serve, provision, check, run, identity show/renew/rotate, ca revoke (others keep flowing)", () => {
  let tpm: TpmFixture;
  let dir: string;
  let est: Background;
  let estUrl: string;
  let broker: RunningBroker;
  let receiver: { service: IngestService; store: IngestStore };
  let gateway: Background | undefined;
  let gateway2: Background | undefined;
  let tpm2: TpmFixture;
  const perGateway: Record<string, number> = {};
  const caDir = (): string => join(dir, "ca");
  const cfg = (): string => join(dir, "gw", "gateway.json");
  const cfg2 = (): string => join(dir, "gw2", "gateway.json");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-cli-"));
    // The TPM's EK certificate comes from a "vendor" CA whose root the fleet CA will trust.
    tpm = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm") });
    // A second gateway (its own TPM from the same vendor) keeps flowing while the first is revoked.
    tpm2 = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm2") });
    writeFileSync(join(dir, "vendor.pem"), tpm.swtpm.ekCaPem.join(""));
  });

  after(async () => {
    await gateway?.stop();
    await gateway2?.stop();
    await receiver?.service.stop();
    receiver?.store.close();
    await broker?.stop();
    await est?.stop();
    await tpm?.stop();
    await tpm2?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("ca init, ca serve: a fleet CA with the TPM vendor's root and an EST server", async () => {
    const init = await otgw(me, ["ca", "init", "--dir", caDir(), "--ek-root", join(dir, "vendor.pem"), "--cert-days", "1"]);
    assert.equal(init.code, 0, init.out);
    assert.match(init.out, /fingerprint/);
    const port = await freePort();
    est = otgwBackground(me, ["ca", "serve", "--dir", caDir(), "--port", String(port)]);
    await waitFor("EST server", () => /EST server on/.test(est.output()));
    estUrl = `https://127.0.0.1:${port}`;

    // The broker and the receiver get certificates from the same fleet CA; mosquitto enforces its CRL.
    const ca = caFromPem(readFileSync(join(caDir(), "ca.crt"), "utf8"), readFileSync(join(caDir(), "ca.key"), "utf8"));
    for (const [name, usage] of [["localhost", "server"], ["ingest", "client"]] as const) {
      const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const c = await issueCertificate({ ca, commonName: name, publicKey: k.publicKey, days: 2, usage, ...(usage === "server" ? { sanDns: ["localhost"], sanIps: ["127.0.0.1"] } : {}) });
      writeFileSync(join(dir, `${name}.crt`), c.certPem);
      writeFileSync(join(dir, `${name}.key`), k.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    }
    broker = await startMosquitto({ dir: join(dir, "broker"), caFile: join(caDir(), "ca.crt"), certFile: join(dir, "localhost.crt"), keyFile: join(dir, "localhost.key"), crlFile: join(caDir(), "crl.pem"), ingestUsers: ["ingest"] });
  });

  void it("provision: key in the TPM, attestation, enrollment, config; then check passes", async () => {
    const fp = new X509Certificate(readFileSync(join(caDir(), "ca.crt"))).fingerprint256;
    const keys = writeReceiverKeys(join(dir, "receiver"));
    const r = await otgw(me, ["provision", "--id", "gw-tpm-1", "--est", estUrl, "--ca-fingerprint", fp, "--tcti", tpm.tcti,
      "--template", join(repoRoot(), "config", "examples", "minimal.json"), "--out", cfg(), "--state-dir", join(dir, "gw", "state"),
      "--uplink", broker.url, "--receiver-key", keys.publicKeyFile]);
    assert.equal(r.code, 0, r.out);
    for (const step of ["credential activation", "simpleenroll", "provisioned gw-tpm-1"]) assert.match(r.out, new RegExp(step));
    assert.doesNotMatch(r.out, /PRIVATE KEY/);
    const again = await otgw(me, ["provision", "--id", "gw-tpm-1", "--est", estUrl, "--ca-fingerprint", fp, "--tcti", tpm.tcti,
      "--template", join(repoRoot(), "config", "examples", "minimal.json"), "--out", cfg(), "--state-dir", join(dir, "gw", "state")]);
    assert.notEqual(again.code, 0);
    assert.match(again.out, /already provisioned/);

    const r2 = await otgw(me, ["provision", "--id", "gw-tpm-2", "--est", estUrl, "--est-ca", join(caDir(), "ca.crt"), "--tcti", tpm2.tcti,
      "--template", join(repoRoot(), "config", "examples", "minimal.json"), "--out", cfg2(), "--state-dir", join(dir, "gw2", "state"),
      "--uplink", broker.url, "--receiver-key", keys.publicKeyFile]);
    assert.equal(r2.code, 0, r2.out);

    const check = await otgw(me, ["check", "-c", cfg()]);
    assert.equal(check.code, 0, check.out);
    for (const line of ["TPM reachable", "identity key", "certificate", "chain", "CRL", "broker \\(mTLS\\)", "clock", "disk free", "queue depth"]) {
      assert.match(check.out, new RegExp(`^OK +${line}`, "m"), `${line}:\n${check.out}`);
    }
  });

  void it("run: readings from the TPM-identified gateway are verified at the receiver", async () => {
    receiver = buildReceiver({
      url: broker.url, caFile: join(caDir(), "ca.crt"), certFile: join(dir, "ingest.crt"), keyFile: join(dir, "ingest.key"), fleetCaFile: join(caDir(), "ca.crt"),
      recipientKeyFile: join(dir, "receiver", "receiver.key.pem"), dbFile: join(dir, "receiver.db"), group: "otgw-ingest", clientId: "ingest-1", crlFile: join(caDir(), "crl.pem"),
    }, silentLogger());
    await (receiver as { revocation?: { load(): Promise<void> } }).revocation?.load();
    receiver.service.on("verified", (ev: { gatewayId: string }) => { perGateway[ev.gatewayId] = (perGateway[ev.gatewayId] ?? 0) + 1; });
    await receiver.service.start();
    gateway = otgwBackground(me, ["run", "-c", cfg()]);
    gateway2 = otgwBackground(me, ["run", "-c", cfg2()]);
    const gw = gateway;
    await waitFor("verified readings", () => receiver.store.counts().verified >= 3, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; receiver ${JSON.stringify(receiver.store.counts())}; gateway output:\n${gw.output()}`);
    });
    const gw2 = gateway2;
    await waitFor("the second gateway's readings", () => {
      if (gw2.proc.exitCode !== null) throw new Error(`the second gateway exited with ${gw2.proc.exitCode}`);
      return (perGateway["gw-tpm-2"] ?? 0) >= 3;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; per gateway ${JSON.stringify(perGateway)}; receiver ${JSON.stringify(receiver.store.counts())}; second gateway output:\n${gw2.output()}`);
    });
    assert.equal(receiver.store.counts().quarantined, 0);
  });

  void it("identity show, renew (same key) and rotate (new attested key)", async () => {
    const show = await otgw(me, ["identity", "show", "-c", cfg()]);
    assert.equal(show.code, 0, show.out);
    assert.match(show.out, /in the TPM/);
    assert.match(show.out, /matches key: yes/);
    const before = new X509Certificate(readFileSync(join(dir, "gw", "state", "identity", "gateway.cert.pem")));
    const renew = await otgw(me, ["identity", "renew", "-c", cfg()]);
    assert.equal(renew.code, 0, renew.out);
    const renewed = new X509Certificate(readFileSync(join(dir, "gw", "state", "identity", "gateway.cert.pem")));
    assert.notEqual(renewed.serialNumber, before.serialNumber);
    assert.ok(renewed.publicKey.equals(before.publicKey));
    const rotate = await otgw(me, ["identity", "rotate", "-c", cfg()]);
    assert.equal(rotate.code, 0, rotate.out);
    const rotated = new X509Certificate(readFileSync(join(dir, "gw", "state", "identity", "gateway.cert.pem")));
    assert.ok(!rotated.publicKey.equals(before.publicKey));
    const check = await otgw(me, ["check", "-c", cfg()]);
    assert.equal(check.code, 0, check.out);
  });

  void it("ca revoke: the receiver refuses the gateway's frames, the broker its next connection, check says so", async () => {
    const rev = await otgw(me, ["ca", "revoke", "gw-tpm-1", "--dir", caDir()]);
    assert.equal(rev.code, 0, rev.out);
    // The gateway's open connection predates the CRL; the receiver re-reads the CRL and refuses what comes,
    // while the other gateway's readings keep being verified.
    await waitFor("REVOKED at the receiver", () => (receiver.store.counts().byReason.REVOKED ?? 0) > 0, 90_000);
    const before = perGateway["gw-tpm-2"] ?? 0;
    await waitFor("gw-tpm-2 flowing after the revocation", () => (perGateway["gw-tpm-2"] ?? 0) >= before + 3, 90_000);
    // Only the revoked gateway is refused: REVOKED, and UNKNOWN_SESSION for data of a session whose
    // open was refused (the running gateway may have rolled its sessions to the rotated certificate).
    const refused = receiver.store.db.prepare("SELECT gateway_id AS g, reason AS r, count(*) AS n FROM quarantine GROUP BY g, r").all() as Array<{ g: string; r: string; n: number }>;
    assert.ok(refused.every((q) => q.g === "gw-tpm-1" && (q.r === "REVOKED" || q.r === "UNKNOWN_SESSION")), JSON.stringify(refused));
    // No broker restart: SIGHUP makes mosquitto 2.0 build a fresh TLS context with the new CRL, so the
    // revoked gateway's next handshake fails (a real MQTT connect over mTLS through its TLS sidecar)...
    await broker.reload();
    const check = await otgw(me, ["check", "-c", cfg()]);
    assert.equal(check.code, 1, check.out);
    assert.match(check.out, /^FAIL +CRL .*REVOKED/m);
    assert.match(check.out, /^FAIL +broker \(mTLS\)/m);
    assert.match(readFileSync(broker.logFile, "utf8").split("Reloading config.").at(-1) ?? "", /certificate verify failed/, "mosquitto refused the handshake after the reload");
    // ...while the other gateway's new connections are accepted and its readings keep flowing.
    const check2 = await otgw(me, ["check", "-c", cfg2()]);
    assert.equal(check2.code, 0, check2.out);
    const after = perGateway["gw-tpm-2"] ?? 0;
    await waitFor("gw-tpm-2 flowing after the broker reload", () => (perGateway["gw-tpm-2"] ?? 0) >= after + 3, 90_000);
    // The revoked gateway's own next connection (restarted): refused at the handshake, and its audit
    // log records why (the sidecar reports the TLS alert to the gateway).
    await gateway?.stop();
    gateway = otgwBackground(me, ["run", "-c", cfg()]);
    const auditFile = join(dir, "gw", "state", "audit.jsonl");
    const refusals = (): Array<{ data: { reason: string; detail: string } }> => readFileSync(auditFile, "utf8").trim().split("\n")
      .map((l) => JSON.parse(l) as { type: string; data: { reason: string; detail: string } }).filter((e) => e.type === "uplink.refused");
    const gw = gateway;
    await waitFor("uplink.refused in the revoked gateway's audit log", () => refusals().length > 0, 90_000).catch((e: Error) => { throw new Error(`${e.message}:\n${gw.output().slice(-3000)}`); });
    assert.match(JSON.stringify(refusals()[0]?.data), /revoked/i);
  });
});
