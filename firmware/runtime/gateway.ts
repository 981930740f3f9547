import { createHash, X509Certificate } from "node:crypto";
import type { Clock } from "../../kernel/clock.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import type { Logger } from "../../kernel/log.js";
import { child } from "../../kernel/log.js";
import { errorText, RuntimeError } from "../../kernel/errors.js";
import { READING_SCHEMA_ID } from "../../kernel/record.js";
import type { GatewayConfig } from "../config/schema.js";
import { bootStateAudit, readBootState } from "../../provisioning/attest/files.js";
import { activeOverrides } from "../config/load.js";
import type { Signer } from "../../kernel/keystore.js";
import { isTamperReporter, type Source, type RawReading } from "../../hal/source.js";
import type { Queue } from "../queue/queue.js";
import type { RecoveryReport } from "../queue/sqlite-queue.js";
import type { MqttUplink, UplinkCounters } from "../uplink/mqtt-uplink.js";
import { AUDIT_EVENTS, type AuditLog } from "../audit/audit-log.js";
import type { Normalizer } from "../pipeline/normalize.js";
import type { Validator } from "../pipeline/validate.js";
import type { Quarantine } from "../pipeline/quarantine.js";
import type { HeldReadings } from "./held-readings.js";
import { encodeRecord } from "../pipeline/encode.js";
import type { Outbox } from "./outbox.js";
import type { StreamSessions } from "./sessions.js";
import { openModelStage } from "../models/runtime.js";
import { PREDICTIONS_STREAM } from "../../kernel/prediction.js";
import type { ModelOutput, ModelStage } from "../models/stage.js";
import type { DropLedger } from "./drops.js";
import type { QueueWriter } from "./queue-writer.js";
import type { Announced } from "./session-marks.js";
import { auditSafely } from "./audit-safely.js";

/**
 * Most records and frames the gateway holds in memory (waiting for a session to open, or sealed and
 * waiting for a checkpoint's signature before the ready prefix goes into the queue). Past it, new
 * readings are dropped, counted and audited (reason "memory"): backpressure goes to the disk queue,
 * never into unbounded RAM (a hung signer must not exhaust memory).
 */
export const MAX_IN_MEMORY = 16_384;

/**
 * V8 heap limits the gateway process runs with, whatever its sources: the one statement of them
 * (`node <flags> dist/bin/otgw.js run`; docs/queue.md "Memory"). The image's service unit, the README,
 * the bench and `otgw dev up` use exactly these; test/runtime/heap-flags.test.ts checks every place
 * that states them. Old space 96 MB: a gateway with an OPC UA source keeps ~50 MB of live heap
 * (node-opcua alone holds ~37 MB once loaded) and died out of memory under the former 48.
 * Without limits V8 lets garbage pile up to several hundred MB before collecting.
 */
export const GATEWAY_NODE_FLAGS = ["--max-old-space-size=96", "--max-semi-space-size=4"] as const;

/** The audit log travels upstream as its own sealed stream. */
export { AUDIT_STREAM, AUDIT_SCHEMA_ID } from "../audit/events.js";

/**
 * The gateway's collaborators, opened and wired by createGateway (create-gateway.ts): the one place
 * that builds a gateway for `otgw run`, the demo, the bench and the tests. The gateway only uses them.
 */
export interface GatewayParts {
  config: GatewayConfig;
  configDigest: string;
  logger: Logger;
  clock: Clock;
  /** Timers of the periodic tick (default: the system's); createGateway gives the uplink the same one. */
  scheduler?: Scheduler;
  /** The signer and certificate the gateway starts with (switchIdentity moves to others). */
  signer: Signer;
  cert: X509Certificate;
  sources: Source[];
  /** The queue as the runtime sees it (acknowledgements counted) and its writer (full disk handling). */
  queue: Queue;
  writer: QueueWriter;
  outbox: Outbox;
  sessions: StreamSessions;
  uplink: MqttUplink;
  /** Open, its entries already fed to the sessions as the sealed audit stream. */
  audit: AuditLog;
  drops: DropLedger;
  /** Readings held on disk while the certificate is not valid now (closed by stop()). */
  held?: HeldReadings;
  normalizer: Normalizer;
  validator: Validator;
  quarantine: Quarantine;
  /** What opening the state found of the previous run; start() audits it after its own first entries. */
  previousRun: { sessions: Announced; queueRecovery: RecoveryReport | null };
  /** The stats object, shared with the queue's delivery counting. */
  stats: GatewayStats;
  /** Stop sealing new readings after this many telemetry records (the demo's --messages). */
  maxRecords?: number;
  /** Called once when maxRecords is reached. */
  onLimit?: () => void;
  /** The state directory's lock (StateDirLock), given up once stop() has closed the state's files. */
  stateLock?: { release(): void };
}

