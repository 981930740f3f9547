import type { Command } from "commander";
import { intOption, POSITIVE } from "../../options.js";

/** `otgw service` (gateway: what otgw.service runs). */
export function register(program: Command): void {
  program
    .command("service")
    .option("-c, --config <file>", "the provisioned config", "/var/lib/otgw/config.yaml")
    .option("--template <file>", "the integrator's template (for the `otgw provision` hint)", "/etc/otgw/config.yaml")
    .addOption(intOption("--poll-ms <ms>", "also look for the provisioned config this often", POSITIVE, 2000))
    .description("what otgw.service runs: wait while unprovisioned, then run the gateway; sd_notify readiness and watchdog")
    .action(async (o: import("../../commands/gateway/service.js").ServiceOptions) => {
      const { serviceCommand } = await import("../../commands/gateway/service.js");
      process.exitCode = await serviceCommand(o);
    });
}
