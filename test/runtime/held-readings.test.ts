import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { silentLogger } from "../../kernel/log.js";
import { createGateway, type GatewayHandle } from "../../firmware/runtime/create-gateway.js";
import { identityFiles } from "../../firmware/runtime/identity-upkeep.js";
import { IdentityWatch } from "../../firmware/runtime/identity-watch.js";
import { loadConfig } from "../../firmware/config/load.js";
import { runChecks } from "../../firmware/check/checks.js";
import { replaceFile } from "../../provisioning/attest/files.js";
import { caFromPem, gatewayUri, issueCertificate } from "../../fleet/ca/pki.js";
import { newStack, SIM_EXAMPLE, waitFor } from "../e2e/harness.js";

const ID = "gw-held";

/**
 * Issue #13.1: no reading is lost to certificate validity. Real broker, real receiver, real files: the
 * gateway's certificate expires during a broker outage longer than its lifetime, the gateway is
 * restarted while it is expired (as `otgw run` would be), and only then is the certificate renewed.
 * Sessions rotate every 100 frames, so without the gate new sessions would be opened under the expired
 * certificate and refused by the receiver (UNKNOWN_GATEWAY, then UNKNOWN_SESSION for their frames).
 * With it, readings are held on disk, `otgw check` and the audit log say so, and after the renewal
 * every reading the gateway accepted is verified once and nothing is refused.
 */
void test("certificate expiry during an outage: readings are held on disk, never sealed under the expired certificate, and all arrive verified after renewal", async () => {
  const stack = await newStack();
  const { service, store } = stack.receiver(silentLogger(), "rh", { shared: false });
  await service.start();
  const loaded = await stack.addGateway(ID, SIM_EXAMPLE(), (cfg) => {
    for (const s of cfg.sources as Array<Record<string, unknown>>) s.rateHz = 20;
    const env = (cfg.envelope ??= {}) as Record<string, unknown>;
    env.sessionMaxMessages = 100;
    env.checkpointEveryMessages = 50;
  });
  const ca = caFromPem(readFileSync(stack.pki.caCert, "utf8"), readFileSync(stack.pki.caKey, "utf8"));
  const [certFile] = identityFiles(loaded.config);
  assert.ok(certFile);
  const publicKey = (await import("node:crypto")).createPublicKey(readFileSync(certFile));
  // A certificate that lives 6 seconds from now.
  const notAfter = new Date(Date.now() + 6000);
  const short = await issueCertificate({ ca, commonName: ID, publicKey, window: { notBefore: new Date(Date.now() - 60_000), notAfter }, usage: "client", sanUris: [gatewayUri(ID)] });
  replaceFile(certFile, short.certPem);

  const dbFile = join(stack.dir, "receiver", "rh.db");
  const telemetry = (): { rows: number; uniq: number } => {
    const db = new Database(dbFile, { readonly: true });
    try {
      return db.prepare("SELECT count(*) AS rows, count(DISTINCT record) AS uniq FROM verified WHERE gateway_id = ? AND stream <> 'audit'").get(ID) as { rows: number; uniq: number };
    } finally {
      db.close();
    }
  };
  const auditTypes = (): string[] => readFileSync(join(loaded.config.gateway.stateDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { type: string }).type);

  let a: GatewayHandle | undefined;
  let b: GatewayHandle | undefined;
  let watch: IdentityWatch | undefined;
  try {
    a = await createGateway({ config: loadConfig(loaded.file), logger: silentLogger() });
    await a.gateway.start();
    await waitFor(() => telemetry().rows > 50, "readings verified under the valid certificate");

    // The broker goes away for longer than the certificate lives.
    await stack.broker.stop();
    const ga = a.gateway;
    await waitFor(() => Date.now() > notAfter.getTime() + 500 && ga.heldRecords() > 200, "readings held after the certificate expired");
    assert.ok(auditTypes().includes("identity.holding"), "the audit log says readings are held");
    await a.stop(0);
    const sealedA = a.gateway.stats.sealed;
    a = undefined;

    // The gateway restarts with its expired certificate (as `otgw run` after a reboot would).
    const config = loadConfig(loaded.file);
    const check = (await runChecks(config.config)).find((l) => l.name === "held readings");
    assert.equal(check?.status, "FAIL", `otgw check reports the held readings: ${JSON.stringify(check)}`);
    assert.match(check.detail, /held unsealed .*otgw identity renew/);
    b = await createGateway({ config: config, logger: silentLogger() });
    const gb = b.gateway;
    await gb.start();
    const handle = b;
    const failures: string[] = [];
    watch = new IdentityWatch({
      identity: handle.identity, files: identityFiles(config.config), renewAt: 0.9, pollMs: 100, logger: silentLogger(),
      apply: (next) => gb.switchIdentity(next),
      onFailure: (stage, err) => { failures.push(`${stage}: ${String(err)}`); },
    });
    watch.start();
    const heldAtRestart = gb.heldRecords();
    assert.ok(heldAtRestart > 200, `the held readings survived the restart (${heldAtRestart})`);
    await waitFor(() => gb.heldRecords() > heldAtRestart + 100, "the restarted gateway holds new readings too");

    // Renewal (a new certificate for the same key, as `otgw identity renew` leaves it), then the broker returns.
    const renewed = await issueCertificate({ ca, commonName: ID, publicKey, days: 30, usage: "client", sanUris: [gatewayUri(ID)] });
    replaceFile(certFile, renewed.certPem);
    await stack.broker.restart();
    await waitFor(() => watch?.switches === 1 && gb.heldRecords() === 0, "the renewed certificate picked up and the held readings released", 240_000)
      .catch((err: unknown) => { throw new Error(`${(err as Error).message}: switches ${watch?.switches}, held ${gb.heldRecords()}, failures ${failures.join(" | ")}`); });
    assert.ok(auditTypes().includes("identity.released"), "the audit log says the held readings were released");
    await waitFor(() => telemetry().rows > 0 && gb.backlog() === 0, "everything delivered");
    await watch.stop();
    await b.stop();
    const sealedB = b.gateway.stats.sealed;
    await watch.identity.close?.();
    b = undefined;
    watch = undefined;

    await waitFor(() => telemetry().rows >= sealedA + sealedB, `the receiver verified ${sealedA + sealedB} readings`, 240_000);
    const t = telemetry();
    assert.equal(t.rows, sealedA + sealedB, "every accepted reading verified, none twice");
    assert.equal(t.uniq, t.rows, "no reading verified twice");
    // REPLAY is a redelivery of a frame already accepted (the broker's and the uplink's at-least-once),
    // refused as a duplicate; any other reason (UNKNOWN_GATEWAY, UNKNOWN_SESSION, ...) is a lost reading.
    const { REPLAY: _replays, ...refused } = store.counts().byReason;
    assert.deepEqual(refused, {}, `nothing refused by the receiver but redeliveries: ${JSON.stringify(refused)}`);
  } finally {
    await watch?.stop();
    await a?.stop(0);
    await b?.stop(0);
    await service.stop();
    await stack.stop();
  }
});
