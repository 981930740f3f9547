import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { silentLogger } from "../../kernel/log.js";
import { repoRoot } from "../../kernel/paths.js";
import type { GatewayConfig } from "../../firmware/config/schema.js";
import type { Gateway } from "../../firmware/runtime/gateway.js";
import { createGateway } from "../../firmware/runtime/create-gateway.js";
import type { GatewayIdentity } from "../../provisioning/identity.js";
import { buildReceiver } from "../../ingest/receiver.js";
import { writeReceiverKeys } from "../../ingest/receiver-keys.js";
import { startMosquitto, type RunningBroker } from "../../devkit/broker/mosquitto.js";
import { FleetCa, initCa } from "../../fleet/ca/fleet-ca.js";
import { startEstServer, type RunningEst } from "../../fleet/est/server.js";
import { caFromPem, issueCertificate } from "../../fleet/ca/pki.js";
import { startTpmFixture, type TpmFixture } from "../tpm/fixture.js";
import { otgw } from "./cli-support.js";

/**
 * A small real fleet for identity tests: swtpm behind tpm2-abrmd, a fleet CA with the swtpm vendor's
 * EK root and its EST server, mosquitto enforcing the CA's CRL, and a verifying receiver. Gateways are
 * provisioned with the real CLI (`otgw provision`) and then run in this process.
 */
export interface Fleet {
  dir: string;
  tpm: TpmFixture;
  est: RunningEst;
  broker: RunningBroker;
  receiver: ReturnType<typeof buildReceiver>;
  caDir: string;
  /** Provisions `id` from the demo plant config (sources at `rateHz`), applying `edit` to the template; returns the config file. */
  provision(id: string, o?: { rateHz?: number; edit?: (template: { identity: Record<string, unknown> } & Record<string, unknown>) => void }): Promise<string>;
  /** Opens the identity and builds a gateway from a provisioned config (not started). */
  gateway(configFile: string, maxRecords: number): Promise<{ gateway: Gateway; identity: GatewayIdentity; config: GatewayConfig; limit: Promise<void> }>;
  stop(): Promise<void>;
}

export async function startFleet(o: { certLifetimeS: number; receiverGroup: string | null; from: string }): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), "otgw-fleet-"));
  const caDir = join(dir, "ca");
  const tpm = await startTpmFixture({ ekCaDir: join(dir, "vendor"), dir: join(dir, "tpm") });
  writeFileSync(join(dir, "vendor.pem"), tpm.swtpm.ekCaPem.join(""));
  await initCa(caDir, { name: "otgw test fleet", days: 30, certDays: o.certLifetimeS / 86_400, crlDays: 1, serverNames: ["127.0.0.1"], ekRoots: [join(dir, "vendor.pem")] });
  const est = await startEstServer({ ca: FleetCa.open(caDir), logger: silentLogger() });
  const ca = caFromPem(readFileSync(join(caDir, "ca.crt"), "utf8"), readFileSync(join(caDir, "ca.key"), "utf8"));
  for (const [name, usage] of [["localhost", "server"], ["ingest", "client"]] as const) {
    const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const c = await issueCertificate({ ca, commonName: name, publicKey: k.publicKey, days: 2, usage, ...(usage === "server" ? { sanDns: ["localhost"], sanIps: ["127.0.0.1"] } : {}) });
    writeFileSync(join(dir, `${name}.crt`), c.certPem);
    writeFileSync(join(dir, `${name}.key`), k.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const broker = await startMosquitto({ dir: join(dir, "broker"), caFile: join(caDir, "ca.crt"), certFile: join(dir, "localhost.crt"), keyFile: join(dir, "localhost.key"), crlFile: join(caDir, "crl.pem"), ingestUsers: ["ingest"] });
  const keys = writeReceiverKeys(join(dir, "receiver"));
  const receiver = buildReceiver({
    url: broker.url, caFile: join(caDir, "ca.crt"), certFile: join(dir, "ingest.crt"), keyFile: join(dir, "ingest.key"), fleetCaFile: join(caDir, "ca.crt"),
    recipientKeyFile: keys.privateKeyFile, dbFile: join(dir, "receiver.db"), group: o.receiverGroup, clientId: "ingest-fleet", crlFile: join(caDir, "crl.pem"),
  }, silentLogger());
  await receiver.revocation?.load();
  await receiver.service.start();

  return {
    dir, tpm, est, broker, receiver, caDir,
    async provision(id, p = {}) {
      const template = parseYaml(readFileSync(join(repoRoot(), "config", "examples", "sim-plant.yaml"), "utf8")) as { sources: Array<Record<string, unknown>>; identity: Record<string, unknown> };
      for (const s of template.sources) s.rateHz = p.rateHz ?? 50;
      p.edit?.(template);
      const tpl = join(dir, `${id}.template.json`);
      writeFileSync(tpl, JSON.stringify(template));
      const cfg = join(dir, id, "gateway.json");
      const r = await otgw(o.from, ["provision", "--id", id, "--est", est.url, "--est-ca", join(caDir, "ca.crt"), "--tcti", tpm.tcti,
        "--template", tpl, "--out", cfg, "--state-dir", join(dir, id, "state"), "--uplink", broker.url, "--receiver-key", keys.publicKeyFile]);
      assert.equal(r.code, 0, r.out);
      return cfg;
    },
    async gateway(configFile, maxRecords) {
      const { gateway, identity, config, limitReached } = await createGateway({ configFile, logger: silentLogger(), maxRecords });
      return { gateway, identity, config, limit: limitReached };
    },
    async stop() {
      await receiver.service.stop();
      receiver.store.close();
      await broker.stop();
      await est.close();
      await tpm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The receiver's verified rows: every session's seqs from 1 with no hole and no repeat (throws otherwise). */
export function assertExactlyOnceInOrder(receiver: Fleet["receiver"]): void {
  const store = receiver.store;
  const dup = store.db.prepare("SELECT count(*) AS n FROM (SELECT session_id, seq FROM verified GROUP BY session_id, seq HAVING count(*) > 1)").get() as { n: number };
  assert.equal(dup.n, 0, "no (session, seq) accepted twice");
  const next = new Map<string, bigint>();
  for (const r of store.verifiedRecords()) {
    const want = next.get(r.sessionId) ?? 1n;
    assert.equal(r.seq, want, `session ${r.sessionId} in order, exactly once`);
    next.set(r.sessionId, want + 1n);
  }
}
