import type { Command } from "commander";
import { intOption, POSITIVE } from "../../options.js";

/** `otgw demo` (dev). */
export function register(program: Command): void {
  program
    .command("demo")
    .description("throwaway CA, a locked-down mosquitto, the receiver and a gateway on the simulated plant")
    .addOption(intOption("--messages <n>", "stop after N published messages and print a JSON summary line", POSITIVE))
    .option("--out <dir>", "working directory for the demo's keys, broker and stores", "demo-out")
    .option("--quiet", "do not print live readings")
    .action(async (o: { messages?: number; out: string; quiet?: boolean }) => {
      const { demoCommand } = await import("../../commands/dev/demo.js");
      process.exitCode = await demoCommand(o);
    });
}
