import { X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import mqtt, { type IClientOptions } from "mqtt";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { errorText } from "../../kernel/errors.js";
import type { GatewayConfig } from "../config/schema.js";
import { keyDirOf, openIdentity, tctiOf } from "../../provisioning/identity.js";
import { buildTlsOptions } from "../../kernel/tls.js";
import { SoftwareKeyStore } from "../../provisioning/software-keystore.js";
import { EstClient } from "../../provisioning/est/client.js";
import { Tpm } from "../../provisioning/tpm/tpm.js";
import { TpmKeyStore } from "../../provisioning/tpm/tpm-keystore.js";
import { crlFileOf, readBootState, replaceFile } from "../../provisioning/attest/files.js";
import { EVENT_LOG_FILE } from "../../provisioning/attest/quote.js";
import { receiptTopicFor } from "../../envelope/receipt.js";
import { heldSummary } from "../runtime/held-readings.js";

/** One line of `otgw check`: OK, WARN (works, act soon) or FAIL (with what to do). */
export interface CheckLine { name: string; status: "OK" | "WARN" | "FAIL"; detail: string }

const DAY = 86_400_000;
/** Queued frames older than this are worth a warning: delivery or receipts are stalled. */
const STALE_QUEUE_MS = 5 * 60_000;

/**
 * The technician's health check. Every check runs even when an earlier one fails, so one run lists
 * everything that is wrong; the broker check needs the tpm2 provider (the command re-executes itself).
 */
export async function runChecks(config: GatewayConfig, now = Date.now(), receiptWaitMs = 5000): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  const add = (name: string, status: CheckLine["status"], detail: string): void => { out.push({ name, status, detail }); };
  const id = config.identity;
  let publicKey: KeyObject | undefined;

  if (id.keystore === "tpm") {
    try {
      const tpm = Tpm.open(tctiOf(config));
      await tpm.close();
      add("TPM reachable", "OK", tctiOf(config));
    } catch (err) {
      add("TPM reachable", "FAIL", errorText(err));
    }
  }
  const store = id.keystore === "tpm" ? new TpmKeyStore(keyDirOf(config), tctiOf(config)) : new SoftwareKeyStore(keyDirOf(config));
  try {
    publicKey = (await store.open(id.keyName)).publicKey();
    add("identity key", id.keystore === "tpm" ? "OK" : "WARN", id.keystore === "tpm" ? `"${id.keyName}" loads in the TPM` : "software key (development only; production refuses it)");
  } catch (err) {
    add("identity key", "FAIL", errorText(err));
  } finally {
    if (store instanceof TpmKeyStore) await store.close();
  }

  if (id.keystore === "tpm") out.push(await measuredBootCheck(config));

  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(readFileSync(id.certFile));
    const left = (Date.parse(cert.validTo) - now) / DAY;
    const life = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY;
    if (left < 0) add("certificate", "FAIL", `expired on ${cert.validTo}: run \`otgw identity renew\` (or re-provision if the CA refuses)`);
    else if (left < life / 3) add("certificate", "WARN", `${left.toFixed(1)} days left of ${life.toFixed(1)}: run \`otgw identity renew\``);
    else add("certificate", "OK", `${left.toFixed(1)} days left (serial ${cert.serialNumber})`);
  } catch (err) {
    add("certificate", "FAIL", `cannot read ${id.certFile} (${errorText(err)}): run \`otgw provision\``);
  }

  let ca: X509Certificate | undefined;
  try {
    ca = new X509Certificate(readFileSync(id.caFile));
    if (!cert) add("chain", "FAIL", "no certificate to check");
    else if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) add("chain", "FAIL", `the certificate is not issued by ${id.caFile}: re-provision with the right fleet CA`);
    else if (publicKey && !cert.publicKey.equals(publicKey)) add("chain", "FAIL", "the certificate is for another key: run `otgw identity renew`");
    else add("chain", "OK", `issued by ${ca.subject.replace(/\n/g, ", ")}`);
  } catch (err) {
    add("chain", "FAIL", `cannot read the fleet CA ${id.caFile}: ${errorText(err)}`);
  }

  out.push(await crlCheck(config, cert, ca, now));
  out.push(...await brokerCheck(config, receiptWaitMs));

  const caStart = ca ? Date.parse(ca.validFrom) : 0;
  if (now < caStart || new Date(now).getUTCFullYear() > 2100) add("clock", "FAIL", `system time ${new Date(now).toISOString()} is before the fleet CA existed: fix the clock (timedatectl, chrony)`);
  else if (cert && now < Date.parse(cert.validFrom)) add("clock", "FAIL", `system time is before the certificate's start ${cert.validFrom}: fix the clock`);
  else add("clock", "OK", new Date(now).toISOString());

  try {
    const st = statfsSync(config.gateway.stateDir);
    const free = st.bavail * st.bsize;
    const pct = (100 * st.bavail) / Math.max(1, st.blocks);
    add("disk free", free < 100 * 1024 * 1024 || pct < 5 ? "FAIL" : "OK", `${(free / 1024 / 1024).toFixed(0)} MiB (${pct.toFixed(0)}%) free in ${config.gateway.stateDir}${free < 100 * 1024 * 1024 || pct < 5 ? ": free space (old logs, quarantine) or the queue will drop data" : ""}`);
  } catch (err) {
    add("disk free", "FAIL", `cannot stat ${config.gateway.stateDir}: ${errorText(err)}`);
  }

  const qfile = join(config.gateway.stateDir, "queue.db");
  if (!existsSync(qfile)) add("queue depth", "OK", "no queue yet");
  else {
    try {
      const db = new Database(qfile, { readonly: true, fileMustExist: true });
      const r = db.prepare<[], { c: number; b: number | null; o: number | null }>("SELECT count(*) AS c, sum(length(payload)) AS b, min(enqueued_ms) AS o FROM queue").get();
      db.close();
      const bytes = r?.b ?? 0;
      const full = bytes / config.queue.maxBytes;
      add("queue depth", full > 0.8 ? "WARN" : "OK", `${r?.c ?? 0} frames, ${(bytes / 1024).toFixed(0)} KiB (${(full * 100).toFixed(0)}% of the bound)${full > 0.8 ? ": the uplink is not keeping up; check the broker line" : ""}`);
      out.push(unreceiptedLine(config, r?.c ?? 0, r?.o ?? null, now));
    } catch (err) {
      add("queue depth", "FAIL", `cannot read ${qfile}: ${errorText(err)}`);
    }
  }
  // Readings held because the certificate was not valid when they needed a session (docs/queue.md).
  const held = heldSummary(join(config.gateway.stateDir, "held.db"));
  if (held === null || held.count === 0) add("held readings", "OK", "none (every reading could be sealed)");
  else {
    const since = held.oldestMs === null ? "" : ` since ${new Date(held.oldestMs).toISOString()}`;
    const certOk = cert !== undefined && now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo);
    add("held readings", certOk ? "WARN" : "FAIL", `${held.count} readings (${(held.bytes / 1024).toFixed(0)} KiB of the ${(config.queue.maxBytes / 1024 / 1024).toFixed(0)} MiB bound) held unsealed${since}, waiting for a valid certificate${certOk ? ": the certificate is valid now; the running gateway seals them within seconds" : ": run `otgw identity renew` (or re-provision if the CA refuses); readings past the bound are dropped and audited"}`);
  }
  return out;
}

