import type { Command } from "commander";
import { intOption, POSITIVE } from "../../options.js";

/** `otgw run` (gateway). */
export function register(program: Command): void {
  program
    .command("run")
    .requiredOption("-c, --config <file>", "gateway config")
    .addOption(intOption("--max-records <n>", "stop accepting readings after this many records, deliver, then exit", POSITIVE))
    .option("--commit-log <file>", "append `stream session seq` after each queue commit (crash tests; ids only, no payload)")
    .description("run the gateway until SIGINT/SIGTERM")
    .action(async (o: { config: string; maxRecords?: number; commitLog?: string }) => {
      const { runCommand } = await import("../../commands/gateway/run.js");
      process.exitCode = await runCommand(o.config, o);
    });
}
