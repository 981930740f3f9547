import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "../kernel/log.js";
import { systemClock, type Clock } from "../kernel/clock.js";
import { Verifier } from "../envelope/verify/verifier.js";
import { IngestStore } from "./store.js";
import { IngestService } from "./service.js";
import { SqliteVerifierState } from "./verifier-state.js";
import { CrlRevocation } from "../envelope/verify/crl.js";
import { IngestError } from "../kernel/errors.js";

export interface ReceiverFiles {
  url: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  fleetCaFile: string;
  recipientKeyFile: string;
  dbFile: string;
  /** Shared-subscription group, or null for one receiver on a plain persistent subscription. */
  group: string | null;
  clientId: string;
  /** Fleet CA CRL (PEM); when set, sessions of revoked gateways are refused (fail closed). */
  crlFile?: string;
  /** MQTT session expiry of the receiver's persistent session, seconds (default 3600). */
  sessionExpiryS?: number;
  /** False: send no receipts (default: send them). */
  receipts?: boolean;
}

/** Reads every PEM certificate in a bundle file as DER. */
export function readCertBundle(file: string): Buffer[] {
  const text = readFileSync(file, "utf8");
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new IngestError("INGEST_CA_FILE", `${file}: no PEM certificate found; pass the fleet CA certificate (PEM)`);
  return blocks.map((b) => Buffer.from(new X509Certificate(b).raw));
}

/** Wires the receiver from files: the one place its collaborators are built. */
export function buildReceiver(f: ReceiverFiles, logger: Logger, clock: Clock = systemClock): { service: IngestService; store: IngestStore; revocation?: CrlRevocation } {
  const store = new IngestStore(f.dbFile);
  const state = new SqliteVerifierState(store);
  const caCertsDer = readCertBundle(f.fleetCaFile);
  const log = logger.child({ module: "revocation" });
  const revocation = f.crlFile ? new CrlRevocation(f.crlFile, caCertsDer, (i) => log.info({ event: "crl.loaded", ...i }, "CRL (re)loaded")) : undefined;
  const verifier = new Verifier({
    trust: { caCertsDer, ...(revocation ? { isRevoked: revocation.isRevoked } : {}) },
    recipientPrivateKey: createPrivateKey(readFileSync(f.recipientKeyFile, "utf8")),
    state,
    clock,
  });
  const service = new IngestService({
    url: f.url,
    tls: { ca: readFileSync(f.caFile, "utf8"), cert: readFileSync(f.certFile, "utf8"), key: readFileSync(f.keyFile, "utf8") },
    group: f.group,
    clientId: f.clientId,
    verifier,
    state,
    store,
    logger,
    clock,
    ...(f.sessionExpiryS !== undefined ? { sessionExpiryS: f.sessionExpiryS } : {}),
    ...(f.receipts === false ? { receipts: false as const } : {}),
  });
  return { service, store, ...(revocation ? { revocation } : {}) };
}
