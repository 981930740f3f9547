import { X509Certificate, type KeyObject } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { systemClock, type Clock } from "../../kernel/clock.js";
import type { Scheduler } from "../../kernel/scheduler.js";
import { child, type Logger } from "../../kernel/log.js";
import { errorText } from "../../kernel/errors.js";
import { readPublicKeyFile } from "../../kernel/pem.js";
import type { Signer } from "../../kernel/keystore.js";
import { PREDICTIONS_STREAM } from "../../kernel/prediction.js";
import { topicFor } from "../../envelope/format.js";
import type { Source } from "../../hal/source.js";
import { createSources } from "../../hal/registry.js";
import { openIdentity, type GatewayIdentity } from "../../provisioning/identity.js";
import { activeOverrides, loadConfig, type LoadedConfig } from "../config/load.js";
import type { GatewayConfig } from "../config/schema.js";
import { SqliteQueue } from "../queue/sqlite-queue.js";
import { MqttUplink } from "../uplink/mqtt-uplink.js";
import { AuditLog, AUDIT_EVENTS, type AuditData, type AuditEntry } from "../audit/audit-log.js";
import { Normalizer } from "../pipeline/normalize.js";
import { Validator } from "../pipeline/validate.js";
import { Quarantine } from "../pipeline/quarantine.js";
import { Gateway, AUDIT_SCHEMA_ID, AUDIT_STREAM, type GatewayStats } from "./gateway.js";
import { Outbox, type OutboxItem } from "./outbox.js";
import { ObservedQueue } from "./observed-queue.js";
import { StreamSessions } from "./sessions.js";
import { HeldReadings } from "./held-readings.js";
import { DropLedger } from "./drops.js";
import { QueueWriter } from "./queue-writer.js";
import { DeliveryCount } from "./delivery-count.js";
import { announceEndedSessions } from "./session-marks.js";
import { auditSafely } from "./audit-safely.js";
import { StateDirLock } from "./state-lock.js";
import { previousIdentityKey } from "./previous-identity.js";

/** How createGateway builds a gateway; only the config and the logger are required. */
export type CreateGatewayOptions = (
  /** A config file to load, or a config already loaded (its `file`, when known, goes into adapters' messages). */
  | { configFile: string }
  | { config: LoadedConfig & { file?: string } }
) & {
  logger: Logger;
  /** Default: the system clock. */
  clock?: Clock;
  /** Timers of the sources, the uplink and the periodic tick (default: the system's; tests pass a ManualTime). */
  scheduler?: Scheduler;
  /** An identity already open (the bench runs several gateways in turn on one); otherwise opened from the config. */
  identity?: GatewayIdentity;
  /** Signs through this wrapper of the identity's signer (tests: a TPM that stops answering). */
  wrapSigner?: (signer: Signer) => Signer;
  /** Instead of the configured sources (the bench's in-process source). */
  sources?: Source[];
  /** Stop sealing new readings after this many telemetry records; then `limitReached` resolves. */
  maxRecords?: number;
  /** Called after each group commit into the queue with the frames now durable (crash tests, tracing, the bench). */
  onCommitted?: (frames: ReadonlyArray<{ stream: string; data: boolean; payload: Buffer }>) => void;
};

/** A wired gateway, not started. */
export interface GatewayHandle {
  gateway: Gateway;
  config: GatewayConfig;
  /** The identity the gateway starts with (renewal and rotation switch away from it: watchIdentity). */
  identity: GatewayIdentity;
  /** Resolves once `maxRecords` readings were sealed; never without `maxRecords`. */
  limitReached: Promise<void>;
  /** Stops the gateway (Gateway.stop), then closes the identity if createGateway opened it. */
  stop(drainMs?: number): Promise<void>;
}

/**
 * The one place a gateway is wired, for `otgw run`, the demo, the bench and the tests: loads the config,
 * opens the identity and the sources, then the gateway's state in the order its start relies on — the
 * queue, the statements ending the sessions the previous run left open (before any frame of this run
 * is enqueued), the uplink, writer, outbox and sessions, and last the audit log, whose entries travel
 * as the sealed audit stream. Start the gateway (or stop it) once wired: its files are open.
 */
