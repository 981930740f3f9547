import type { Command } from "commander";

/** `otgw audit verify` (gateway). */
export function register(program: Command): void {
  const audit = program.command("audit").description("audit log");
  audit
    .command("verify")
    .argument("<file>", "audit log (JSONL)")
    .option("--public-key <pem>", "gateway public key (SPKI PEM) to check checkpoint signatures against")
    .description("verify the hash chain and signed checkpoints; names the first bad entry")
    .action(async (file: string, o: { publicKey?: string }) => {
      const { auditVerifyCommand } = await import("../../commands/gateway/audit-verify.js");
      process.exitCode = auditVerifyCommand(file, o.publicKey);
    });
}
