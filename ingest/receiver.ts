import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "../kernel/log.js";
import { systemClock, type Clock } from "../kernel/clock.js";
import { Verifier } from "../envelope/verify/verifier.js";
import { PARTITIONED_ROOT } from "../envelope/format.js";
import { IngestStore } from "./store.js";
import { IngestService } from "./service.js";
import { SqliteVerifierState } from "./verifier-state.js";
import { CrlRevocation } from "../envelope/verify/crl.js";
import { errorText, IngestError, InputFileError } from "../kernel/errors.js";
import { readCertificatePem, readPrivateKeyFile, readPrivateKeyPem } from "../kernel/pem.js";

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
  /** Oldest session-open accepted (ms of its createdNs before now); the verifier's default (7 days) if absent. */
  maxBacklogAgeMs?: number;
  /**
   * The fleet's partition count P (docs/topics.md "Partitioned topics"): the receiver reads
   * `otgw/v2/+/+/+` and refuses a frame on another partition than its gateway's (GATEWAY_MISMATCH).
   * Absent: `otgw/v1/+/+`.
   */
  partitions?: number;
}

/** Reads every PEM certificate in a bundle file as DER. */
export function readCertBundle(file: string): Buffer[] {
  const text = readFileSync(file, "utf8");
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new IngestError("INGEST_CA_FILE", `${file}: no PEM certificate found; pass the fleet CA certificate (PEM)`);
  return blocks.map((b, i) => {
    try {
      return Buffer.from(new X509Certificate(b).raw);
    } catch (err) {
      throw new InputFileError("CERT_FILE_INVALID", `${file}: certificate ${i + 1} of ${blocks.length} does not parse (OpenSSL: ${errorText(err)}); pass the fleet CA certificate (PEM, from \`otgw ca init\`)`);
    }
  });
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
    recipientPrivateKey: readPrivateKeyFile(f.recipientKeyFile, {
      what: "the receiver's private key (--recipient-key)",
      fix: "pass the receiver.key.pem that `otgw receiver keygen` wrote (its receiver.pub.pem is the one the gateways seal to)",
    }),
    state,
    clock,
    ...(f.maxBacklogAgeMs !== undefined ? { maxBacklogAgeMs: f.maxBacklogAgeMs } : {}),
    ...(f.partitions !== undefined ? { partitions: f.partitions } : {}),
  });
  const service = new IngestService({
    url: f.url,
    tls: {
      ca: readCertificatePem(f.caFile, { what: "the broker's CA (--ca)", fix: "pass the PEM certificate of the CA that signed the broker's certificate" }),
      cert: readCertificatePem(f.certFile, { what: "the receiver's client certificate (--cert)", fix: "pass the receiver's PEM client certificate for the broker" }),
      key: readPrivateKeyPem(f.keyFile, { what: "the receiver's client key (--key)", fix: "pass the PEM private key of the receiver's client certificate" }),
    },
    group: f.group,
    ...(f.partitions !== undefined ? { filter: `${PARTITIONED_ROOT}/+/+/+` } : {}),
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
