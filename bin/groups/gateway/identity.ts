import type { Command } from "commander";

/** `otgw identity show | renew | rotate` (gateway; docs/identity.md). */
export function register(program: Command): void {
  const identity = program.command("identity").description("this gateway's identity");
  for (const [name, what] of [["show", "key, certificate and days left"], ["renew", "new certificate for the same key (EST simplereenroll)"], ["rotate", "new TPM key, attested, enrolled; old kept as .prev"]] as const) {
    identity.command(name)
      .requiredOption("-c, --config <file>", "gateway config")
      .description(what)
      .action(async (o: { config: string }) => {
        const m = await import("../../commands/gateway/identity.js");
        process.exitCode = name === "show" ? await m.identityShowCommand(o.config) : await m.identityRenewCommand(o.config, name);
      });
  }
}
