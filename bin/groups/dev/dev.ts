import type { Command } from "commander";
import { collect, intOption, POSITIVE } from "../../options.js";

/** `otgw dev up` (dev): the integrator's own config, end to end on a throwaway stack. */
export function register(program: Command): void {
  const dev = program.command("dev").description("development tools: run your own config end to end");
  dev
    .command("up")
    .description("run a gateway config against a throwaway CA, broker, receiver and software identity; print the verified readings")
    .requiredOption("-c, --config <file>", "your gateway config (its sources as given; identity, receiver and uplink are replaced)")
    .addOption(intOption("--messages <n>", "stop once the gateway has read N records and delivered them, then print the summary (default: until Ctrl-C)", POSITIVE))
    .option("--out <dir>", "working directory for the throwaway keys, broker, stores and logs", "dev-out")
    .option("--trust-opcua <pem>", "trust this OPC UA server certificate (PEM or DER file) in the throwaway trust store; repeatable", collect)
    .option("--quiet", "do not print the readings, only the summary")
    .action(async (o: { config: string; messages?: number; out: string; trustOpcua?: string[]; quiet?: boolean }) => {
      const { devUpCommand } = await import("../../commands/dev/up.js");
      process.exitCode = await devUpCommand(o);
    });
}
