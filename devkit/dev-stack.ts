import { X509Certificate } from "node:crypto";
import { readFileSync, rmSync, mkdirSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Logger } from "../kernel/log.js";
import { loadConfig, type LoadedConfig } from "../firmware/config/load.js";
import { writeDevPki, issueCertificate, type DevPkiPaths, type CaBundle } from "../fleet/ca/pki.js";
import { SoftwareKeyStore } from "../provisioning/software-keystore.js";
import { startMosquitto, type RunningBroker } from "./broker/mosquitto.js";
import { writeReceiverKeys } from "../ingest/receiver-keys.js";
import { buildReceiver } from "../ingest/receiver.js";
import type { IngestService } from "../ingest/service.js";
import type { IngestStore } from "../ingest/store.js";

/**
 * DEVELOPMENT AND TESTS ONLY: a complete throwaway deployment on this machine — a fresh CA, a
 * locked-down mosquitto (mTLS, identity = certificate CN, per-gateway ACL), the receiver's HPKE key,
 * one software-keyed identity per gateway, and gateway configs derived from an example config.
 * The demo, `otgw dev up` (any user's config) and the end-to-end tests all use it, so what the demo
 * shows is what the tests prove.
 */
export interface DevStack {
  dir: string;
  pki: DevPkiPaths;
  broker: RunningBroker;
  receiverKeys: { privateKeyFile: string; publicKeyFile: string };
  /** Writes the gateway's key + certificate and a config derived from `exampleFile`; returns it loaded. */
  addGateway(id: string, exampleFile: string, patch?: (cfg: Record<string, unknown>) => void): Promise<LoadedConfig & { file: string }>;
  /** Builds (does not start) a receiver on this stack. */
  receiver(logger: Logger, name?: string, opts?: { shared?: boolean; sessionExpiryS?: number; receipts?: boolean; partitions?: number }): { service: IngestService; store: IngestStore };
  stop(): Promise<void>;
}

export const RECEIVER_NAME = "ingest";

/**
 * `brokerHost`: the address mosquitto listens on (default 127.0.0.1); a fault test passes the host side
 * of its network namespace's veth pair so that a gateway inside the namespace reaches the broker.
 */
export async function createDevStack(dirIn: string, opts: { fresh?: boolean; brokerHost?: string } = {}): Promise<DevStack> {
  const dir = resolve(dirIn);
  if (opts.fresh ?? true) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = await writeDevPki(join(dir, "pki"), { gateways: [], receiverName: RECEIVER_NAME, ...(opts.brokerHost ? { serverIps: [opts.brokerHost] } : {}) });
  const receiverKeys = writeReceiverKeys(join(dir, "receiver"));
  const broker = await startMosquitto({
    dir: join(dir, "broker"), ...(opts.brokerHost ? { host: opts.brokerHost } : {}), caFile: pki.caCert, certFile: pki.server.cert, keyFile: pki.server.key, ingestUsers: [RECEIVER_NAME],
  });
  const ca = { certPem: readFileSync(pki.caCert, "utf8"), keyPem: readFileSync(pki.caKey, "utf8") };

  const addGateway: DevStack["addGateway"] = async (id, exampleFile, patch) => {
    const gwDir = join(dir, "gateways", id);
    mkdirSync(gwDir, { recursive: true, mode: 0o700 });
    const keyDir = join(gwDir, "state", "keys");
    const ks = new SoftwareKeyStore(keyDir);
    const signer = (await ks.has("gateway")) ? await ks.open("gateway") : await ks.create("gateway");
    const issued = await issueCertificate({
      ca: caBundle(ca), commonName: id, publicKey: signer.publicKey(), days: 30, usage: "client", sanUris: [`urn:otgw:gateway:${id}`],
    });
    const certFile = join(gwDir, "gateway.crt");
    writeFileSync(certFile, issued.certPem);
    copyFileSync(pki.caCert, join(gwDir, "ca.crt"));
    const cfg = parseYaml(readFileSync(exampleFile, "utf8")) as Record<string, unknown>;
    // The derived config lives in this stack, not beside the example: the example's own relative paths
    // (OPC UA trust store and credentials, model signers) keep meaning what they meant next to it.
    absolutizeSourcePaths(cfg, dirname(resolve(exampleFile)));
    const section = (k: string): Record<string, unknown> => (cfg[k] ??= {}) as Record<string, unknown>;
    section("gateway").id = id;
    section("gateway").stateDir = join(gwDir, "state");
    section("gateway").mode = "development";
    Object.assign(section("identity"), { keystore: "software", keyName: "gateway", keyDir, certFile, caFile: join(gwDir, "ca.crt") });
    section("receiver").publicKeyFile = receiverKeys.publicKeyFile;
    Object.assign(section("uplink"), { url: broker.url, caFile: join(gwDir, "ca.crt") });
    patch?.(cfg);
    const file = join(gwDir, "gateway.json");
    writeFileSync(file, JSON.stringify(cfg, null, 2));
    return { ...loadConfig(file), file };
  };

  return {
    dir, pki, broker, receiverKeys, addGateway,
    receiver: (logger, name = "r1", ro = {}) => buildReceiver({
      url: broker.url, caFile: pki.caCert, certFile: pki.receiver.cert, keyFile: pki.receiver.key, fleetCaFile: pki.caCert,
      recipientKeyFile: receiverKeys.privateKeyFile, dbFile: join(dir, "receiver", `${name}.db`), group: (ro.shared ?? true) ? "otgw-ingest" : null, clientId: `otgw-ingest-${name}`,
      ...(ro.sessionExpiryS !== undefined ? { sessionExpiryS: ro.sessionExpiryS } : {}), ...(ro.receipts === false ? { receipts: false } : {}),
      ...(ro.partitions !== undefined ? { partitions: ro.partitions } : {}),
    }, logger),
    stop: () => broker.stop(),
  };
}

function caBundle(ca: { certPem: string; keyPem: string }): CaBundle {
  return { ...ca, certDer: Buffer.from(new X509Certificate(ca.certPem).raw) };
}

/** Rewrites the relative paths a config may carry outside the sections the stack replaces against `base`. */
function absolutizeSourcePaths(cfg: Record<string, unknown>, base: string): void {
  const abs = (o: Record<string, unknown>, key: string): void => {
    const v = o[key];
    if (typeof v === "string" && !isAbsolute(v)) o[key] = resolve(base, v);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  for (const s of Array.isArray(cfg.sources) ? cfg.sources : []) {
    if (!isObj(s) || s.kind !== "opcua") continue;
    abs(s, "pkiDir");
    if (isObj(s.user)) for (const k of ["passwordFile", "certFile", "keyFile"]) abs(s.user, k);
  }
  const models = cfg.models;
  if (isObj(models)) {
    abs(models, "dir");
    for (const t of Array.isArray(models.trustedSigners) ? models.trustedSigners : []) if (isObj(t)) abs(t, "publicKeyFile");
  }
}
