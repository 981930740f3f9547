import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { child, createLogger } from "../../../kernel/log.js";
import { provisionHint, provisioningState } from "../../../firmware/config/provisioned.js";
import { systemdNotifier } from "../../../firmware/runtime/sd-notify.js";
import { runCommand } from "./run.js";

export interface ServiceOptions {
  /** The provisioned config (on a device: /var/lib/otgw/config.yaml). */
  config: string;
  /** The integrator's template, only to print the right `otgw provision` command. */
  template: string;
  /** How often to look for the config besides the directory watch (watches can miss events). */
  pollMs: number;
}

/**
 * `otgw service`: what otgw.service runs. On a fresh device it starts, tells systemd it is ready
 * (so boot completes and `systemctl status` shows why it waits), logs that it is unprovisioned and
 * what to run, and waits for the provisioned config; then it runs the gateway. A provisioned but
 * invalid config is reported field by field and waited on too: exiting would only restart-loop.
 * docs/service.md.
 */
export async function serviceCommand(o: ServiceOptions): Promise<number> {
  const logger = createLogger();
  const log = child(logger, "service");
  const sd = systemdNotifier((msg) => log.warn(msg));
  const stopWatchdog = sd.startWatchdog();
  try {
    let last = "";
    const ready = await waitFor(o, () => {
      const s = provisioningState(o.config);
      if (s.state === "provisioned") return true;
      const text = s.state === "unprovisioned" ? `unprovisioned: ${s.reason}` : `config invalid: ${s.problems.join("; ")}`;
      if (text !== last) {
        last = text;
        if (s.state === "unprovisioned") {
          log.warn({ config: o.config }, `unprovisioned: ${s.reason}; waiting. Run \`${provisionHint(o.template, o.config)}\``);
          sd.notify(`READY=1\nSTATUS=unprovisioned: run otgw provision --template ${o.template} --out ${o.config} ...`);
        } else {
          log.error({ config: o.config, problems: s.problems }, "provisioned config is invalid; fix the named fields (`otgw config check`); waiting");
          sd.notify(`READY=1\nSTATUS=config invalid: ${o.config}, see the journal or otgw config check`);
        }
      }
      return false;
    });
    if (!ready) {
      sd.notify("STOPPING=1");
      log.info("stopped while waiting for provisioning");
      return 0;
    }
    if (last !== "") log.info({ config: o.config }, "provisioned config found; starting the gateway");
    return await runCommand(o.config, {
      onStarted: () => sd.notify(`READY=1\nSTATUS=running from ${o.config}`),
      onStopping: () => sd.notify("STOPPING=1"),
    });
  } finally {
    stopWatchdog();
  }
}

/** Resolves true once `ready()` holds (checked on directory changes and every pollMs), false on SIGINT/SIGTERM. */
function waitFor(o: ServiceOptions, ready: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    let done = false;
    const finish = (v: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      watcher?.close();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(v);
    };
    const check = (): void => { if (ready()) finish(true); };
    const onSignal = (): void => finish(false);
    // The handlers go in before the first check: that check logs "unprovisioned", and a SIGTERM sent
    // on seeing it must stop the wait cleanly, not kill the process by the default action.
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const timer = setInterval(check, o.pollMs);
    check();
    if (done) return;
    try {
      // The state directory exists on a device (StateDirectory=); if it does not, polling covers it.
      watcher = watch(dirname(o.config), (_e, name) => { if (name === null || name === basename(o.config)) check(); });
      watcher.on("error", () => watcher?.close());
    } catch {
      watcher = undefined;
    }
  });
}
