import { Option, type Command } from "commander";
import { collect, intOption, PORT, POSITIVE } from "../../options.js";

/** `otgw ca init | serve | revoke | list` (fleet; docs/identity.md). */
export function register(program: Command): void {
  const ca = program.command("ca").description("fleet CA and EST server (run by the fleet operator)");
  ca.command("init")
    .requiredOption("--dir <dir>", "directory for the CA (created; never overwritten)")
    .option("--name <cn>", "CA common name", "otgw fleet CA")
    .addOption(intOption("--days <n>", "CA validity in days", POSITIVE, 3650))
    .addOption(intOption("--cert-days <n>", "gateway certificate lifetime in days (short-lived)", POSITIVE, 7))
    .addOption(intOption("--crl-days <n>", "CRL validity in days", POSITIVE, 2))
    .option("--server-name <name>", "DNS name or IP of the EST server (repeatable)", collect, [])
    .option("--ek-root <pem>", "trusted TPM manufacturer root/intermediate certificates (repeatable)", collect, [])
    .addOption(new Option("--quotes <mode>", "boot-state quotes: required (production: no certificate without a quote matching a boot policy) or report (development: checked and recorded)").choices(["required", "report"]).default("report"))
    .description("create the fleet CA, the EST server certificate and an empty CRL")
    .action(async (o: import("../../commands/fleet/ca.js").CaInitCliOptions) => {
      const { caInitCommand } = await import("../../commands/fleet/ca.js");
      process.exitCode = await caInitCommand(o);
    });
  ca.command("serve")
    .requiredOption("--dir <dir>", "fleet CA directory")
    .option("--host <ip>", "listen address", "127.0.0.1")
    .addOption(intOption("--port <n>", "listen port", PORT, 8443))
    .description("run the EST server (RFC 7030 + TPM attestation) until SIGINT/SIGTERM")
    .action(async (o: { dir: string; host: string; port: number }) => {
      const { caServeCommand } = await import("../../commands/fleet/ca.js");
      process.exitCode = await caServeCommand(o);
    });
  ca.command("revoke")
    .argument("<gatewayId>", "gateway to revoke")
    .requiredOption("--dir <dir>", "fleet CA directory")
    .option("--forget", "also free the id for a replacement board")
    .description("revoke every certificate of a gateway and publish the CRL")
    .action(async (id: string, o: { dir: string; forget?: boolean }) => {
      const { caRevokeCommand } = await import("../../commands/fleet/ca.js");
      process.exitCode = await caRevokeCommand(id, o);
    });
  ca.command("list")
    .requiredOption("--dir <dir>", "fleet CA directory")
    .description("the inventory: gateways, EKs, keys, certificates")
    .action(async (o: { dir: string }) => {
      const { caListCommand } = await import("../../commands/fleet/ca.js");
      process.exitCode = caListCommand(o);
    });
}
