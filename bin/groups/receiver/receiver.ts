import type { Command } from "commander";

/** `otgw receiver keygen` (receiver). */
export function register(program: Command): void {
  const receiver = program.command("receiver").description("receiver keys");
  receiver
    .command("keygen")
    .requiredOption("--out <dir>", "directory for receiver.key.pem (0600) and receiver.pub.pem")
    .description("create the receiver's HPKE key pair (P-256); gateways get the public half")
    .action(async (o: { out: string }) => {
      const { receiverKeygen } = await import("../../commands/receiver/receiver.js");
      process.exitCode = receiverKeygen(o.out);
    });
}
