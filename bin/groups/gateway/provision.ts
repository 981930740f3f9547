import type { Command } from "commander";

/** `otgw provision` (gateway; docs/identity.md). */
export function register(program: Command): void {
  program
    .command("provision")
    .requiredOption("--id <gatewayId>", "this gateway's id (CN of its certificate)")
    .requiredOption("--est <url>", "EST server, e.g. https://ca.example.net:8443")
    .option("--ca-fingerprint <sha256>", "fleet CA fingerprint from the fleet operator (trust bootstrap)")
    .option("--est-ca <pem>", "fleet CA certificate file (instead of --ca-fingerprint)")
    .option("--tcti <tcti>", "TPM access", "device:/dev/tpmrm0")
    .requiredOption("--template <config>", "the integrator's config to complete")
    .requiredOption("--out <file>", "config to write (YAML or JSON)")
    .option("--state-dir <dir>", "state directory (default: the template's)")
    .option("--uplink <url>", "broker URL (default: the template's)")
    .option("--uplink-ca <pem>", "CA of the broker's certificate (default: the template's, else the fleet CA)")
    .option("--receiver-key <pem>", "receiver public key (default: the template's)")
    .option("--key-name <name>", "key name", "gateway")
    .description("create the TPM key, attest, enroll over EST and write the config")
    .action(async (o: import("../../commands/gateway/provision.js").ProvisionOptions) => {
      const { provisionCommand } = await import("../../commands/gateway/provision.js");
      process.exitCode = await provisionCommand(o);
    });
}
