import { spawn } from "node:child_process";
import { join } from "node:path";
import type { GatewayConfig } from "../config/schema.js";
import { IdentityError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/log.js";
import type { Gateway } from "./gateway.js";
import type { GatewayIdentity } from "../../provisioning/identity.js";
import { keyDirOf } from "../../provisioning/identity.js";
import { IdentityWatch } from "./identity-watch.js";

/**
 * Runs `otgw identity renew|rotate -c FILE` as a child and resolves when it succeeded. A child because
 * EST re-enrollment authenticates with the TPM key over TLS, which needs the tpm2 OpenSSL provider,
 * and that cannot be loaded into the gateway process (docs/identity.md, the sidecar).
 */
export function runIdentityCommand(otgw: string[], configFile: string, mode: "renew" | "rotate"): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...otgw, "identity", mode, "-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    c.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    c.once("error", (err) => reject(new IdentityError("RENEW_FAILED", `could not start \`otgw identity ${mode}\`: ${err.message}`)));
    c.once("exit", (code) => {
      if (code === 0) resolve();
      else reject(new IdentityError("RENEW_FAILED", `\`otgw identity ${mode}\` exited ${code}: ${out.trim().split("\n").slice(-3).join(" | ").slice(0, 600)}`));
    });
  });
}

/** The files a renewal or rotation replaces: the certificate first (its serial decides), then the key. */
export function identityFiles(config: GatewayConfig): string[] {
  const id = config.identity;
  return [id.certFile, join(keyDirOf(config), id.keystore === "tpm" ? `${id.keyName}.tss2.pem` : `${id.keyName}.key.pem`)];
}

/**
 * Keeps a running gateway's identity current (wired by `otgw run` and tests): automatic renewal
 * through `otgw identity renew|rotate` when identity.est is configured and `otgw` says how to start
 * the CLI, plus pick-up of files renewed by a technician; each switch is make-before-break.
 */
export function watchIdentity(o: { gateway: Gateway; identity: GatewayIdentity; config: GatewayConfig; configFile?: string; otgw?: string[]; logger: Logger }): IdentityWatch {
  const r = o.config.identity.renewal;
  const { configFile, otgw } = o;
  const canRenew = o.config.identity.est !== undefined && configFile !== undefined && otgw !== undefined;
  // A TPM identity's TLS runs in its sidecar: its refusals reach the gateway this way (audited).
  const listen = (id: GatewayIdentity): void => id.onTlsError?.((error, code) => o.gateway.reportUplinkRefused(error, code));
  listen(o.identity);
  const watch = new IdentityWatch({
    identity: o.identity, files: identityFiles(o.config), renewAt: r.at, pollMs: r.checkEveryMs, logger: o.logger,
    apply: async (next) => {
      await o.gateway.switchIdentity(next);
      listen(next);
    },
    ...(canRenew ? { renew: () => runIdentityCommand(otgw, configFile, r.mode) } : {}),
    onFailure: (stage, err) => o.gateway.reportIdentityFailure(stage, err),
  });
  watch.start();
  return watch;
}
