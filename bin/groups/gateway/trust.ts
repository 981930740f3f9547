import type { Command } from "commander";
import { UsageError } from "../../output.js";

const ACTIONS = ["list", "trust", "reject", "remove"] as const;
type Action = (typeof ACTIONS)[number];
const isAction = (a: string): a is Action => (ACTIONS as readonly string[]).includes(a);

/** `otgw trust opcua` (gateway). */
export function register(program: Command): void {
  const trust = program.command("trust").description("trust stores the technician controls");
  trust
    .command("opcua")
    .argument("<action>", "list | trust | reject | remove")
    .argument("[thumbprint]", "SHA-1 thumbprint of the server certificate (from the error or `list`)")
    .requiredOption("-c, --config <file>", "gateway config (its OPC UA sources name the trust store)")
    .option("--file <cert>", "trust: add a server certificate from a PEM/DER file instead of a recorded thumbprint")
    .description("list, trust, reject or remove OPC UA server certificates")
    .action(async (action: string, thumbprint: string | undefined, o: { config: string; file?: string }) => {
      if (!isAction(action)) throw new UsageError(`trust opcua: unknown action "${action}"; use list, trust, reject or remove`);
      const { trustOpcuaCommand } = await import("../../commands/gateway/trust.js");
      process.exitCode = trustOpcuaCommand(action, thumbprint, o);
    });
}
