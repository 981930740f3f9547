import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../kernel/clock.js";
import { Backoff } from "../../kernel/backoff.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { GatewayError, SourceError, errorText } from "../../kernel/errors.js";
import { readCertificateFile, readInputBytes, readPrivateKeyPem } from "../../kernel/pem.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { OpcuaItemConfig, OpcuaSourceConfig } from "./schema.js";
import type { ReadingSink, Source, SourceHealth } from "../source.js";
import { readingOf, type DataValueLike } from "./quality.js";
import { subjectOf, thumbprintOf, TrustStore } from "./trust-store.js";
import { routeNodeOpcuaLogs } from "./library-logs.js";
import { SinkDelivery } from "../delivery.js";
import { unreachableReadings } from "../unreachable.js";

type NodeOpcua = typeof import("node-opcua");
type Client = import("node-opcua").OPCUAClient;
type Session = import("node-opcua").ClientSession;
type Subscription = import("node-opcua").ClientSubscription;

export interface OpcuaSourceOptions {
  config: OpcuaSourceConfig;
  /** The trust store and own certificate directory (resolved: default <stateDir>/pki/opcua). */
  pkiDir: string;
  /** Shown in the trust error's command; "FILE" when unknown. */
  configFile?: string;
  /** The reconnect timer (default: the system's). */
  scheduler?: Scheduler;
}

/** First reconnect delay; each failed attempt doubles it up to the source's `reconnectMaxMs`. */
export const OPCUA_RETRY_MIN_MS = 500;

/** Untrusted server certificate: the message names it and says exactly what to run. */
export class OpcuaUntrustedError extends SourceError {
  constructor(readonly thumbprint: string, readonly subject: string, endpoint: string, configFile: string) {
    super(
      "OPCUA_SERVER_UNTRUSTED",
      `OPC UA server ${endpoint} presented certificate ${thumbprint} (${subject}), which is not trusted. ` +
        `Check the thumbprint with the machine's integrator, then run: otgw trust opcua trust ${thumbprint} --config ${configFile}`,
    );
  }
}

/**
 * OPC UA client behind the `Source` interface: one session, one subscription, one monitored item per
 * configured node. Before a secure connection the server certificate offered by endpoint discovery is
 * checked against the technician's trust store (trust-store.ts); an untrusted one stops the source with
 * an actionable error and is re-checked on every retry, so `otgw trust opcua trust` takes effect without
 * a restart. Every reconnect, the first one and those after a lost connection, is ours and goes through
 * that check with backoff up to `reconnectMaxMs`: node-opcua's own reconnection retried a server whose
 * certificate had changed hundreds of times a second and bypassed the trust store's message. While no
 * session delivers, every mapped node gets a bad `opcua-unreachable` reading (hal/unreachable.ts) on each
 * failed attempt, as Modbus does. node-opcua loads lazily.
 */
export class OpcuaSource implements Source {
  readonly id: string;
  readonly adapter = "opcua";
  private readonly log: Logger;
  private readonly cfg: OpcuaSourceConfig;
  private readonly hostPort: string;
  private client: Client | null = null;
  private session: Session | null = null;
  private subscription: Subscription | null = null;
  private retryTimer: Timer | null = null;
  private run = 0;
  private sink: ReadingSink | null = null;
  private state: SourceHealth["state"] = "stopped";
  private detail: string | null = null;
  private readonly delivery: SinkDelivery;
  private errors = 0;
  private readonly scheduler: Scheduler;
  /** Every reconnect (node-opcua's own reconnection is off): reset once a subscription is up again. */
  private readonly retry: Backoff;
  /** The cause last logged (an error code or message), so a failure that repeats is logged once. */
  private loggedCause: string | null = null;
  /** The own-certificate mismatch is worth one warning per source, not one per reconnect. */
  private warnedCertificate = false;
  /** The lost client's teardown, which stop() waits for. */
  private dropping: Promise<void> = Promise.resolve();

  constructor(private readonly opts: OpcuaSourceOptions, private readonly clock: Clock, private readonly rootLog: Logger = silentLogger()) {
    this.id = opts.config.id;
    this.cfg = opts.config;
    this.log = child(rootLog, "hal.opcua");
    this.delivery = new SinkDelivery(this.log, this.id);
    this.hostPort = /^opc\.tcp:\/\/([^/]+)/.exec(this.cfg.endpointUrl)?.[1] ?? "unknown";
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.retry = new Backoff({ minMs: OPCUA_RETRY_MIN_MS, maxMs: this.cfg.reconnectMaxMs, jitter: 0 });
  }

