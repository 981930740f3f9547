import type { Command } from "commander";
import { intOption } from "../../options.js";

/** `otgw ingest` and `otgw ingest trace` (receiver). */
export function register(program: Command): void {
  // `otgw ingest --url …` runs the receiver (the default subcommand); `otgw ingest trace ID` inspects
  // its evidence store.
  const ingest = program.command("ingest").description("the verifying receiver");
  ingest
    .command("run", { isDefault: true })
    .description("subscribe, verify, and keep the evidence (the default: `otgw ingest --url …`)")
    .requiredOption("--url <url>", "broker URL, e.g. mqtts://127.0.0.1:8883")
    .requiredOption("--ca <pem>", "CA that signed the broker certificate")
    .requiredOption("--cert <pem>", "receiver client certificate")
    .requiredOption("--key <pem>", "receiver client key")
    .requiredOption("--fleet-ca <pem>", "fleet CA that gateway certificates must chain to")
    .requiredOption("--recipient-key <pem>", "receiver's HPKE private key (P-256, PKCS#8 PEM)")
    .requiredOption("--db <file>", "evidence store (SQLite)")
    .option("--group <name>", "shared subscription group", "otgw-ingest")
    .option("--no-share", "one receiver on a plain persistent subscription (survives a mosquitto restart; see docs/ingest.md)")
    .option("--client-id <id>", "MQTT client id (unique per receiver instance)")
    .option("--crl <pem>", "fleet CRL (from `otgw ca revoke`): revoked gateways are refused")
    .option("--session-expiry <seconds>", "MQTT session expiry of the receiver's persistent session: how long the broker queues for a stopped receiver (docs/ingest.md)", "3600")
    .option("--no-receipts", "send no receipts to the gateways (behave like a receiver from before receipts; gateways must then run with uplink.receipts: off)")
    .addOption(intOption("--max-backlog-days <days>", "refuse session-opens created longer ago than this (CREATED_OUT_OF_RANGE; docs/ingest.md)", { min: 1, max: 3650 }, 7))
    .addOption(intOption("--partitions <P>", "the fleet's partition count (gateways' uplink.partitions): read the partitioned topics otgw/v2/{p}/… (docs/topics.md)", { min: 1, max: 4096 }))
    .action(async (o: import("../../commands/receiver/ingest.js").IngestCliOptions) => {
      const { ingestCommand } = await import("../../commands/receiver/ingest.js");
      process.exitCode = await ingestCommand(o);
    });
  ingest
    .command("trace")
    .argument("<id>", "prediction id (32 hex)")
    .requiredOption("--db <file>", "receiver evidence store (SQLite)")
    .option("--inputs", "list every input record's location")
    .description("show the model and the verified input records behind a prediction, recomputing the input hash")
    .action(async (id: string, o: { db: string; inputs?: boolean }) => {
      const { traceCommand } = await import("../../commands/receiver/trace.js");
      process.exitCode = traceCommand(id, o);
    });
}
