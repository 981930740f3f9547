import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { systemClock } from "../../../kernel/clock.js";
import { UpdateError } from "../../../kernel/errors.js";
import { loadConfig } from "../../../firmware/config/load.js";
import { AuditLog } from "../../../firmware/audit/audit-log.js";
import { openIdentity } from "../../../provisioning/identity.js";
import { previousIdentityKey } from "../../../firmware/runtime/previous-identity.js";
import type { GatewayConfig } from "../../../firmware/config/schema.js";
import { Rauc, type RaucStatus } from "../../../firmware/update/rauc.js";
import { installUpdate } from "../../../firmware/update/install.js";
import { recordBoot } from "../../../firmware/update/boot-record.js";
import { checkHealth, type ServiceState } from "../../../firmware/update/health.js";
import { execFile } from "node:child_process";
import { printJson, stdio, type Io } from "../../output.js";

// `otgw update`: RAUC's CLI wrapped so that a technician sees one tool (docs/update.md). Output: JSON
// lines on stdout, problems on stderr. Exit: 0 done, 3 bundle refused, 1 RAUC failed or missing.

/** The file the update commands audit to: a second log in the audit format, beside the gateway's own. */
export const UPDATE_AUDIT_FILE = "update-audit.jsonl";
/** What an install leaves for the boot record, under the state directory. */
export const UPDATE_STATE_FILE = join("update", "state.json");

export interface UpdateOptions {
  readonly raucConfig?: string;
  /** Extra environment for rauc (tests: their own D-Bus system bus). */
  readonly raucEnv?: Readonly<Record<string, string>>;
}

/** `otgw update status`: both slots as one JSON line. */
export async function updateStatus(opts: UpdateOptions, io: Io = stdio): Promise<number> {
  const rauc = new Rauc({ config: opts.raucConfig, env: opts.raucEnv });
  try {
    printJson(await rauc.status(), io);
    return 0;
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    io.err(`otgw update: ${err.message} [${err.code}]`);
    printJson({ ok: false, code: err.code }, io);
    return 1;
  }
}

/**
 * `otgw update install BUNDLE -c CONFIG [--allow-downgrade]`: verify and install, audited in
 * `<stateDir>/update-audit.jsonl`, signed by the gateway's identity key. It runs while the gateway runs,
 * so it cannot write the gateway's own audit log (one writer per log): docs/update.md "otgw update".
 */
export async function updateInstall(bundle: string, opts: UpdateOptions & { configFile: string; allowDowngrade?: boolean; releaseFile?: string }, io: Io = stdio): Promise<number> {
  const { config } = loadConfig(opts.configFile);
  const { audit, close } = await openUpdateAudit(config);
  try {
    const rauc = new Rauc({ config: opts.raucConfig, env: opts.raucEnv });
    const done = await installUpdate({
      bundle, rauc, audit, allowDowngrade: opts.allowDowngrade, releaseFile: opts.releaseFile, stateFile: join(config.gateway.stateDir, UPDATE_STATE_FILE),
    });
    if (done.downgrade) io.err(`otgw update: installed ${done.version} over the running ${done.from} (--allow-downgrade; audited)`);
    printJson({ ok: true, installed: done, next: "reboot to boot the new slot; it is kept once its health check passes" }, io);
    return 0;
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    io.err(`otgw update: ${err.message} [${err.code}]`);
    printJson({ ok: false, code: err.code }, io);
    return err.code === "UPDATE_RAUC_FAILED" || err.code === "UPDATE_RAUC_MISSING" ? 1 : 3;
  } finally {
    await close();
  }
}

/**
 * `otgw update boot-record -c CONFIG [--boot-complete]`: run by otgw-update-boot.service before the
 * gateway starts, and with --boot-complete by otgw-update-good.service once boot-complete.target is
 * reached. Records update.booted / update.marked-good / update.rolled-back (docs/update.md).
 */