/**
 * Frames still queued (with receipts required: sent or not, none receipted yet) and how old the oldest
 * is: a stalled cloud side shows here even when the broker accepts everything.
 */
function unreceiptedLine(config: GatewayConfig, count: number, oldestMs: number | null, now: number): CheckLine {
  const what = config.uplink.receipts === "required" ? "not yet receipted by the receiver" : "not yet acknowledged by the broker";
  if (count === 0 || oldestMs === null) return { name: "unreceipted frames", status: "OK", detail: `none ${what}` };
  const age = Math.max(0, now - oldestMs);
  const stale = age > STALE_QUEUE_MS;
  return {
    name: "unreceipted frames", status: stale ? "WARN" : "OK",
    detail: `${count} frames ${what}, oldest queued ${(age / 1000).toFixed(0)} s ago${stale ? ": check that the receiver runs and sends receipts (the receipts line), and the broker line" : ""}`,
  };
}

async function crlCheck(config: GatewayConfig, cert: X509Certificate | undefined, ca: X509Certificate | undefined, now: number): Promise<CheckLine> {
  const file = crlFileOf(config.identity.certFile);
  let note = "";
  if (config.identity.est && ca) {
    try {
      replaceFile(file, await new EstClient({ url: config.identity.est.url, caPem: ca.toString() }).crl());
      note = " (fetched now)";
    } catch (err) {
      note = ` (EST unreachable: ${errorText(err)})`;
    }
  }
  if (!existsSync(file)) return { name: "CRL", status: "WARN", detail: `no CRL at ${file}${note}` };
  try {
    const crl = new x509.X509Crl(readFileSync(file, "utf8"));
    if (ca && !(await crl.verify({ publicKey: new x509.X509Certificate(ca.raw) }))) return { name: "CRL", status: "FAIL", detail: `${file} is not signed by the fleet CA${note}` };
    if (cert && crl.findRevoked(cert.serialNumber.toLowerCase())) return { name: "CRL", status: "FAIL", detail: `this gateway's certificate ${cert.serialNumber} is REVOKED: contact the fleet operator; the gateway must be re-provisioned` };
    const next = crl.nextUpdate?.getTime() ?? 0;
    if (next < now) return { name: "CRL", status: "FAIL", detail: `stale: nextUpdate ${crl.nextUpdate?.toISOString() ?? "?"} passed${note}; check that the EST server is reachable` };
    return { name: "CRL", status: "OK", detail: `fresh until ${crl.nextUpdate?.toISOString() ?? "?"}${note}` };
  } catch (err) {
    return { name: "CRL", status: "FAIL", detail: `cannot read ${file}: ${errorText(err)}` };
  }
}

