import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { provisionHint, provisioningState } from "../../../firmware/config/provisioned.js";
import { runChecks } from "../../../firmware/check/checks.js";
import { Rauc } from "../../../firmware/update/rauc.js";
import { GatewayError } from "../../../kernel/errors.js";
import { slotsLine } from "./update.js";

/**
 * `otgw check`: one line per check, OK / WARN / FAIL with what to do; exit 1 on any FAIL. A fresh
 * device (no provisioned config, no identity or no certificate yet) is reported as UNPROVISIONED with
 * the command to run, exit 2.
 */
export async function checkCommand(configFile: string, template: string): Promise<number> {
  const s = provisioningState(configFile);
  if (s.state === "unprovisioned") {
    // Checking the template itself: the completed config goes to the state directory.
    const out = resolve(configFile) === resolve(template) ? "/var/lib/otgw/config.yaml" : configFile;
    console.log(`UNPROV config          ${s.reason}`);
    console.log(`this gateway is unprovisioned; run: ${provisionHint(template, out)}`);
    return 2;
  }
  if (s.state === "invalid") {
    console.log(`FAIL  config          ${configFile}: ${s.problems.length} problem(s)`);
    for (const p of s.problems) console.log(`        ${p}`);
    return 1;
  }
  const { config } = s.loaded;
  console.log(`OK    config          ${configFile} (gateway ${config.gateway.id}, ${config.gateway.mode})`);
  const lines = [...(await runChecks(config)), ...egressLine(), ...(await updateLine())];
  for (const l of lines) console.log(`${l.status.padEnd(5)} ${l.name.padEnd(15)} ${l.detail}`);
  const failed = lines.filter((l) => l.status === "FAIL").length;
  console.log(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return failed === 0 ? 0 : 1;
}

/** On the image, what otgw-egress.service loaded (docs/egress.md "Fail closed"); nothing elsewhere. */
export function egressLine(file = "/run/otgw-egress/status"): Array<{ status: string; name: string; detail: string }> {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8").trim();
  return text.startsWith("allowlist:")
    ? [{ status: "OK", name: "egress", detail: `nftables ${text}` }]
    : [{ status: "FAIL", name: "egress", detail: `${text}; only loopback passes: fix the field named in \`journalctl -u otgw-egress\`, then reboot or \`systemctl restart otgw-egress\`` }];
}

/** On the image, both RAUC slots (docs/update.md); nothing where RAUC is not configured. */
export async function updateLine(raucConfig = "/etc/rauc/system.conf", env?: Readonly<Record<string, string>>): Promise<Array<{ status: string; name: string; detail: string }>> {
  if (!existsSync(raucConfig)) return [];
  try {
    return [slotsLine(await new Rauc({ config: raucConfig, env }).status())];
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return [{ status: "WARN", name: "update slots", detail: `${err.message} [${err.code}]` }];
  }
}
