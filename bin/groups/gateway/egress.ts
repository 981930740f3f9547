import type { Command } from "commander";

/** `otgw egress render` (gateway). */
export function register(program: Command): void {
  const egress = program.command("egress").description("network egress allowlist (nftables; docs/egress.md)");
  egress
    .command("render")
    .requiredOption("-c, --config <file>", "gateway config or the integrator's template (YAML or JSON)")
    .option("--out <file>", "write the ruleset here (atomically) instead of stdout")
    .option("--ssh", "admit inbound SSH on tcp/22 (images built with key-only SSH)")
    .description("render the nftables ruleset (table inet otgw_egress); exit 1 naming each bad field")
    .action(async (o: import("../../commands/gateway/egress-render.js").EgressRenderOptions) => {
      const { egressRenderCommand } = await import("../../commands/gateway/egress-render.js");
      process.exitCode = egressRenderCommand(o);
    });
}