export async function updateBootRecord(opts: UpdateOptions & { configFile: string; bootComplete: boolean }, io: Io = stdio): Promise<number> {
  const { config } = loadConfig(opts.configFile);
  const rauc = new Rauc({ config: opts.raucConfig, env: opts.raucEnv });
  let status: RaucStatus;
  try {
    status = await rauc.status();
  } catch (err) {
    if (!(err instanceof UpdateError)) throw err;
    io.err(`otgw update: ${err.message} [${err.code}]`);
    printJson({ ok: false, code: err.code }, io);
    return 1;
  }
  const { audit, close } = await openUpdateAudit(config);
  try {
    const events = recordBoot(join(config.gateway.stateDir, UPDATE_STATE_FILE), status, audit, { bootComplete: opts.bootComplete });
    printJson({ ok: true, booted: status.booted, events }, io);
    return 0;
  } finally {
    await close();
  }
}

/**
 * `otgw update health -c CONFIG`: the health gate of boot-complete.target (otgw-health.service),
 * one line per check; exit 0 healthy, 1 not (then the unit's FailureAction=reboot spends a boot try).
 */
export async function updateHealth(opts: { configFile: string; unit?: string; service?: () => Promise<ServiceState> }, io: Io = stdio): Promise<number> {
  const { healthy, lines } = await checkHealth(opts.configFile, opts.service ?? (() => systemdService(opts.unit ?? "otgw.service")));
  for (const l of lines) io.out(`${l.status.padEnd(5)} ${l.name.padEnd(15)} ${l.detail}`);
  io.out(healthy ? "healthy" : "NOT healthy: this boot does not reach boot-complete.target");
  return healthy ? 0 : 1;
}

/** The unit's state from `systemctl show`. */
function systemdService(unit: string): Promise<ServiceState> {
  return new Promise((resolve) => {
    execFile("systemctl", ["show", unit, "-p", "ActiveState", "-p", "SubState", "-p", "NRestarts"], (err, stdout) => {
      if (err) {
        resolve({ running: false, restarts: 0, detail: `systemctl show ${unit} failed: ${err.message}` });
        return;
      }
      const v = (k: string): string => new RegExp(`^${k}=(.*)$`, "m").exec(stdout)?.[1] ?? "";
      const restarts = Number(v("NRestarts") || "0");
      resolve({ running: v("ActiveState") === "active" && v("SubState") === "running", restarts, detail: `${unit} ${v("ActiveState")}/${v("SubState")}, ${restarts} restart(s)` });
    });
  });
}

/**
 * The update audit log, signed by the gateway's identity key. After a rotation while the gateway was
 * stopped, its last checkpoint is by the previous key: accepted when the previous certificate
 * (`<certFile>.prev`) was issued by the fleet CA for this gateway, as for the gateway's own log.
 */
async function openUpdateAudit(config: GatewayConfig): Promise<{ audit: AuditLog; close: () => Promise<void> }> {
  const identity = await openIdentity(config);
  try {
    const audit = AuditLog.open(join(config.gateway.stateDir, UPDATE_AUDIT_FILE), {
      signer: identity.signer, clock: systemClock, checkpointEvery: config.audit.checkpointEveryEntries,
      previousKey: previousIdentityKey(config, new X509Certificate(identity.tls.cert)),
    });
    return { audit, close: async () => { await audit.close(); await identity.close?.(); } };
  } catch (err) {
    await identity.close?.();
    throw err;
  }
}

/** `otgw check`'s line for the slots: nothing where RAUC is not configured (a dev machine). */
export function slotsLine(s: RaucStatus): { status: string; name: string; detail: string } {
  const parts = s.slots.map((x) => `${x.bootname ?? x.name} ${x.version ?? "(image)"} ${x.bootStatus ?? "?"}${s.booted === x.bootname ? " booted" : ""}${s.primary === x.name ? " primary" : ""}`);
  const bad = s.slots.some((x) => x.bootStatus === "bad" && s.booted === x.bootname);
  return { status: bad ? "WARN" : "OK", name: "update slots", detail: parts.join(", ") };
}