export async function createGateway(o: CreateGatewayOptions): Promise<GatewayHandle> {
  const { logger } = o;
  const clock = o.clock ?? systemClock;
  const configFile = "configFile" in o ? o.configFile : o.config.file;
  const { config, digest } = "configFile" in o ? loadConfig(o.configFile) : o.config;
  for (const ov of activeOverrides(config)) logger.warn({ override: ov.name, reason: ov.reason }, "production safeguard overridden (audited)");
  // Before anything of the gateway's is opened: a second gateway on the same state directory stops here.
  const lock = StateDirLock.take(config.gateway.stateDir);
  let identity: GatewayIdentity;
  try {
    identity = o.identity ?? await openIdentity(config);
  } catch (err) {
    lock.release();
    throw err;
  }
  const ownIdentity = o.identity === undefined;
  let limitHit: () => void = () => undefined;
  const limitReached = new Promise<void>((r) => (limitHit = r));
  try {
    const sources = o.sources ?? await createSources(config, clock, logger, { configFile, scheduler: o.scheduler });
    const signer = o.wrapSigner ? o.wrapSigner(identity.signer) : identity.signer;
    const gateway = await wire({
      config, digest, logger, clock, scheduler: o.scheduler, signer, tls: identity.tls, sources, onCommitted: o.onCommitted, maxRecords: o.maxRecords, onLimit: () => limitHit(), lock,
    });
    return {
      gateway, config, identity, limitReached,
      stop: async (drainMs) => {
        await gateway.stop(drainMs);
        if (ownIdentity) await identity.close?.();
      },
    };
  } catch (err) {
    if (ownIdentity) await identity.close?.();
    lock.release();
    throw err;
  }
}

interface WireInput {
  config: GatewayConfig;
  digest: string;
  logger: Logger;
  clock: Clock;
  scheduler: Scheduler | undefined;
  signer: Signer;
  tls: GatewayIdentity["tls"];
  sources: Source[];
  onCommitted: CreateGatewayOptions["onCommitted"];
  maxRecords: number | undefined;
  onLimit: () => void;
  lock: StateDirLock;
}

