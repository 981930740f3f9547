import { X509Certificate } from "node:crypto";
import type { Clock } from "../../kernel/clock.js";
import { Backoff } from "../../kernel/backoff.js";
import { systemScheduler, type Scheduler, type Timer } from "../../kernel/scheduler.js";
import { SourceError, errorText } from "../../kernel/errors.js";
import { readCertificateFile, readInputBytes, readPrivateKeyPem } from "../../kernel/pem.js";
import { child, silentLogger, type Logger } from "../../kernel/log.js";
import type { OpcuaItemConfig, OpcuaSourceConfig } from "./schema.js";
import type { ReadingSink, Source, SourceHealth } from "../source.js";
import { readingOf, type DataValueLike } from "./quality.js";
import { subjectOf, thumbprintOf, TrustStore } from "./trust-store.js";
import { routeNodeOpcuaLogs } from "./library-logs.js";
import { SinkDelivery } from "../delivery.js";

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
 * a restart. node-opcua's own reconnection re-creates the session and subscription after a server
 * restart; the item → address mapping lives in our handlers, so it survives. node-opcua loads lazily.
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
  /** Our own reconnects until the first subscription (node-opcua reconnects an established session itself). */
  private readonly retry: Backoff;

  constructor(private readonly opts: OpcuaSourceOptions, private readonly clock: Clock, logger: Logger = silentLogger()) {
    this.id = opts.config.id;
    this.cfg = opts.config;
    this.log = child(logger, "hal.opcua");
    this.delivery = new SinkDelivery(this.log, this.id);
    this.hostPort = /^opc\.tcp:\/\/([^/]+)/.exec(this.cfg.endpointUrl)?.[1] ?? "unknown";
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.retry = new Backoff({ minMs: 500, maxMs: this.cfg.reconnectMaxMs, jitter: 0 });
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
    await this.attempt(run);
  }

  async stop(): Promise<void> {
    this.run++;
    this.sink = null;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    await this.teardown();
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
      this.log.info({ source: this.id, endpoint: this.cfg.endpointUrl, items: this.cfg.items.length }, "opcua source subscribed");
    } catch (err) {
      await this.teardown();
      if (run !== this.run) return;
      this.errors++;
      this.state = "failed";
      this.detail = errorText(err);
      if (this.retry.attempts === 0) this.log.error({ source: this.id, err: this.detail }, "opcua source cannot connect; retrying");
      this.retryTimer = this.scheduler.setTimeout(() => void this.attempt(run), this.retry.next()).unref();
    }
  }

  private async connect(run: number): Promise<void> {
    const ua: NodeOpcua = await import("node-opcua");
    routeNodeOpcuaLogs(ua);
    const mode = ua.MessageSecurityMode[this.cfg.securityMode];
    const policy = ua.SecurityPolicy[this.cfg.securityPolicy];
    const cm = new ua.OPCUACertificateManager({ rootFolder: this.opts.pkiDir, automaticallyAcceptUnknownCertificate: this.cfg.trustAll });
    await cm.initialize();

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
      applicationUri: `urn:otgw:${this.cfg.applicationName}`,
      securityMode: mode,
      securityPolicy: policy,
      clientCertificateManager: cm,
      endpointMustExist: false,
      keepSessionAlive: true,
      requestedSessionTimeout: Math.max(60_000, this.cfg.publishingIntervalMs * 20),
      connectionStrategy: { initialDelay: 250, maxDelay: this.cfg.reconnectMaxMs, maxRetry: 1_000_000 },
      transportTimeout: this.cfg.timeoutMs,
    });
    this.client = client;
    client.on("connection_lost", () => this.onLost(run));
    client.on("connection_reestablished", () => this.onBack(run));
    client.on("backoff", () => undefined);
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

  private onLost(run: number): void {
    if (run !== this.run) return;
    this.state = "degraded";
    this.detail = `connection to ${this.cfg.endpointUrl} lost; reconnecting`;
    this.log.warn({ source: this.id }, "opcua connection lost; reconnecting");
  }

  private onBack(run: number): void {
    if (run !== this.run) return;
    this.state = "running";
    this.detail = null;
    this.log.info({ source: this.id }, "opcua connection re-established");
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