  /** `opcua://host:port/<NodeId>` */
  uriFor(address: string): string {
    return `opcua://${this.hostPort}/${address}`;
  }

  addresses(): readonly string[] {
    return this.cfg.items.map((i) => i.nodeId);
  }

  health(): SourceHealth {
    return { state: this.state, detail: this.detail, readings: this.delivery.delivered, errors: this.errors + this.delivery.failed };
  }

  /** The trust store this source checks server certificates against. */
  trustStore(): TrustStore {
    return new TrustStore(this.opts.pkiDir);
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.sink) return;
    this.sink = sink;
    const run = ++this.run;
    this.state = "starting";
    this.retry.reset();
    this.loggedCause = null;
    await this.attempt(run);
  }

  async stop(): Promise<void> {
    this.run++;
    this.sink = null;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    await this.teardown();
    await this.dropping;
    this.state = "stopped";
    this.log.info({ source: this.id, readings: this.delivery.delivered }, "opcua source stopped");
  }

  private async attempt(run: number): Promise<void> {
    try {
      await this.connect(run);
      if (run !== this.run) return;
      this.state = "running";
      this.detail = null;
      this.retry.reset();
      this.loggedCause = null;
      this.log.info({ source: this.id, endpoint: this.cfg.endpointUrl, items: this.cfg.items.length }, "opcua source subscribed");
    } catch (err) {
      await this.teardown();
      if (run !== this.run) return;
      this.errors++;
      this.state = "failed";
      this.detail = errorText(err);
      this.deliverUnreachable();
      const delayMs = this.retry.next();
      // Once per cause: a server that stays down, or keeps presenting the same untrusted certificate, is one line.
      const cause: string = err instanceof GatewayError ? (err as GatewayError<string>).code : this.detail;
      if (cause !== this.loggedCause) {
        this.loggedCause = cause;
        const thumbprint = err instanceof OpcuaUntrustedError ? { thumbprint: err.thumbprint } : {};
        this.log.error({ source: this.id, ...thumbprint, err: this.detail, retryMs: delayMs, reconnectMaxMs: this.cfg.reconnectMaxMs }, "opcua source cannot connect; retrying with backoff");
      }
      this.scheduleAttempt(run, delayMs);
    }
  }

  private scheduleAttempt(run: number, delayMs: number): void {
    this.retryTimer?.cancel();
    this.retryTimer = this.scheduler.setTimeout(() => {
      this.retryTimer = null;
      void this.attempt(run);
    }, delayMs).unref();
  }

  private async connect(run: number): Promise<void> {
    const ua: NodeOpcua = await import("node-opcua");
    routeNodeOpcuaLogs(ua, this.rootLog);
    const mode = ua.MessageSecurityMode[this.cfg.securityMode];
    const policy = ua.SecurityPolicy[this.cfg.securityPolicy];
    const cm = new ua.OPCUACertificateManager({ rootFolder: this.opts.pkiDir, automaticallyAcceptUnknownCertificate: this.cfg.trustAll });
    await cm.initialize();
    await this.ensureOwnCertificate(cm);

    // Discovery on an unsecured channel (allowed for GetEndpoints) to see the certificate the server will use.
    const offered = await this.discover(ua, cm);
    const ep = offered.find((e) => e.securityMode === mode && e.securityPolicyUri === policy);
    if (!ep) {
      const list = offered.map((e) => `${ua.MessageSecurityMode[e.securityMode]}/${(e.securityPolicyUri ?? "").split("#")[1] ?? "?"}`).join(", ");
      throw new SourceError("OPCUA_NO_ENDPOINT", `OPC UA server ${this.cfg.endpointUrl} offers no endpoint with ${this.cfg.securityMode}/${this.cfg.securityPolicy}; it offers: ${list || "(none)"}`);
    }
    if (this.cfg.securityMode !== "None" && !this.cfg.trustAll) this.checkTrust(ep.serverCertificate);
    if (run !== this.run) return;

    const client = ua.OPCUAClient.create({
      applicationName: this.cfg.applicationName,
      applicationUri: this.applicationUri(),
      securityMode: mode,
      securityPolicy: policy,
      clientCertificateManager: cm,
      endpointMustExist: false,
      keepSessionAlive: true,
      requestedSessionTimeout: Math.max(60_000, this.cfg.publishingIntervalMs * 20),
      // No retries inside node-opcua: a lost connection comes back through attempt() (trust check, backoff).
      connectionStrategy: { initialDelay: 250, maxDelay: this.cfg.reconnectMaxMs, maxRetry: 0 },
      transportTimeout: this.cfg.timeoutMs,
    });
    this.client = client;
    client.on("connection_lost", () => this.onLost(run, client));
    await client.connect(this.cfg.endpointUrl);
    const session = await client.createSession(this.identity(ua));
    this.session = session;
    const sub = await session.createSubscription2({
      requestedPublishingInterval: this.cfg.publishingIntervalMs,
      requestedLifetimeCount: 100,
      requestedMaxKeepAliveCount: 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.subscription = sub;
    for (const item of this.cfg.items) await this.monitor(ua, sub, item, run);
  }

  private async discover(ua: NodeOpcua, cm: import("node-opcua").OPCUACertificateManager): Promise<import("node-opcua").EndpointDescription[]> {
    const probe = ua.OPCUAClient.create({
      // Named like the session client: node-opcua creates the application certificate with the first client's name.
      applicationName: this.cfg.applicationName, applicationUri: this.applicationUri(),
      securityMode: ua.MessageSecurityMode.None, securityPolicy: ua.SecurityPolicy.None, endpointMustExist: false,
      clientCertificateManager: cm, connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 }, transportTimeout: this.cfg.timeoutMs,
    });
    try {
      await probe.connect(this.cfg.endpointUrl);
      return await probe.getEndpoints();
    } catch (err) {
      throw new SourceError("OPCUA_UNREACHABLE", `OPC UA server ${this.cfg.endpointUrl} unreachable: ${errorText(err)}; check address, port and firewall`, { cause: err });
    } finally {
      await probe.disconnect().catch(() => undefined);
    }
  }

  /** The application URI in the gateway's OPC UA certificate and in its sessions. */
  private applicationUri(): string {
    return `urn:otgw:${this.cfg.applicationName}`;
  }

  /**
   * The gateway's application instance certificate, made once in `own/certs/client_certificate.pem`
   * (where node-opcua looks) with our name and URI: node-opcua's default would carry
   * `CN=NodeOPCUA-Client@<host>, O=Sterfive` and a URI that does not match the session's (W06).
   * An existing certificate is kept: servers have trusted it. One made for another URI (an earlier
   * version, or applicationName changed) is named in a warning that says how to replace it.
   */
  private async ensureOwnCertificate(cm: import("node-opcua").OPCUACertificateManager): Promise<void> {
    const file = join(cm.rootDir, "own", "certs", "client_certificate.pem");
    if (existsSync(file)) {
      const san = new X509Certificate(readFileSync(file)).subjectAltName ?? "";
      if (!san.split(", ").includes(`URI:${this.applicationUri()}`) && !this.warnedCertificate) {
        this.warnedCertificate = true;
        this.log.warn({ source: this.id, file, applicationUri: this.applicationUri() },
          "the gateway's OPC UA certificate was made for another application URI; to replace it, delete it and own/private/private_key.pem, restart, and trust the new certificate on the server");
      }
      return;
    }
    const host = hostname();
    await cm.createSelfSignedCertificate({
      outputFile: file,
      subject: `/CN=${`${this.cfg.applicationName}@${host}`.slice(0, 63)}/O=otgw`,
      applicationUri: this.applicationUri(),
      dns: [host],
      // Real time, not the injected clock: the server checks the validity against its own clock.
      startDate: new Date(),
      validity: 365 * 10,
    });
    this.log.info({ source: this.id, applicationUri: this.applicationUri() }, "opcua application certificate created");
  }

  private checkTrust(cert: Buffer | null | undefined): void {
    if (!cert || cert.length === 0) throw new SourceError("OPCUA_NO_CERTIFICATE", `OPC UA server ${this.cfg.endpointUrl} sent no certificate for a secure endpoint`);
    // The server may send its chain; the leaf comes first. Its DER length is in the outer SEQUENCE header.
    const leaf = leafOf(cert);
    const store = this.trustStore();
    const status = store.status(leaf);
    if (status === "trusted") return;
    if (status === "unknown") store.recordRejected(leaf);
    throw new OpcuaUntrustedError(thumbprintOf(leaf), subjectOf(new X509Certificate(leaf)), this.cfg.endpointUrl, this.opts.configFile ?? "FILE");
  }

  private identity(ua: NodeOpcua): import("node-opcua").UserIdentityInfo {
    const u = this.cfg.user;
    const at = `sources[id=${this.id}].user`;
    if (u.type === "username") {
      const password = readInputBytes(u.passwordFile, { what: `the OPC UA password file (${at}.passwordFile)`, fix: "create it (mode 0600) with the password on one line, or fix the path" });
      return { type: ua.UserTokenType.UserName, userName: u.username, password: password.toString("utf8").trim() };
    }
    if (u.type === "certificate") {
      const fix = "give the PEM files of the user certificate the server's administrator registered and of its private key";
      const der = Buffer.from(readCertificateFile(u.certFile, { what: `the OPC UA user certificate (${at}.certFile)`, fix }).raw);
      return { type: ua.UserTokenType.Certificate, certificateData: der, privateKey: readPrivateKeyPem(u.keyFile, { what: `the OPC UA user key (${at}.keyFile)`, fix }) };
    }
    return { type: ua.UserTokenType.Anonymous };
  }

  private async monitor(ua: NodeOpcua, sub: Subscription, item: OpcuaItemConfig, run: number): Promise<void> {
    const filter = item.deadband
      ? new ua.DataChangeFilter({
        trigger: ua.DataChangeTrigger.StatusValue,
        deadbandType: item.deadband.type === "absolute" ? ua.DeadbandType.Absolute : ua.DeadbandType.Percent,
        deadbandValue: item.deadband.value,
      })
      : null;
    const mi = await sub.monitor(
      { nodeId: item.nodeId, attributeId: ua.AttributeIds.Value },
      { samplingInterval: item.samplingIntervalMs, queueSize: item.queueSize, discardOldest: item.discardOldest, filter },
      ua.TimestampsToReturn.Both,
    );
    const address = item.nodeId;
    if (!mi.statusCode.isGood()) {
      // The server refused this node (e.g. BadNodeIdUnknown: a typo in the config): say so, and report the point bad.
      this.errors++;
      this.log.warn({ source: this.id, address, status: mi.statusCode.name }, "opcua server refused the monitored item; check the nodeId in the config");
      this.deliver(address, { statusCode: mi.statusCode, sourceTimestamp: null, sourcePicoseconds: 0, value: { value: null } });
      return;
    }
    mi.on("changed", (dv) => {
      if (run !== this.run) return;
      this.deliver(address, dv);
    });
    mi.on("err", (msg: string) => {
      this.errors++;
      this.log.warn({ source: this.id, address, err: msg }, "monitored item error");
    });
  }

  private deliver(address: string, dv: DataValueLike): void {
    const sink = this.sink;
    if (!sink) return;
    const r = readingOf(dv, this.clock.nowNs());
    this.delivery.deliver(sink, { address, ...r });
  }

  /** The session's connection broke: report every point bad, drop the client, reconnect through attempt(). */
  private onLost(run: number, client: Client): void {
    // While connecting, the failing request rejects connect() and attempt() retries; once running, we do.
    if (run !== this.run || client !== this.client || this.state !== "running") return;
    this.state = "degraded";
    this.detail = `connection to ${this.cfg.endpointUrl} lost; reconnecting`;
    this.log.warn({ source: this.id, endpoint: this.cfg.endpointUrl }, "opcua connection lost; reconnecting with backoff");
    this.deliverUnreachable();
    this.dropping = this.teardown();
    this.scheduleAttempt(run, this.retry.next());
  }

  private deliverUnreachable(): void {
    const sink = this.sink;
    if (!sink) return;
    for (const r of unreachableReadings(this.addresses(), this.clock.nowNs(), "opcua")) this.delivery.deliver(sink, r);
  }

  private async teardown(): Promise<void> {
    const { client, session, subscription } = this;
    this.client = null;
    this.session = null;
    this.subscription = null;
    await subscription?.terminate().catch(() => undefined);
    await session?.close().catch(() => undefined);
    await client?.disconnect().catch(() => undefined);
  }
}

/** The first certificate of a DER chain (its length from the outer SEQUENCE header). */
function leafOf(der: Buffer): Buffer {
  if (der[0] !== 0x30) return der;
  const b1 = der[1] ?? 0;
  if (b1 < 0x80) return der.subarray(0, 2 + b1);
  const n = b1 & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] ?? 0);
  return der.subarray(0, Math.min(der.length, 2 + n + len));
}
