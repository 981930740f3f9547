import type { Command } from "commander";
import { collect } from "../../options.js";

/** The `otgw model` command, created by whichever half of the group registers first. */
export function modelGroup(program: Command): Command {
  return program.commands.find((c) => c.name() === "model") ?? program.command("model").description("signed edge model bundles (docs/model-bundle.md)");
}

/** `otgw model verify | install | list` (gateway); keygen, train and sign are in model-fleet.ts. */
export function register(program: Command): void {
  const model = modelGroup(program);
  model.command("verify").argument("<bundle>").requiredOption("--trusted <pem>", "trusted signer public key (repeat for each key)", collect)
    .description("check a bundle's signature, signer and digest (registry/CI side)")
    .action(async (bundle: string, o: { trusted: string[] }) => {
      const { modelVerify } = await import("../../commands/gateway/model.js");
      process.exitCode = modelVerify(bundle, o.trusted);
    });
  model.command("install").argument("<bundle>").requiredOption("-c, --config <file>", "gateway config (models section)")
    .description("verify (signature, signer, digest, anti-rollback) and activate a bundle; audited; run with the gateway stopped")
    .action(async (bundle: string, o: { config: string }) => {
      const { modelInstall } = await import("../../commands/gateway/model.js");
      process.exitCode = await modelInstall(bundle, o.config);
    });
  model.command("list").requiredOption("-c, --config <file>", "gateway config").description("accepted bundles and the active one")
    .action(async (o: { config: string }) => {
      const { modelList } = await import("../../commands/gateway/model.js");
      process.exitCode = modelList(o.config);
    });
}
