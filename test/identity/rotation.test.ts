import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { verifyAuditFile } from "../../firmware/audit/verify.js";
import { systemClock } from "../../firmware/core/clock.js";
import { silentLogger } from "../../firmware/core/log.js";
import { repoRoot } from "../../firmware/core/paths.js";
import { loadConfig } from "../../firmware/config/load.js";
import { Gateway } from "../../firmware/runtime/gateway.js";
import { openIdentity } from "../../firmware/runtime/identity.js";
import { watchIdentity } from "../../firmware/runtime/identity-upkeep.js";
import { createSources } from "../../hal/registry.js";
import { buildReceiver } from "../../ingest/receiver.js";
import { writeReceiverKeys } from "../../bin/commands/receiver.js";
import { startMosquitto, type RunningBroker } from "../../provisioning/broker/mosquitto.js";
import { FleetCa, initCa } from "../../provisioning/ca/fleet-ca.js";
import { startEstServer, type RunningEst } from "../../provisioning/est/server.js";
import { caFromPem, issueCertificate } from "../../provisioning/pki.js";
import { startTpmFixture, type TpmFixture } from "../tpm/fixture.js";
import { cliArgs, otgw, waitFor } from "./cli-support.js";

const me = import.meta.url;
const MESSAGES = Number(process.env.OTGW_ROTATION_MESSAGES ?? 50_000);
/** Certificate lifetime: renewal at 30% of it, so the identity changes every few seconds. */
const LIFETIME_S = 15;
const ID = "gw-rot";

/**
 * Make-before-break on a running gateway with its key in a TPM (swtpm behind tpm2-abrmd): short-lived
 * certificates renewed automatically through EST every few seconds, plus key rotations by the CLI,
 * while readings flow to mosquitto and the verifying receiver. Nothing lost, nothing accepted twice,
 * no reconnect (every switch is a new connection made before the old one closes), each switch audited.
 */
