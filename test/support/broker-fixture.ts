import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMosquitto, type RunningBroker } from "../../devkit/broker/mosquitto.js";
import { writeDevPki, type DevIdentityFiles, type DevPkiPaths } from "../../fleet/ca/pki.js";

/** TLS material as the uplink and test clients take it: PEM strings. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

/** A real mosquitto with a fresh dev PKI, for tests. */
export interface BrokerFixture {
  broker: RunningBroker;
  pki: DevPkiPaths;
  dir: string;
  /** PEM material for a gateway id or the receiver name. */
  tls(identity: string): ClientTls;
  /** Stops the broker and removes the directory. */
  close(): Promise<void>;
}

export const RECEIVER = "ingest";

/** Starts mosquitto (fails loudly if it is missing) with gateways `gw-a`, `gw-b` and receiver `ingest`. */
export async function startBrokerFixture(gateways: string[] = ["gw-a", "gw-b"]): Promise<BrokerFixture> {
  const dir = mkdtempSync(join(tmpdir(), "otgw-broker-"));
  const pki = await writeDevPki(join(dir, "pki"), { gateways, receiverName: RECEIVER });
  const broker = await startMosquitto({
    dir: join(dir, "mosquitto"),
    caFile: pki.caCert,
    certFile: pki.server.cert,
    keyFile: pki.server.key,
    ingestUsers: [RECEIVER],
  });
  const ca = readFileSync(pki.caCert, "utf8");
  return {
    broker,
    pki,
    dir,
    tls(identity: string): ClientTls {
      const files: DevIdentityFiles | undefined = identity === RECEIVER ? pki.receiver : pki.gateways[identity];
      if (!files) throw new Error(`no identity ${identity} in the fixture`);
      return { ca, cert: readFileSync(files.cert, "utf8"), key: readFileSync(files.key, "utf8") };
    },
    async close() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
