import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ConfigError, errorText } from "../../kernel/errors.js";
import { loadConfig, readConfigBytes, type LoadedConfig } from "./load.js";

/** Where the image keeps the integrator's read-only template and the provisioned config (docs/service.md). */
export const DEVICE_TEMPLATE = "/etc/otgw/config.yaml";
export const DEVICE_CONFIG = "/var/lib/otgw/config.yaml";

/**
 * Is this device provisioned? A fresh image has only the integrator's template: no config in the
 * state directory, or one without an identity, or whose certificate file is not there yet. That is
 * "unprovisioned" (wait, tell the technician what to run), which is different from "invalid" (a
 * provisioned config with problems: fix the named fields).
 */
export type ProvisioningState =
  | { state: "unprovisioned"; reason: string }
  | { state: "invalid"; problems: readonly string[] }
  | { state: "provisioned"; loaded: LoadedConfig };

export function provisioningState(file: string): ProvisioningState {
  if (!existsSync(file)) return { state: "unprovisioned", reason: `${file} does not exist` };
  let raw: unknown;
  try {
    raw = parseYaml(readConfigBytes(file).toString("utf8"));
  } catch (err) {
    if (err instanceof ConfigError) return { state: "invalid", problems: err.problems };
    return { state: "invalid", problems: [`/: cannot read or parse: ${errorText(err)}`] };
  }
  const identity = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>).identity : undefined;
  const certFile = identity !== null && typeof identity === "object" ? (identity as Record<string, unknown>).certFile : undefined;
  if (typeof certFile !== "string") return { state: "unprovisioned", reason: `${file} has no identity (identity.certFile)` };
  const cert = isAbsolute(certFile) ? certFile : resolve(dirname(file), certFile);
  if (!existsSync(cert)) return { state: "unprovisioned", reason: `the gateway certificate ${cert} (identity.certFile) does not exist` };
  try {
    return { state: "provisioned", loaded: loadConfig(file) };
  } catch (err) {
    if (err instanceof ConfigError) return { state: "invalid", problems: err.problems };
    throw err;
  }
}

/** The command a technician runs on the device, with the paths this device uses. */
export function provisionHint(template: string, out: string): string {
  return `otgw provision --template ${template} --out ${out} --id <gatewayId> --est <https://EST server> --ca-fingerprint <sha256 from the fleet operator>`;
}