export interface GatewayStats {
  readings: number;
  sealed: number;
  quarantined: number;
  /** Data frames delivered and freed: receipted by the receiver (uplink.receipts required), or PUBACKed (off; or a session of an earlier run). */
  publishedData: number;
  /** All frames acknowledged, control frames included. */
  publishedFrames: number;
  refused: number;
  queueDepth: number;
  /** Data frames dropped by the queue policy (byte bound, full disk), all streams; per stream in `drops`. */
  dropped: number;
}

/**
 * The runtime: sources → normalize → validate (→ quarantine) → seal → outbox → queue → uplink, plus the
 * audit log shipped as its own sealed stream. The constructor only stores its collaborators;
 * start() and stop() bring everything up and down in order, so tests can run several in one process.
 */
export class Gateway {
  private readonly log: Logger;
  private readonly queue: Queue;
  private readonly uplink: MqttUplink;
  private readonly audit: AuditLog;
  private readonly sessions: StreamSessions;
  private readonly outbox: Outbox;
  private readonly writer: QueueWriter;
  /** Dropped data frames by stream and reason (docs/queue.md). */
  readonly drops: DropLedger;
  private readonly quarantine: Quarantine;
  /** The verified edge model, when `models` is configured and a valid bundle is installed (issue 6). */
  private models: ModelStage | null = null;
  private tickTimer: Timer | null = null;
  private started = false;
  private accepting = false;
  private readonly unsubscribers: Array<() => void> = [];
  private limitHit = false;
  /** The last refusal audited; cleared by a successful connection (uplink.refused is recorded once per reason in a row). */
  private lastRefusal: string | null = null;
  /** The certificate in use (it changes with switchIdentity). */
  private cert: X509Certificate;
  readonly stats: GatewayStats;

  constructor(private readonly d: GatewayParts) {
    this.log = child(d.logger, "gateway");
    this.queue = d.queue;
    this.uplink = d.uplink;
    this.audit = d.audit;
    this.sessions = d.sessions;
    this.outbox = d.outbox;
    this.writer = d.writer;
    this.drops = d.drops;
    this.quarantine = d.quarantine;
    this.cert = d.cert;
    this.stats = d.stats;
  }

  /** Audits without letting an unwritable audit log (e.g. a full disk) stop the data path. */
  private auditSafe(type: string, data: Parameters<AuditLog["append"]>[1]): void {
    auditSafely(this.audit, this.log, type, data);
  }

