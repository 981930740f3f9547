import { runChecks, type CheckLine } from "../check/checks.js";
import { loadConfig } from "../config/load.js";
import { errorText } from "../../kernel/errors.js";

/** What systemd says of the gateway's unit. */
export interface ServiceState {
  /** ActiveState=active and SubState=running. */
  readonly running: boolean;
  /** NRestarts: restarts since the unit was started (this boot). */
  readonly restarts: number;
  /** For the report, e.g. "active/running, 0 restarts". */
  readonly detail: string;
}

/**
 * Failures that say why the uplink cannot be connected from outside this gateway's software (the
 * plant's network, the broker, the fleet's CRL): reported, never a reason to give up an update.
 */
const EXTERNAL = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET|connack|not authori[sz]ed|revoked|expired|timeout|closed by the broker/i;

/**
 * The gateway's health after a boot (docs/update.md "Health"), the gate of boot-complete.target:
 * healthy when the config validates, the service runs without having restarted, and every check of
 * `otgw check` passes except that the uplink (and CRL freshness) may fail for a reason outside the
 * gateway (network down, broker refusing): then the reason is reported and the update is kept.
 */
export async function checkHealth(configFile: string, service: () => Promise<ServiceState>): Promise<{ healthy: boolean; lines: CheckLine[] }> {
  const lines: CheckLine[] = [];
  let config;
  try {
    config = loadConfig(configFile).config;
    lines.push({ name: "config", status: "OK", detail: configFile });
  } catch (err) {
    lines.push({ name: "config", status: "FAIL", detail: `${configFile}: ${errorText(err)}` });
  }
  const svc = await service();
  lines.push({ name: "service", status: svc.running && svc.restarts === 0 ? "OK" : "FAIL", detail: svc.detail });
  if (config !== undefined) {
    for (const l of await runChecks(config)) {
      const external = l.status === "FAIL" && (l.name === "broker (mTLS)" || l.name === "CRL") && EXTERNAL.test(l.detail);
      lines.push(external ? { name: l.name, status: "WARN", detail: `cannot connect, for a reason outside the gateway: ${l.detail}` } : l);
    }
  }
  return { healthy: lines.every((l) => l.status !== "FAIL"), lines };
}