/** Opens the gateway's state and connects its collaborators; closes what it opened if a later step fails. */
async function wire(w: WireInput): Promise<Gateway> {
  const { config, clock, signer, logger } = w;
  const log = child(logger, "gateway");
  const stateDir = config.gateway.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const gatewayId = config.gateway.id;
  const cert = new X509Certificate(w.tls.cert);
  const certDer = Buffer.from(cert.raw);
  const recipientPublicKey = readPublicKeyFile(config.receiver.publicKeyFile, {
    what: "the receiver's public key (receiver.publicKeyFile)",
    fix: "copy the receiver.pub.pem that `otgw receiver keygen` wrote on the receiver (never its .key.pem)",
  });
  const priorities = new Map(config.streams.map((s) => [s.id, s.priority] as const));
  if (config.models) priorities.set(PREDICTIONS_STREAM, config.models.priority);
  const partitions = config.uplink.partitions;
  const topicOf = (stream: string): string => topicFor(gatewayId, stream, partitions); // StreamSessions asks once per stream
  const priorityOf = (stream: string): number => priorities.get(stream) ?? 0;
  const normalizer = new Normalizer(config, clock);
  const validator = new Validator(config);

  const stats: GatewayStats = { readings: 0, sealed: 0, quarantined: 0, publishedData: 0, publishedFrames: 0, refused: 0, queueDepth: 0, dropped: 0 };
  const delivery = new DeliveryCount(stats);
  // The audit log opens last (below); what reports into it before then reads this variable when it reports.
  let audit: AuditLog | undefined;
  const auditSafe = (type: string, data: AuditData): void => auditSafely(audit, log, type, data);
  const drops = new DropLedger({ logger, scheduler: w.scheduler, audit: (stream, data) => auditSafe(AUDIT_EVENTS.queueDropped, { stream, ...data }) });

  let uplinkRef: MqttUplink | undefined;
  const sqlite = SqliteQueue.open(join(stateDir, "queue.db"), {
    clock, maxBytes: config.queue.maxBytes, durability: config.queue.durability,
    minFreeBytes: config.queue.minFreeBytes, reserveBytes: config.queue.reserveBytes,
    onDrop: (reports) => {
      for (const r of reports) {
        drops.record(r.stream, r.reason, r.count, r.bytes);
        for (const id of r.ids) delivery.forget(id);
        uplinkRef?.forget(r.ids); // a dropped frame gets no receipt: the uplink stops waiting for it
      }
    },
  });
  const queue = new ObservedQueue(sqlite, (ids) => delivery.acked(ids), (id) => delivery.forget(id));
  let quarantine: Quarantine | undefined;
  let held: HeldReadings | undefined;
  try {
    // Sessions the previous run left open (SIGKILL, power cut): say, signed, where each ended in the
    // queue, before any frame of this run is enqueued, so each statement follows its session's frames.
    const announced = await announceEndedSessions({ queue, gatewayId, signer, certDer, clock, topicFor: topicOf, priorityOf, logger });
    // Receipt keys of the sessions this process opens (docs/envelope.md "Receipt"); sessions of an
    // earlier run have none (their data keys died with it): their frames are freed by PUBACK.
    const receiptKeys = new Map<string, KeyObject>();
    const uplink = new MqttUplink({
      url: config.uplink.url, tls: w.tls, queue, window: config.uplink.window, clientId: gatewayId, logger,
      backoff: { minMs: config.uplink.reconnectMinMs, maxMs: config.uplink.reconnectMaxMs }, clock, scheduler: w.scheduler,
      receipts: { mode: config.uplink.receipts, gatewayId, keyOf: (id) => receiptKeys.get(id), resendAfterMs: config.uplink.receiptResendMs },
    });
    uplinkRef = uplink;
    const writer = new QueueWriter({
      queue, drops, logger,
      onStored: (items: readonly OutboxItem[], ids) => {
        delivery.stored(items, ids);
        w.onCommitted?.(items);
      },
    });
    const outbox = new Outbox({
      scheduler: w.scheduler,
      write: (items) => writer.write(items),
      onFailure: (item, err) => {
        log.error({ stream: item.stream, err: errorText(err) }, "a control frame could not be signed");
        auditSafe(AUDIT_EVENTS.signFailure, { stream: item.stream, error: errorText(err) });
      },
      onWritten: () => uplink.kick(),
    });
    // Readings wait here, on disk, while the certificate is not valid now (docs/queue.md "Held readings").
    held = HeldReadings.open(join(stateDir, "held.db"), { maxBytes: config.queue.maxBytes, durability: config.queue.durability, clock });
    const sessions = new StreamSessions({
      gatewayId, signer, certDer, recipientPublicKey, clock, outbox, held,
      onHold: (e) => {
        if (e.kind === "holding") {
          log.error({ reason: e.reason, certSerial: e.certSerial, validFrom: e.validFrom, validTo: e.validTo }, e.reason === "not-yet-valid"
            ? "the gateway certificate is not valid yet at this gateway's clock: no session can be opened, readings are held on disk until it is (check the gateway's clock: `otgw check`, NTP; a clock behind the CA's by more than the certificate's back-dating does this)"
            : "the gateway certificate is not valid now: no session can be opened, readings are held on disk until a valid certificate is in place (run `otgw identity renew`)");
          auditSafe(AUDIT_EVENTS.identityHolding, { reason: e.reason, certSerial: e.certSerial, validFrom: e.validFrom, validTo: e.validTo });
        } else if (e.kind === "released") {
          log.info({ records: e.records }, "held readings sealed under the valid certificate and queued");
          auditSafe(AUDIT_EVENTS.identityReleased, { records: e.records });
        } else drops.record(e.stream, "held-full", 1, e.bytes);
      },
      checkpointEveryMessages: config.envelope.checkpointEveryMessages, checkpointEveryMs: config.envelope.checkpointEveryMs,
      sessionMaxMessages: config.envelope.sessionMaxMessages, topicFor: topicOf, priorityOf,
      onSessionOpened: (stream, sessionId, receiptKey) => {
        receiptKeys.set(sessionId, receiptKey);
        auditSafe(AUDIT_EVENTS.sessionOpened, { stream, sessionId });
      },
      logger,
    });
    quarantine = new Quarantine(join(stateDir, "quarantine.db"));
    audit = AuditLog.open(join(stateDir, "audit.jsonl"), {
      signer, clock, checkpointEvery: config.audit.checkpointEveryEntries, logger, previousKey: previousIdentityKey(config, cert),
    });
    audit.onEntry((e: AuditEntry) => sessions.submit(AUDIT_STREAM, Buffer.from(JSON.stringify(e)), AUDIT_SCHEMA_ID, BigInt(e.tsNs)));
    return new Gateway({
      config, configDigest: w.digest, logger, clock, scheduler: w.scheduler, signer, cert, sources: w.sources,
      queue, writer, outbox, sessions, uplink, audit, drops, quarantine, held,
      normalizer, validator, previousRun: { sessions: announced, queueRecovery: sqlite.recovery }, stats,
      maxRecords: w.maxRecords, onLimit: w.onLimit, stateLock: w.lock,
    });
  } catch (err) {
    quarantine?.close();
    held?.close();
    queue.close();
    throw err;
  }
}