  /**
   * Brings the gateway up, in order: audits its start (identity, config and its overrides, then what
   * the previous run left), starts the uplink, then the sources.
   */
  async start(): Promise<void> {
    const { config, clock, signer } = this.d;
    const gatewayId = config.gateway.id;
    const uplink = this.uplink;
    this.started = true;
    this.audit.append(AUDIT_EVENTS.gatewayStart, { gatewayId, mode: config.gateway.mode, signer: signer.kind, certSerial: this.cert.serialNumber, keyId: keyIdOf(this.cert) });
    // Production safeguards the config overrides are evidence: each is recorded with its reason.
    this.audit.append(AUDIT_EVENTS.configLoaded, { digest: this.d.configDigest, overrides: activeOverrides(config) });
    const { sessions: announced, queueRecovery } = this.d.previousRun;
    for (const e of announced.ended) this.auditSafe(AUDIT_EVENTS.sessionEnded, { stream: e.stream, sessionId: e.sessionId, lastSeq: e.lastSeq.toString() });
    if (announced.failed) this.auditSafe(AUDIT_EVENTS.sessionEndFailed, announced.failed);
    if (queueRecovery) {
      const r = queueRecovery;
      this.log.error({ ...r }, "queue file was damaged: moved aside, readable frames recovered, the rest is lost (the receiver reports the gaps)");
      this.auditSafe(AUDIT_EVENTS.queueRecovered, { movedTo: r.movedTo, problem: r.problem, salvaged: r.salvaged, unreadable: r.unreadable, tailLost: r.tailLost });
    }
    this.drops.start();
    // Models: the active bundle is re-verified before it scores anything; refusals are audited.
    this.models = openModelStage(config, this.audit, clock, this.d.logger);

    uplink.on("refused", (ev: { topic: string; id: number; reasonCode: number; reasonText: string }) => {
      this.stats.refused++;
      this.auditSafe(AUDIT_EVENTS.authFailure, { topic: ev.topic, reasonCode: ev.reasonCode, reason: ev.reasonText });
    });
    uplink.on("connectFailed", (error, code) => this.reportUplinkRefused(error, code));
    uplink.on("connected", () => { this.lastRefusal = null; });
    uplink.start();

    const { normalizer, validator } = this.d;
    const quarantine = this.quarantine;
    this.accepting = true;
    for (const source of this.d.sources) {
      if (isTamperReporter(source)) {
        this.unsubscribers.push(source.onTamper((e) => this.auditSafe(AUDIT_EVENTS.tamperInput, { source: e.sourceId, uri: e.uri, active: e.active })));
      }
    }
    for (const source of this.d.sources) {
      await source.start((raw: RawReading) => {
        if (!this.accepting) return;
        this.stats.readings++;
        const rec = normalizer.normalize(source, raw);
        if (rec === null) return;
        const verdict = validator.validate(rec);
        if (!verdict.ok) {
          this.stats.quarantined++;
          quarantine.add(rec, verdict.reason);
          this.auditSafe(AUDIT_EVENTS.recordQuarantined, { point: rec.point, stream: rec.stream, reason: verdict.reason });
          return;
        }
        const bytes = encodeRecord(rec);
        if (this.inMemory() >= MAX_IN_MEMORY) {
          // Never sealed, so the receiver sees no gap for it: the count and the audit entry are the evidence.
          this.drops.record(rec.stream, "memory", 1, bytes.length);
          return;
        }
        this.sessions.submit(rec.stream, bytes, READING_SCHEMA_ID, BigInt(rec.sourceTsNs));
        if (this.models) this.submitModelOutputs(this.models.observe(rec, bytes));
        this.stats.sealed++;
        if (this.d.maxRecords !== undefined && this.stats.sealed >= this.d.maxRecords && !this.limitHit) {
          this.limitHit = true;
          this.accepting = false;
          this.d.onLimit?.();
        }
      });
    }
    this.tickTimer = (this.d.scheduler ?? systemScheduler).setInterval(() => this.sessions?.tick(), Math.min(1000, config.envelope.checkpointEveryMs)).unref();
    this.log.info({ gatewayId, sources: this.d.sources.length, streams: config.streams.length }, "gateway started");
  }

  /**
   * Moves the running gateway to a renewed (same key) or rotated (new key) identity, make-before-break
   * (docs/identity.md "Rotation of a running gateway"): the uplink connects with the new certificate and
   * only then closes the old connection (if the new one fails, nothing changes and this throws); then
   * every envelope session is closed and the next ones are signed by the new key and carry the new
   * certificate; after a rotation the audit log's checkpoints move to the new key. Audited.
   */
  async switchIdentity(next: { signer: Signer; tls: { ca: string; cert: string; key: string } }): Promise<void> {
    const { uplink, sessions, audit, cert: from } = this;
    if (!this.started) throw new RuntimeError("GATEWAY_NOT_RUNNING", "the gateway is not running: start() it first");
    const to = new X509Certificate(next.tls.cert);
    const rotated = !to.publicKey.equals(from.publicKey);
    // If the new connection fails this throws and nothing has changed (the caller reports it).
    const report = await uplink.switchTo(next.tls);
    this.cert = to;
    const ids = { serialFrom: from.serialNumber, serialTo: to.serialNumber, notAfter: new Date(to.validTo).toISOString() };
    if (rotated) this.auditSafe(AUDIT_EVENTS.identityRotated, { ...ids, keyFrom: keyIdOf(from), keyTo: keyIdOf(to) });
    else this.auditSafe(AUDIT_EVENTS.identityRenewed, { ...ids, keyId: keyIdOf(to) });
    // The fleet's verdict on the boot-state quote that went with this certificate (written by the renewing CLI).
    const boot = readBootState(this.d.config.identity.certFile);
    if (boot?.serial === to.serialNumber) this.auditSafe(AUDIT_EVENTS.identityBootState, bootStateAudit(boot, boot.op));
    this.auditSafe(AUDIT_EVENTS.uplinkSwitched, { serial: to.serialNumber, clientId: report.clientId, drainMs: report.drainMs, carriedOver: report.carriedOver, madeBeforeBreak: report.madeBeforeBreak });
    const closed = await sessions.setIdentity(next.signer, Buffer.from(to.raw));
    if (rotated) await audit.setSigner(next.signer);
    this.log.info({ serial: to.serialNumber, rotated, sessionsClosed: closed, ...report }, rotated ? "identity rotated" : "identity renewed");
  }