void describe(`rotation of a running TPM gateway: ${MESSAGES} messages while the certificate changes every few seconds`, () => {
  let dir: string;
  let tpm: TpmFixture;
  let est: RunningEst;
  let broker: RunningBroker;
  let receiver: ReturnType<typeof buildReceiver>;
  const caDir = (): string => join(dir, "ca");
  const cfg = (): string => join(dir, "gw", "gateway.json");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "otgw-rot-"));
    tpm = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm") });
    writeFileSync(join(dir, "vendor.pem"), tpm.swtpm.ekCaPem.join(""));
    await initCa(caDir(), { name: "otgw test fleet", days: 30, certDays: LIFETIME_S / 86_400, crlDays: 1, serverNames: ["127.0.0.1"], ekRoots: [join(dir, "vendor.pem")] });
    est = await startEstServer({ ca: FleetCa.open(caDir()), logger: silentLogger() });
    const ca = caFromPem(readFileSync(join(caDir(), "ca.crt"), "utf8"), readFileSync(join(caDir(), "ca.key"), "utf8"));
    for (const [name, usage] of [["localhost", "server"], ["ingest", "client"]] as const) {
      const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const c = await issueCertificate({ ca, commonName: name, publicKey: k.publicKey, days: 2, usage, ...(usage === "server" ? { sanDns: ["localhost"], sanIps: ["127.0.0.1"] } : {}) });
      writeFileSync(join(dir, `${name}.crt`), c.certPem);
      writeFileSync(join(dir, `${name}.key`), k.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    }
    broker = await startMosquitto({ dir: join(dir, "broker"), caFile: join(caDir(), "ca.crt"), certFile: join(dir, "localhost.crt"), keyFile: join(dir, "localhost.key"), crlFile: join(caDir(), "crl.pem"), ingestUsers: ["ingest"] });
    const keys = writeReceiverKeys(join(dir, "receiver"));
    receiver = buildReceiver({
      url: broker.url, caFile: join(caDir(), "ca.crt"), certFile: join(dir, "ingest.crt"), keyFile: join(dir, "ingest.key"), fleetCaFile: join(caDir(), "ca.crt"),
      recipientKeyFile: keys.privateKeyFile, dbFile: join(dir, "receiver.db"), group: null, clientId: "ingest-rot", crlFile: join(caDir(), "crl.pem"),
    }, silentLogger());
    await receiver.revocation?.load();
    await receiver.service.start();

    // The demo plant at 50 Hz x 12 points, renewal at 30% of the lifetime, files checked every 200 ms.
    const template = parseYaml(readFileSync(join(repoRoot(), "config", "examples", "sim-plant.yaml"), "utf8")) as { sources: Array<Record<string, unknown>>; identity: Record<string, unknown> };
    for (const s of template.sources) s.rateHz = 50;
    template.identity.renewal = { at: 0.3, mode: "renew", checkEveryMs: 200 };
    writeFileSync(join(dir, "template.json"), JSON.stringify(template));
    const r = await otgw(me, ["provision", "--id", ID, "--est", est.url, "--est-ca", join(caDir(), "ca.crt"), "--tcti", tpm.tcti,
      "--template", join(dir, "template.json"), "--out", cfg(), "--state-dir", join(dir, "gw", "state"), "--uplink", broker.url, "--receiver-key", keys.publicKeyFile]);
    assert.equal(r.code, 0, r.out);
  });

  after(async () => {
    await receiver?.service.stop();
    receiver?.store.close();
    await broker?.stop();
    await est?.close();
    await tpm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("zero lost, zero accepted twice, no reconnect, every switch audited", async () => {
    const { config, digest } = loadConfig(cfg());
    const identity = await openIdentity(config);
    const sources = await createSources(config, systemClock, silentLogger());
    let hit: () => void = () => undefined;
    const limit = new Promise<void>((r) => (hit = r));
    const gateway = new Gateway({ config, configDigest: digest, logger: silentLogger(), clock: systemClock, signer: identity.signer, tls: identity.tls, sources, maxRecords: MESSAGES, onLimit: () => hit() });
    const t0 = Date.now();
    await gateway.start();
    const watch = watchIdentity({ gateway, identity, config, configFile: cfg(), otgw: cliArgs(me), logger: silentLogger() });
    // Key rotations by the technician's CLI while automatic renewals go on (one at a time: a lock).
    const rotations: number[] = [];
    const rotateAt = [0.3, 0.65].map((f) => Math.round(f * MESSAGES));
    const rotating = (async () => {
      for (const at of rotateAt) {
        await waitFor(`${at} readings sealed`, () => gateway.stats.sealed >= at, 600_000);
        for (;;) {
          const r = await otgw(me, ["identity", "rotate", "-c", cfg()]);
          if (r.code === 0) { rotations.push(Date.now() - t0); break; }
          assert.match(r.out, /IDENTITY_BUSY|another renewal/, r.out);
          await new Promise((res) => setTimeout(res, 300));
        }
      }
    })();
    await limit;
    await rotating;
    // Let the last rotation be picked up before stopping (the watch checks every 200 ms).
    await waitFor("the last rotation in use", () => watch.switches > 0 && new X509Certificate(watch.identity.tls.cert).publicKey.equals(new X509Certificate(readFileSync(config.identity.certFile)).publicKey), 60_000);
    await watch.stop();
    await gateway.stop(120_000);
    await watch.identity.close?.();
    const elapsedS = (Date.now() - t0) / 1000;
    assert.equal(gateway.stats.queueDepth, 0, "everything delivered");
    const store = receiver.store;
    await waitFor("the receiver to verify everything", () => store.counts().verified >= gateway.stats.publishedData, 300_000);

    const c = store.counts();
    assert.equal(c.verified, gateway.stats.publishedData, "every acknowledged data frame verified once");
    assert.deepEqual(c.byReason, {}, "nothing refused (no replays: the old connection drained before the switch)");
    assert.equal(c.events.SEQUENCE_GAP ?? 0, 0, "no gap in any session");
    const telemetry = (store.db.prepare("SELECT count(*) AS n FROM verified WHERE stream <> 'audit'").get() as { n: number }).n;
    assert.equal(telemetry, gateway.stats.sealed, `all ${gateway.stats.sealed} readings verified`);
    assert.equal(gateway.stats.sealed, MESSAGES);
    const dup = store.db.prepare("SELECT count(*) AS n FROM (SELECT session_id, seq FROM verified GROUP BY session_id, seq HAVING count(*) > 1)").get() as { n: number };
    assert.equal(dup.n, 0, "no (session, seq) accepted twice");
    const next = new Map<string, bigint>();
    for (const r of store.verifiedRecords()) {
      const want = next.get(r.sessionId) ?? 1n;
      assert.equal(r.seq, want, `session ${r.sessionId} in order, exactly once`);
      next.set(r.sessionId, want + 1n);
    }

    // Every switch is in the gateway's audit log; the log verifies and its checkpoints moved to the new keys.
    const entries = readFileSync(join(config.gateway.stateDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const count = (t: string): number => entries.filter((e) => e.type === t).length;
    const renewed = count("identity.renewed");
    const rotated = count("identity.rotated");
    assert.equal(count("identity.provisioned"), 1);
    assert.equal(renewed + rotated, watch.switches, "one audit entry per switch");
    assert.equal(count("uplink.switched"), watch.switches);
    assert.ok(entries.filter((e) => e.type === "uplink.switched").every((e) => e.data.madeBeforeBreak === true), "every switch made the new connection first");
    assert.equal(rotated, rotateAt.length, "both CLI rotations picked up");
    assert.ok(renewed >= 5, `renewed every few seconds (${renewed})`);
    const v = verifyAuditFile(join(config.gateway.stateDir, "audit.jsonl"));
    assert.equal(v.ok, true, JSON.stringify(v));
    if (v.ok) assert.equal(v.signers.length, rotateAt.length + 1, "checkpoints signed by each key in turn");
    const inventory = FleetCa.open(caDir()).inventory.get(ID);
    assert.ok(inventory);
    assert.ok(inventory.certs.length >= watch.switches + 1, "each switch used a certificate the CA issued");
    assert.equal(inventory.keys.length, rotateAt.length + 1);
    const certs = new Set((store.db.prepare("SELECT detail FROM events WHERE kind = 'SESSION_OPENED'").all() as Array<{ detail: string }>).map((r) => r.detail));
    assert.ok(certs.size >= watch.switches + 1, `sessions carried ${certs.size} certificates`);
    assert.equal(gateway.uplinkCounters()?.reconnects, 0, "no connection was broken before its successor was up");
    console.log(`rotation test: ${MESSAGES} readings (${c.verified} frames with audit) in ${elapsedS.toFixed(1)} s; ${watch.switches} switches (${renewed} renewals, ${rotated} key rotations at ${rotations.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}); ${certs.size} certificates on sessions; 0 lost, 0 twice`);
  });
});
