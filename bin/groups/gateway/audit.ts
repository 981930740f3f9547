import type { Command } from "commander";

/** `otgw audit verify` (gateway). */
export function register(program: Command): void {
  const audit = program.command("audit").description("audit log");
  audit
    .command("verify")
    .argument("<file>", "audit log (JSONL)")
    .option("--public-key <pem>", "the gateway key the log starts with (SPKI PEM or its certificate); later keys must be handed over to from it; repeat for keys rotated while the gateway was stopped", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--upstream <file>", "the receiver's database, or an export of the audit stream it verified: entries it holds must be in the file")
    .option("--gateway <id>", "with --upstream: the gateway, when the receiver database holds several")
    .option("--fresh", "an empty log is expected (a device that never wrote an entry); it fails otherwise")
    .description("verify the hash chain, the signed checkpoints and the chain of keys; names the first bad entry or the missing ones")
    .action(async (file: string, o: { publicKey: string[]; upstream?: string; gateway?: string; fresh?: boolean }) => {
      const { auditVerifyCommand } = await import("../../commands/gateway/audit-verify.js");
      process.exitCode = auditVerifyCommand(file, o);
    });
}