/**
 * With receipts required: listens on the gateway's own receipt topic (the check connects with the
 * gateway's certificate, so the ACL lets it) for one receipt. A receipt's MAC is the gateway process's
 * business; that one arrives at all says the receiver sends them.
 */
async function receiptCheck(client: mqtt.MqttClient, gatewayId: string, waitMs: number): Promise<CheckLine> {
  const topic = receiptTopicFor(gatewayId);
  const seen = await new Promise<boolean | Error>((resolve) => {
    const t = setTimeout(() => resolve(false), waitMs);
    client.once("message", () => { clearTimeout(t); resolve(true); });
    client.subscribe(topic, { qos: 0 }, (err, granted) => {
      const code = granted?.[0]?.qos;
      if (err || code === undefined || code > 2) { clearTimeout(t); resolve(new Error(`the broker refused the subscription to ${topic} (reason ${code ?? "none"}): add \`pattern read otgw/r1/%u\` to its ACL (docs/topics.md)`)); }
    });
  });
  if (seen instanceof Error) return { name: "receipts", status: "FAIL", detail: `${seen.message}; without receipts, frames never leave the queue` };
  if (seen) return { name: "receipts", status: "OK", detail: `the receiver sends receipts on ${topic}` };
  return {
    name: "receipts", status: "WARN",
    detail: `no receipt on ${topic} in ${(waitMs / 1000).toFixed(0)} s: fine if the gateway is stopped or idle; otherwise the receiver sends none (an older receiver, or \`--no-receipts\`): frames stay queued until it does. Upgrade the receiver, or set uplink.receipts: off (then a broker crash can lose acknowledged frames)`,
  };
}

async function brokerCheck(config: GatewayConfig, receiptWaitMs: number): Promise<CheckLine[]> {
  let identity: Awaited<ReturnType<typeof openIdentity>> | undefined;
  try {
    identity = await openIdentity(config);
    const tls = buildTlsOptions(identity.tls);
    const client = mqtt.connect(config.uplink.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 15_000, clientId: `${config.gateway.id}-check`, ...(tls as IClientOptions) });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
      client.once("close", () => reject(new Error("connection closed by the broker (certificate refused or revoked?)")));
    });
    const receipts = config.uplink.receipts === "required" ? await receiptCheck(client, config.gateway.id, receiptWaitMs) : undefined;
    await client.endAsync();
    const ok: CheckLine = { name: "broker (mTLS)", status: "OK", detail: `${config.uplink.url} accepted ${config.gateway.id}` };
    return receipts ? [ok, receipts] : [ok];
  } catch (err) {
    return [{ name: "broker (mTLS)", status: "FAIL", detail: `${config.uplink.url}: ${errorText(err)}` }];
  } finally {
    await identity?.close?.();
  }
}

/**
 * "measured boot": the PCRs as they are now against the values the fleet last judged (the verdict
 * recorded at the last enrollment or renewal, docs/identity.md "Measured boot"). A PCR that changed
 * since means the next renewal is judged on a different boot.
 */
export async function measuredBootCheck(config: GatewayConfig, eventLogFile = EVENT_LOG_FILE): Promise<CheckLine> {
  const name = "measured boot";
  const log = existsSync(eventLogFile) ? "event log present" : "no event log";
  const last = readBootState(config.identity.certFile);
  if (!last || Object.keys(last.pcrs ?? {}).length === 0) {
    return { name, status: "WARN", detail: `no quote verdict recorded (enrolled without one); ${log}; no policy: \`otgw identity rotate\` binds an attestation key and quotes` };
  }
  let now: Array<{ pcr: number; value: Buffer }>;
  const tpm = Tpm.open(tctiOf(config));
  try {
    now = await tpm.readPcrs(Object.keys(last.pcrs).map(Number));
  } catch (err) {
    return { name, status: "FAIL", detail: `cannot read the PCRs: ${errorText(err)}` };
  } finally {
    await tpm.close();
  }
  const changed = now.filter((p) => p.value.toString("hex") !== last.pcrs[String(p.pcr)]).map((p) => p.pcr);
  const policy = last.policy ? `policy ${last.policy.image} ${last.policy.version}` : "no policy";
  const pcrs = Object.keys(last.pcrs).join(",");
  if (changed.length) {
    return { name, status: "WARN", detail: `PCR ${changed.join(", ")} changed since the fleet's last check (${last.op} ${last.at}, ${policy}; ${log}): the next renewal is judged on this boot and is refused unless a boot policy allows it` };
  }
  const st = last.status === "mismatch" ? "WARN" : "OK";
  return { name, status: st, detail: `PCR ${pcrs} as at ${last.op} ${last.at}: ${last.summary}; ${log}` };
}
