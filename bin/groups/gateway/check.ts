import type { Command } from "commander";

/** `otgw check` (gateway). */
export function register(program: Command): void {
  program
    .command("check")
    .option("-c, --config <file>", "gateway config", "/var/lib/otgw/config.yaml")
    .option("--template <file>", "the integrator's template (for the `otgw provision` hint)", "/etc/otgw/config.yaml")
    .description("TPM, key, certificate, chain, CRL, broker, clock, disk, queue: OK or what to do; exit 2 when unprovisioned")
    .action(async (o: { config: string; template: string }) => {
      const { checkCommand } = await import("../../commands/gateway/check.js");
      process.exitCode = await checkCommand(o.config, o.template);
    });
}
