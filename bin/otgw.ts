#!/usr/bin/env node
/**
 * `otgw`: the one CLI for integrators, technicians and testers. Each command module is loaded
 * lazily, so `otgw config check` does not pull in MQTT, SQLite or node-opcua.
 */
import { Command } from "commander";
import { GatewayError, errorText } from "../firmware/core/errors.js";

const program = new Command();
program.name("otgw").description("Secure OT-to-cloud edge gateway").showHelpAfterError();

const config = program.command("config").description("gateway configuration");
config
  .command("check")
  .argument("<file>", "gateway config (YAML or JSON)")
  .description("validate a config file; exit 0 when good, non-zero with every problem listed")
  .action(async (file: string) => {
    const { configCheckCommand } = await import("../firmware/config/check.js");
    process.exitCode = configCheckCommand(file);
  });

const audit = program.command("audit").description("audit log");
audit
  .command("verify")
  .argument("<file>", "audit log (JSONL)")
  .option("--public-key <pem>", "gateway public key (SPKI PEM) to check checkpoint signatures against")
  .description("verify the hash chain and signed checkpoints; names the first bad entry")
  .action(async (file: string, o: { publicKey?: string }) => {
    const { auditVerifyCommand } = await import("../firmware/audit/verify-command.js");
    process.exitCode = auditVerifyCommand(file, o.publicKey);
  });

program
  .command("run")
  .requiredOption("-c, --config <file>", "gateway config")
  .description("run the gateway until SIGINT/SIGTERM")
  .action(async (o: { config: string }) => {
    const { runCommand } = await import("./commands/run.js");
    process.exitCode = await runCommand(o.config);
  });

const ingest = program
  .command("ingest")
  .description("the verifying receiver")
  .requiredOption("--url <url>", "broker URL, e.g. mqtts://127.0.0.1:8883")
  .requiredOption("--ca <pem>", "CA that signed the broker certificate")
  .requiredOption("--cert <pem>", "receiver client certificate")
  .requiredOption("--key <pem>", "receiver client key")
  .requiredOption("--fleet-ca <pem>", "fleet CA that gateway certificates must chain to")
  .requiredOption("--recipient-key <pem>", "receiver's HPKE private key (P-256, PKCS#8 PEM)")
  .requiredOption("--db <file>", "evidence store (SQLite)")
  .option("--group <name>", "shared subscription group", "otgw-ingest")
  .option("--client-id <id>", "MQTT client id (unique per receiver instance)")
  .action(async (o: import("./commands/ingest.js").IngestCliOptions) => {
    const { ingestCommand } = await import("./commands/ingest.js");
    process.exitCode = await ingestCommand(o);
  });
void ingest;

const receiver = program.command("receiver").description("receiver keys");
receiver
  .command("keygen")
  .requiredOption("--out <dir>", "directory for receiver.key.pem (0600) and receiver.pub.pem")
  .description("create the receiver's HPKE key pair (P-256); gateways get the public half")
  .action(async (o: { out: string }) => {
    const { receiverKeygen } = await import("./commands/receiver.js");
    process.exitCode = receiverKeygen(o.out);
  });

program
  .command("demo")
  .description("throwaway CA, a locked-down mosquitto, the receiver and a gateway on the simulated plant")
  .option("--messages <n>", "stop after N published messages and print a JSON summary line", (v) => Number.parseInt(v, 10))
  .option("--out <dir>", "working directory for the demo's keys, broker and stores", "demo-out")
  .option("--quiet", "do not print live readings")
  .action(async (o: { messages?: number; out: string; quiet?: boolean }) => {
    const { demoCommand } = await import("./commands/demo.js");
    process.exitCode = await demoCommand(o);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof GatewayError) console.error(`otgw: ${err.message} [${err.code}]`);
  else console.error(`otgw: ${errorText(err)}`);
  process.exitCode = 1;
});
