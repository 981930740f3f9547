import type { Command } from "commander";

/** `otgw config check` (gateway). */
export function register(program: Command): void {
  const config = program.command("config").description("gateway configuration");
  config
    .command("check")
    .argument("<file>", "gateway config (YAML or JSON)")
    .description("validate a config file; exit 0 when good, non-zero with every problem listed")
    .action(async (file: string) => {
      const { configCheckCommand } = await import("../../commands/gateway/config-check.js");
      process.exitCode = configCheckCommand(file);
    });
}