  /**
   * The broker refused the uplink's connection (a TLS alert such as a revoked certificate, or a CONNACK
   * failure): audited as `uplink.refused`, once per reason until a connection succeeds again. Network
   * failures (broker down) are not refusals and are not audited.
   */
  reportUplinkRefused(error: string, code: string | number | undefined): void {
    const refusal = (typeof code === "number" && code >= 0x80) || /CERT|ALERT|HANDSHAKE/i.test(String(code ?? "")) || /certificate|alert|not authori[sz]ed|bad user name/i.test(error);
    if (!refusal) return;
    const reason = String(code ?? error);
    if (reason === this.lastRefusal) return;
    this.lastRefusal = reason;
    this.log.error({ reason, error }, "the broker refused the connection");
    this.auditSafe(AUDIT_EVENTS.uplinkRefused, { reason, detail: error.slice(0, 300) });
  }

  /** Audits a failed renewal or identity switch (IdentityWatch); the identity in use stays. */
  reportIdentityFailure(stage: string, err: unknown): void {
    this.auditSafe(AUDIT_EVENTS.identityFailed, { stage, error: errorText(err) });
  }

  /** Predictions and drift reports travel sealed on their own, more urgent stream (docs/model-bundle.md). */
  private submitModelOutputs(outputs: readonly ModelOutput[]): void {
    for (const o of outputs) this.sessions.submit(PREDICTIONS_STREAM, o.bytes, o.schemaId, o.tsNs);
  }

  /** The uplink's counters (reconnects, switches, ...). */
  uplinkCounters(): UplinkCounters {
    return this.uplink.counters();
  }

  /** True while the uplink has a broker connection. */
  uplinkConnected(): boolean {
    return this.uplink.isConnected();
  }

  /** Records and frames held in memory: not yet sealed (session opening) or not yet in the queue. */
  inMemory(): number {
    return this.sessions.waiting + this.outbox.pending + this.writer.pending;
  }

  /** Frames still waiting for a PUBACK (queue) or for their signature (outbox), and held records. */
  backlog(): number {
    return this.queue.depth().count + this.outbox.pending + this.writer.pending + this.sessions.held;
  }

  /** Records held on disk until a valid certificate opens sessions for them. */
  heldRecords(): number {
    return this.sessions.held;
  }

  /** Resolves when everything sealed so far has been acknowledged by the broker. */
  async flushed(pollMs = 50): Promise<void> {
    await this.outbox.drained();
    while (this.backlog() > 0) await new Promise((r) => setTimeout(r, pollMs));
  }

  /**
   * Stops in order: sources, then final checkpoints and the audit's final entries are sealed, then the
   * uplink gets `drainMs` to deliver the backlog (what it cannot deliver stays queued for next start).
   * A gateway that never started only closes its files (createGateway opened them).
   */
  async stop(drainMs = 10_000): Promise<void> {
    if (!this.started) {
      await this.audit.close();
      this.queue.close();
      this.quarantine.close();
      this.d.held?.close();
      this.d.stateLock?.release();
      return;
    }
    this.accepting = false;
    this.tickTimer?.cancel();
    for (const s of this.d.sources) await s.stop();
    if (this.models) this.submitModelOutputs(this.models.flush());
    for (const u of this.unsubscribers.splice(0)) u();
    this.drops.stop();
    this.stats.dropped = this.drops.total;
    // Order matters: every session-open is recorded before the audit log closes, and the audit log's
    // last entries are sealed before the sessions close with their final checkpoints.
    await this.sessions.settle();
    this.auditSafe(AUDIT_EVENTS.gatewayStop, { readings: this.stats.readings, sealed: this.stats.sealed, quarantined: this.stats.quarantined });
    await this.audit.close();
    await this.sessions.closeAll();
    await this.outbox.drained();
    const deadline = Date.now() + drainMs;
    while (this.backlog() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.uplink.stop();
    this.stats.queueDepth = this.queue.depth().count;
    this.queue.close();
    this.quarantine.close();
    this.d.held?.close();
    this.d.stateLock?.release();
    this.log.info({ ...this.stats }, "gateway stopped");
  }
}

/** SHA-256 of a certificate's public key (SPKI DER), hex: how audit entries name keys. */
function keyIdOf(cert: X509Certificate): string {
  return createHash("sha256").update(cert.publicKey.export({ type: "spki", format: "der" })).digest("hex");
}
