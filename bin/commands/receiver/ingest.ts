import { randomBytes } from "node:crypto";
import { createLogger } from "../../../kernel/log.js";
import { buildReceiver } from "../../../ingest/receiver.js";

export interface IngestCliOptions {
  url: string;
  ca: string;
  cert: string;
  key: string;
  fleetCa: string;
  recipientKey: string;
  db: string;
  group: string;
  /** One receiver on a plain persistent subscription instead of a shared one. */
  share: boolean;
  clientId?: string;
  /** Fleet CRL (PEM): sessions and frames of revoked gateways are refused with REVOKED. */
  crl?: string;
  /** Seconds, as typed. */
  sessionExpiry: string;
  /** False with --no-receipts. */
  receipts: boolean;
  /** Oldest session-open accepted, in days of its createdNs (default 7). */
  maxBacklogDays: number;
  /** The fleet's partition count (--partitions), when its gateways publish on partitioned topics. */
  partitions?: number;
}

export async function ingestCommand(o: IngestCliOptions): Promise<number> {
  const sessionExpiryS = Number(o.sessionExpiry);
  if (!/^\d+$/.test(o.sessionExpiry) || sessionExpiryS > 0xffffffff) {
    console.error(`--session-expiry "${o.sessionExpiry}": give whole seconds, 0..4294967295 (4294967295 = never expires)`);
    return 2;
  }
  const logger = createLogger();
  const { service, store, revocation } = buildReceiver(
    {
      url: o.url, caFile: o.ca, certFile: o.cert, keyFile: o.key, fleetCaFile: o.fleetCa, recipientKeyFile: o.recipientKey,
      dbFile: o.db, group: o.share ? o.group : null, clientId: o.clientId ?? `otgw-ingest-${randomBytes(4).toString("hex")}`,
      ...(o.crl ? { crlFile: o.crl } : {}), maxBacklogAgeMs: o.maxBacklogDays * 86_400_000,
      sessionExpiryS, receipts: o.receipts, ...(o.partitions !== undefined ? { partitions: o.partitions } : {}),
    },
    logger,
  );
  await revocation?.load();
  await service.start();
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await service.stop();
  const c = store.counts();
  store.close();
  console.log(JSON.stringify({ verified: c.verified, rejected: c.quarantined, byReason: c.byReason, events: c.events }));
  return 0;
}
